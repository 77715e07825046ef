// Git data between the worker and a sandbox, both ways, as bundles (plain data): the worker
// fetches and pushes with the forge's credentials from a scratch repository of its own, and the
// sandbox only ever sees bundle files. The agent controls the sandbox's repository (hooks,
// config, remotes), so no forge credential, and no path of the worker's, ever goes near it.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FailureType } from '../../workflows/failures.js';
import { parseRawChanges, type BranchChange, type PushRefusal } from '../review/checks.js';
import { ErrandFailure } from '../../lib/failures/errand-failure.js';
import type { GitRemote } from '../../lib/forge/forge.js';
import type { SandboxdClient } from '../sandbox/sandboxd-client.js';
import { shellQuote } from '../sandbox/sandboxd/shell-quote.js';
import { copyOut, writeWhole } from '../sandbox/file-transfer.js';
import { execFile as run } from '../../lib/process/exec-file.js';

const PUSH_BUNDLE = '.git/errand-push.bundle';
const INCOMING = '.git/errand-incoming';

/**
 * What a branch may check out to: files and directories, bytes in all, bytes in one file. A
 * few KB of objects can check out to a million files (or one blob to gigabytes); the tree is
 * measured from the objects, before a sandbox gets it and before a push.
 */
export interface RepoLimits {
  maxEntries: number;
  maxBytes: number;
  maxFileBytes: number;
}

/** The defaults: most monorepos fit (Linux has ~90,000 files); one file as large as GitHub takes. */
export const DEFAULT_REPO_LIMITS: RepoLimits = { maxEntries: 250_000, maxBytes: 4_096 * 2 ** 20, maxFileBytes: 100 * 2 ** 20 };

export interface PushRequest {
  branch: string;
  baseSha: string;
  remote: GitRemote;
  limits: RepoLimits;
  /**
   * Reads the change as it would be pushed and says why it may not be, if it may not. The
   * change is read here, by the worker's git from the bundle's objects: the sandbox's git (its
   * config, its attributes, a diff driver) is the agent's, so nothing it says is what gets
   * checked. Its paths come NUL-separated, as git stores them, never quoted.
   */
  vet: (change: BranchChange) => PushRefusal | undefined;
}

/** HEAD of the sandbox's repository, pushed to `branch` on the remote unless `vet` refused it; with the diff that was vetted. */
export async function pushFromSandbox(sandbox: SandboxdClient, req: PushRequest): Promise<{ head: string; diff: string; refused?: PushRefusal }> {
  const bundled = await sandbox.exec({ cmd: `git bundle create -q ${PUSH_BUNDLE} HEAD ^${shellQuote(req.baseSha)} && git rev-parse HEAD && wc -c < ${PUSH_BUNDLE}`, timeoutMs: 300_000 });
  if (bundled.exitCode !== 0) throw new Error(`git bundle failed: ${bundled.stderr.trim().slice(-500)}`);
  const [head = '', bundleBytes] = bundled.stdout.trim().split('\n');
  try {
    // Compressed objects are never more than what they check out to, plus a little.
    if (Number(bundleBytes) > req.limits.maxBytes + 1_000_000) {
      return { head, diff: '', refused: { type: FailureType.RepoTooLarge, message: `the change is ${megabytes(Number(bundleBytes))} of git objects, more than the ${megabytes(req.limits.maxBytes)} a branch may check out to (ERRAND_REPO_MAX_MB)` } };
    }
    return await inScratch(async (git, scratch) => {
      const bundle = path.join(scratch, 'branch.bundle');
      await copyOut(sandbox, PUSH_BUNDLE, bundle);
      // The bundle's prerequisite is the base commit, which the remote has.
      await git(['fetch', '-q', '--depth=1', req.remote.url, req.baseSha], 'fetching the base commit', req.remote.env, pushFailure);
      await git(['fetch', '-q', bundle, `HEAD:refs/heads/${req.branch}`], 'reading the bundle');
      const tooLarge = await exceeds(git, `refs/heads/${req.branch}`, req.limits, 'the branch');
      if (tooLarge) return { head, diff: '', refused: { type: FailureType.RepoTooLarge, message: tooLarge } };
      const range = [req.baseSha, `refs/heads/${req.branch}`];
      const diff = await git(['diff', '--no-renames', '--no-ext-diff', '--no-textconv', '--text', ...range], 'reading the change');
      const paths = parseRawChanges(await git(['diff', '--raw', '-z', '--no-renames', '--no-abbrev', ...range], 'listing the paths the change touches'));
      const refused = req.vet({ diff, paths });
      if (refused) return { head, diff, refused };
      await git(['push', '-q', '--force', req.remote.url, `refs/heads/${req.branch}:refs/heads/${req.branch}`], `pushing ${req.branch}`, req.remote.env, pushFailure);
      return { head, diff };
    });
  } finally {
    await sandbox.exec({ cmd: `rm -f ${PUSH_BUNDLE}`, timeoutMs: 60_000 }).catch(() => undefined);
  }
}

/**
 * Brings `branches` of the remote into the sandbox's (already initialised) repository as
 * `refs/remotes/origin/<branch>`: fetched here, handed over as a bundle. A branch the remote
 * does not have fails the call, non-retryably.
 */
