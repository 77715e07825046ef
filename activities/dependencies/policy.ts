// Which update each dependency gets, and which pull request it goes out in: the newest version
// within the policy (patch, minor or major; allowed and not denied; released long enough ago),
// then the updates grouped (all in one, one per package, or named groups). Pure.
import { createHash } from 'node:crypto';
import picomatch from 'picomatch';
import semver from 'semver';
import type { BumpedPackage, DependencyGroup } from '../../workflows/contracts/playbooks.js';
import type { BumpPolicy, BumpSettings, NamedGroup } from '../../lib/playbooks/dependency-bump-settings.js';

export interface PublishedVersion {
  version: string;
  /** When the registry says it was published; unknown versions never pass a minimum age. */
  time?: Date;
  deprecated?: boolean;
}

/** Whether the policy's allow and deny lists let `name` be updated at all. */
export function isAllowed(name: string, policy: Pick<BumpPolicy, 'allow' | 'deny'>): boolean {
  if (policy.deny.length && picomatch(policy.deny)(name)) return false;
  return !policy.allow.length || picomatch(policy.allow)(name);
}

/**
 * The newest version `current` may go to under `policy` at `now`, and what kind of update it
 * is; undefined when there is none. Pre-releases and deprecated versions are never chosen; Go's
 * `v` prefix is kept as it came.
 */
export function chooseUpdate(current: string, versions: PublishedVersion[], policy: BumpPolicy, now: Date): { to: string; kind: BumpedPackage['kind'] } | undefined {
  const from = semver.valid(semver.clean(current) ?? current);
  if (!from || semver.prerelease(from)) return undefined; // a pseudo-version or a pre-release: a person chose it
  const oldest = now.getTime() - policy.minReleaseAgeDays * 86_400_000;
  // Go writes `v1.2.3`, npm `1.2.3`; a version written any other way (which semver would clean
  // up) is not taken: the string goes into a command and a PR as the registry gave it.
  const written = (v: string) => (current.startsWith('v') ? `v${v}` : v);
  let best: { to: string; version: string } | undefined;
  for (const candidate of versions) {
    const v = semver.valid(semver.clean(candidate.version) ?? candidate.version);
    if (!v || candidate.version !== written(v) || semver.prerelease(v) || candidate.deprecated || !semver.gt(v, from)) continue;
    if (policy.update === 'patch' && (semver.major(v) !== semver.major(from) || semver.minor(v) !== semver.minor(from))) continue;
    if (policy.update === 'minor' && semver.major(v) !== semver.major(from)) continue;
    if (policy.minReleaseAgeDays > 0 && (!candidate.time || candidate.time.getTime() > oldest)) continue;
    if (!best || semver.gt(v, best.version)) best = { to: candidate.version, version: v };
  }
  if (!best) return undefined;
  const diff = semver.diff(from, best.version);
  return { to: best.to, kind: diff === 'major' ? 'major' : diff === 'minor' ? 'minor' : 'patch' };
}

/**
 * The pull requests the updates go out in: a package in a named group goes there (the first
 * that matches); the rest all together (`all`) or one per package (`each`). Ordered by name.
 */
export function groupUpdates(updates: BumpedPackage[], grouping: 'all' | 'each', named: NamedGroup[]): DependencyGroup[] {
  const groups = new Map<string, BumpedPackage[]>();
  const add = (name: string, p: BumpedPackage) => groups.set(name, [...(groups.get(name) ?? []), p]);
  for (const p of updates) {
    const group = named.find((g) => picomatch(g.patterns)(p.name));
    add(group?.name ?? (grouping === 'all' ? 'all' : slug(p.name)), p);
  }
  return [...groups.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([name, packages]) => ({ name, packages: packages.sort((a, b) => a.name.localeCompare(b.name)) }));
}

/** A package name as a branch-safe group name: `@types/node` → `types-node`. */
export function slug(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 60) || 'package';
}

/**
 * The branch a group's pull request lives on: the same every run of one policy, so its open PR is
 * updated in place, and another for every other policy (a weekly major bump and an ad-hoc minor
 * one of the same repository each keep their own PR): `errand-deps/<update>-<digest>/<group>`,
 * the digest taken over everything that decides which updates a run makes.
 */
export function groupBranch(group: string, settings: BumpSettings): string {
  const { update, allow, deny, minReleaseAgeDays } = settings.policy;
  const sorted = (xs: string[]) => [...xs].sort();
  const decides = {
    update,
    allow: sorted(allow),
    deny: sorted(deny),
    minReleaseAgeDays,
    grouping: settings.grouping,
    named: [...settings.named].sort((a, b) => a.name.localeCompare(b.name)).map((g) => [g.name, sorted(g.patterns)]),
  };
  const digest = createHash('sha256').update(JSON.stringify(decides)).digest('hex').slice(0, 8);
  return `errand-deps/${update}-${digest}/${group}`;
}
