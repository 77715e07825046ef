// The dependency-bump playbook's parameters, read as what they say: the update policy (how far
// an update may go, which packages, how old a release must be), how the updates are grouped into
// pull requests, and what a failure leaves. The API checks them before a run starts (a named
// group that does not parse is a 400); the run's activities (activities/dependencies/) apply
// them. Pure.

export const UPDATE_LEVELS = ['patch', 'minor', 'major'] as const;

export interface BumpPolicy {
  /** How far an update may go: within the minor (`patch`), the major (`minor`), or anywhere. */
  update: (typeof UPDATE_LEVELS)[number];
  /** Package name globs: only these (none: all). */
  allow: string[];
  /** Package name globs: never these. */
  deny: string[];
  /** A version younger than this (by its publish time in the registry) is not taken yet. */
  minReleaseAgeDays: number;
}

export interface NamedGroup {
  name: string;
  patterns: string[];
}

/**
 * Reads named groups as the playbook's parameter gives them: `name=glob,glob` per entry, e.g.
 * `react=react,react-dom,@types/react*`. Returns what is wrong with an entry as an error.
 */
export function parseNamedGroups(entries: string[]): NamedGroup[] {
  return entries.map((entry) => {
    const m = /^([a-z0-9][a-z0-9-]{0,40})=(.+)$/.exec(entry.trim());
    if (!m) throw new Error(`"${entry}" is not a group: write name=glob,glob (a name of lower-case letters, digits and dashes)`);
    return { name: m[1]!, patterns: m[2]!.split(',').map((p) => p.trim()).filter(Boolean) };
  });
}

/** The dependency-bump playbook's parameters, as the policy and grouping they say. */
export interface BumpSettings {
  policy: BumpPolicy;
  grouping: 'all' | 'each';
  named: NamedGroup[];
  onFailure: 'draft' | 'none';
}

/** Reads the playbook's (already type-checked) parameters; a named group that does not parse throws, naming it. */
export function bumpSettings(params: Record<string, unknown>): BumpSettings {
  const list = (v: unknown) => (Array.isArray(v) ? v.map(String) : []);
  return {
    policy: {
      update: (UPDATE_LEVELS as readonly string[]).includes(String(params.update)) ? (params.update as BumpPolicy['update']) : 'minor',
      allow: list(params.allow),
      deny: list(params.deny),
      minReleaseAgeDays: typeof params.minReleaseAgeDays === 'number' ? params.minReleaseAgeDays : 0,
    },
    grouping: params.grouping === 'each' ? 'each' : 'all',
    named: parseNamedGroups(list(params.groups)),
    onFailure: params.onFailure === 'none' ? 'none' : 'draft',
  };
}