export async function fetchIntoSandbox(sandbox: SandboxdClient, req: { remote: GitRemote; branches: string[]; limits: RepoLimits }): Promise<void> {
  await inScratch(async (git, scratch) => {
    const refspecs = req.branches.map((b) => `+refs/heads/${b}:refs/heads/${b}`);
    await git(['fetch', '-q', '--no-tags', req.remote.url, ...refspecs], `fetching ${req.branches.join(', ')} from ${req.remote.url}`, req.remote.env, (message) =>
      ErrandFailure.permanent(FailureType.RepoUnavailable, `cannot fetch ${req.branches.join(' and ')} from ${req.remote.url}: ${message}`),
    );
    for (const branch of req.branches) {
      const tooLarge = await exceeds(git, `refs/heads/${branch}`, req.limits, `${branch} of ${req.remote.url}`);
      if (tooLarge) throw ErrandFailure.permanent(FailureType.RepoTooLarge, `${tooLarge}; nothing was checked out`);
    }
    const bundle = path.join(scratch, 'incoming.bundle');
    await git(['bundle', 'create', '-q', bundle, ...req.branches.map((b) => `refs/heads/${b}`)], 'bundling the fetched branches');
    await writeWhole(sandbox, bundle, INCOMING);
  });
  const fetched = await sandbox.exec({
    cmd: `cat ${INCOMING}.part-* > ${INCOMING}.bundle && git fetch -q --no-tags ${INCOMING}.bundle 'refs/heads/*:refs/remotes/origin/*'; status=$?; rm -f ${INCOMING}.*; exit $status`,
    timeoutMs: 600_000,
    maxOutputBytes: 64_000,
  });
  if (fetched.exitCode !== 0) throw new Error(`reading the bundle in the sandbox failed: ${(fetched.stderr || fetched.stdout).trim().slice(-1000)}`);
}

/**
 * Why `ref`'s tree may not be checked out (too many entries, bytes, or too large a file), if it
 * may not. Read from the objects alone: the entries listed by type (cheap, so a tree of
 * millions says so at once), then each distinct blob's size asked once (a million entries may
 * share one blob; asking git for every entry's size costs seconds).
 */
async function exceeds(git: Git, ref: string, limits: RepoLimits, what: string): Promise<string | undefined> {
  const tooMany = (count: string) => `${what} checks out to ${count} files and directories, more than the ${limits.maxEntries} ERRAND_REPO_MAX_FILES allows`;
  const entries = await git(['ls-tree', '-r', '-t', '--format=%(objecttype)', ref], `measuring ${what}`).then(
    (listing) => listing.split('\n').length - 1,
    (err: Error) => {
      // More lines than the buffer takes: tens of millions.
      if (/maxBuffer/i.test(err.message)) return Infinity;
      throw err;
    },
  );
  if (entries > limits.maxEntries) return tooMany(entries === Infinity ? 'millions of' : String(entries));
  const uses = new Map<string, number>();
  for (const line of (await git(['ls-tree', '-r', '--format=%(objecttype) %(objectname)', ref], `listing the files of ${what}`)).split('\n')) {
    if (line.startsWith('blob ')) uses.set(line.slice(5), (uses.get(line.slice(5)) ?? 0) + 1);
  }
  const sizes = (await git(['cat-file', '--batch-check=%(objectsize)'], `measuring the files of ${what}`, {}, undefined, [...uses.keys()].join('\n') + '\n')).split('\n');
  let bytes = 0;
  let largest = 0;
  [...uses.values()].forEach((count, i) => {
    const size = Number(sizes[i]) || 0;
    bytes += size * count;
    largest = Math.max(largest, size);
  });
  if (largest > limits.maxFileBytes) return `${what} holds a file of ${megabytes(largest)}, more than the ${megabytes(limits.maxFileBytes)} ERRAND_REPO_MAX_FILE_MB allows`;
  if (bytes > limits.maxBytes) return `${what} checks out to ${megabytes(bytes)}, more than the ${megabytes(limits.maxBytes)} ERRAND_REPO_MAX_MB allows`;
  return undefined;
}

const megabytes = (bytes: number) => `${Math.ceil(bytes / 2 ** 20)} MB`;

/** Runs git in the scratch repository (`input` on its stdin); resolves to its stdout. */
type Git = (args: string[], what: string, env?: Record<string, string>, fail?: (message: string) => Error, input?: string) => Promise<string>;

/** Runs `work` with a bare scratch repository of the worker's own, removed afterwards. */
async function inScratch<T>(work: (git: Git, scratch: string) => Promise<T>): Promise<T> {
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'errand-git-'));
  const repo = path.join(scratch, 'repo.git');
  const git: Git = (args, what, env = {}, fail = (m) => new Error(m), input) =>
    // The scratch repository lives for one transfer: no automatic maintenance after each fetch
    // (a process of its own every time, for nothing).
    run('git', ['-C', repo, '-c', 'maintenance.auto=false', '-c', 'gc.auto=0', ...args], { env: { ...process.env, ...env, GIT_TERMINAL_PROMPT: '0' }, maxBuffer: 64 * 1024 * 1024, input }).then(
      (r) => r.stdout,
      (err: Error & { stderr?: string }) => {
        throw fail(`${what} failed: ${(err.stderr ?? err.message).trim().slice(-1000)}`);
      },
    );
  try {
    await run('git', ['init', '-q', '--bare', repo]);
    return await work(git, scratch);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** Rejections the forge makes (no permission, branch protected) are not fixed by retrying. */
function pushFailure(message: string): Error {
  const rejected = /(403|denied|forbidden|protected branch|not allowed|authentication failed|could not read Username)/i.test(message);
  return rejected ? ErrandFailure.permanent(FailureType.PushRejected, message) : new Error(message);
}
