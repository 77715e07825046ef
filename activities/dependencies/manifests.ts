// What a repository depends on, read from its files at the root: the package manager its
// lockfile names (npm, pnpm, yarn; Go modules from go.mod), each direct dependency, and the
// version it is locked at. The files are the repository's, so names that are not package
// names are left out rather than sent anywhere. Pure.
import semver from 'semver';
import { parse as parseYaml } from 'yaml';
import type { BumpedPackage } from '../../workflows/contracts/playbooks.js';

export type Manager = BumpedPackage['manager'];

/** The files a manager is known by, in the order they are looked for. */
export const LOCKFILES: Record<Exclude<Manager, 'go'>, string> = { pnpm: 'pnpm-lock.yaml', yarn: 'yarn.lock', npm: 'package-lock.json' };
export const MANIFEST_FILES = ['package.json', ...Object.values(LOCKFILES), 'go.mod'];

export interface Dependency {
  name: string;
  manager: Manager;
  /** The version installed now: the lockfile's, else the lowest the range allows. */
  current: string;
  dev?: boolean;
  prefix?: string;
}

/** npm's rules for a package name, scoped or not. */
const NPM_NAME = /^(?:@[a-z0-9-~][a-z0-9-._~]*\/)?[a-z0-9-~][a-z0-9-._~]*$/;
/** A Go module path: letters, digits and `-._~/`, no `..`, no leading dash. */
const GO_MODULE = /^(?!-)(?!.*\.\.)[A-Za-z0-9.\-_~]+(?:\/[A-Za-z0-9.\-_~]+)*$/;

/** The npm-family manager a repository uses, from its lockfile; npm when there is only package.json. */
export function detectNodeManager(files: Record<string, string | undefined>): Exclude<Manager, 'go'> | undefined {
  if (files['package.json'] === undefined) return undefined;
  for (const [manager, lockfile] of Object.entries(LOCKFILES) as [Exclude<Manager, 'go'>, string][]) {
    if (files[lockfile] !== undefined) return manager;
  }
  return 'npm';
}

/** Direct npm-family dependencies: registry ranges only (not git, file, workspace or alias ones). */
export function nodeDependencies(files: Record<string, string | undefined>): Dependency[] {
  const manager = detectNodeManager(files);
  if (!manager) return [];
  const pkg = JSON.parse(files['package.json']!) as { dependencies?: Record<string, string>; devDependencies?: Record<string, string> };
  const locked = lockedVersions(manager, files[LOCKFILES[manager]]);
  const out: Dependency[] = [];
  for (const [section, dev] of [['dependencies', false], ['devDependencies', true]] as const) {
    for (const [name, range] of Object.entries(pkg[section] ?? {})) {
      if (!NPM_NAME.test(name) || typeof range !== 'string' || !semver.validRange(range)) continue;
      const current = locked.get(name) ?? semver.minVersion(range)?.version;
      if (!current) continue;
      const prefix = /^\s*([~^]?)\d/.exec(range)?.[1];
      if (prefix === undefined) continue; // `>=1 <3`, `*`, `1.x`: a person wrote a rule; leave it
      out.push({ name, manager, current, prefix, ...(dev && { dev }) });
    }
  }
  return out;
}

/** The versions the lockfile has for direct dependencies; empty when it cannot be read. */
function lockedVersions(manager: Exclude<Manager, 'go'>, lockfile: string | undefined): Map<string, string> {
  const versions = new Map<string, string>();
  if (!lockfile) return versions;
  try {
    if (manager === 'npm') {
      const lock = JSON.parse(lockfile) as { packages?: Record<string, { version?: string }>; dependencies?: Record<string, { version?: string }> };
      for (const [key, entry] of Object.entries(lock.packages ?? {})) {
        const name = /^node_modules\/((?:@[^/]+\/)?[^/]+)$/.exec(key)?.[1];
        if (name && entry.version) versions.set(name, entry.version);
      }
      for (const [name, entry] of Object.entries(lock.dependencies ?? {})) if (!versions.has(name) && entry.version) versions.set(name, entry.version);
    } else if (manager === 'pnpm') {
      const lock = parseYaml(lockfile) as { importers?: Record<string, Record<string, Record<string, { version?: string }>>>; dependencies?: Record<string, string | { version?: string }> };
      const root = lock.importers?.['.'] ?? { dependencies: lock.dependencies as never };
      for (const section of ['dependencies', 'devDependencies'] as const) {
        for (const [name, entry] of Object.entries(root[section] ?? {})) {
          const version = (typeof entry === 'string' ? entry : entry.version)?.replace(/\(.*$/, '');
          if (version && semver.valid(version)) versions.set(name, version);
        }
      }
    } else {
      // yarn v1: `"name@range", name@range:` then `  version "x"`; berry: `version: x`.
      for (const block of lockfile.split(/\n(?=\S)/)) {
        const header = /^"?((?:@[^@/\s"]+\/)?[^@\s"]+)@/.exec(block)?.[1];
        const version = /^\s+version:?\s+"?([^"\s]+)"?/m.exec(block)?.[1];
        if (header && version && !versions.has(header)) versions.set(header, version);
      }
    }
  } catch {
    // an unreadable lockfile: the ranges stand in for it
  }
  return versions;
}

/** Direct requirements of go.mod (not `// indirect`, not replaced). */
export function goDependencies(goMod: string | undefined): Dependency[] {
  if (!goMod) return [];
  const replaced = new Set([...goMod.matchAll(/^\s*(?:replace\s+)?(\S+)(?:\s+\S+)?\s+=>/gm)].map((m) => m[1]!));
  const lines: string[] = [];
  for (const block of goMod.matchAll(/^require\s*\(([\s\S]*?)^\)/gm)) lines.push(...block[1]!.split('\n'));
  for (const single of goMod.matchAll(/^require\s+([^(\s].*)$/gm)) lines.push(single[1]!);
  const out: Dependency[] = [];
  for (const line of lines) {
    if (/\/\/\s*indirect/.test(line)) continue;
    const m = /^\s*(\S+)\s+(v\S+)/.exec(line);
    if (!m || !GO_MODULE.test(m[1]!) || replaced.has(m[1]!)) continue;
    out.push({ name: m[1]!, manager: 'go', current: m[2]! });
  }
  return out;
}
