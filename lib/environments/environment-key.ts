// What decides a repository's environment after setup, and so the key its snapshot is kept
// under: the repository and base branch, the setup (the command and the script's content), the
// files the setup reads (lockfiles by default; `.errand/sandbox.json` may list its own), the
// sandbox image, whether setup had the network, and the snapshot format. Two tasks with one key
// start from the same environment; anything else misses. Pure.
import { createHash } from 'node:crypto';

/** Bumped when what a snapshot holds or how it is laid out changes: older ones then miss. */
export const SNAPSHOT_FORMAT = 1;

/** What the setup of most ecosystems installs from, looked for anywhere in the repository. */
export const DEFAULT_INPUTS = [
  '**/package-lock.json',
  '**/npm-shrinkwrap.json',
  '**/yarn.lock',
  '**/pnpm-lock.yaml',
  '**/bun.lock',
  '**/go.sum',
  '**/Cargo.lock',
  '**/poetry.lock',
  '**/uv.lock',
  '**/Pipfile.lock',
  '**/requirements*.txt',
  '**/Gemfile.lock',
  '**/composer.lock',
];

export interface EnvironmentInputs {
  repo: string;
  baseBranch: string;
  /** The setup command as it runs (the task's script, or `bash .errand/setup.sh`). */
  setup: string;
  /** Each input file as git stores it at the base commit (its blob id), the setup script's included. */
  files: { path: string; blob: string }[];
  /** The patterns the files were chosen by (a change of patterns is a change of key). */
  patterns: string[];
  image: string;
  setupNetwork: boolean;
  format: number;
}

export function environmentKey(inputs: EnvironmentInputs): string {
  const canonical = { ...inputs, files: [...inputs.files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)) };
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex').slice(0, 40);
}

/** Where a repository's snapshots live in the store: by a hash of its name, which may be a path. */
export function repoFolder(repo: string): string {
  return `environments/${createHash('sha256').update(repo).digest('hex').slice(0, 24)}`;
}
