// What a task run from a playbook carries: which playbook, with what, and what Errand enforces
// (postconditions, forbidden paths and commands); and the change a dependency bump prepares
// before any agent step. Part of the contract: imports nothing.

/** What a task run from a playbook carries of it: which one, with what, and what Errand enforces. */
export interface PlaybookRun {
  name: string;
  version: number;
  /** `built-in`, or the file in the repository it was read from. */
  source: string;
  params: Record<string, unknown>;
  /** Commands Errand runs in the sandbox before publishing; each must exit 0. Values already shell-quoted. */
  postconditions: string[];
  forbidden: { paths: string[]; commands: string[] };
}

/** A postcondition as it last ran. */
export interface PostconditionResult {
  command: string;
  passed: boolean;
  exitCode: number;
  outputTail: string;
}

/** A change made by a command, not a model: run after the repository's setup, with the setup's network. */
export interface PreparedChange {
  command: string;
  /** Its environment: where the registries are. */
  env: Record<string, string>;
  /** What it did, for the pull request (a table of packages). */
  summary: string;
  /** When the command or the tests fail, the agent makes the code work with it (a model is configured). */
  agent: boolean;
  /** When they still fail (at once without an agent, or after its rounds): a draft PR that says what broke, or no PR. */
  onFailure: 'draft' | 'none';
}

/** A dependency update within policy: a package, the version it is at, and the one it goes to. */
export interface BumpedPackage {
  name: string;
  manager: 'npm' | 'pnpm' | 'yarn' | 'go';
  from: string;
  to: string;
  kind: 'patch' | 'minor' | 'major';
  /** A development dependency (devDependencies), kept one. */
  dev?: boolean;
  /** How the manifest pins it: `^`, `~` or '' (exact); npm family only. */
  prefix?: string;
  /** Where its release notes are, when the registry names a repository. */
  notes?: string;
}

/** Updates that go out as one pull request, on the group's own branch. */
export interface DependencyGroup {
  name: string;
  packages: BumpedPackage[];
}

/** A playbook's instructions, with what the person who asked added (a task's or campaign's prompt). */
export function playbookPrompt(instructions: string, added?: string): string {
  return added ? `${instructions}\n\nAlso, from the person who asked:\n${added}` : instructions;
}
