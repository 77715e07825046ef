// Git inside the sandbox: the repository and branch, run the tests, commit work in progress,
// squash for publishing. Everything runs through sandboxd, so it works the same in a local dir
// and in a pod. Fetching and pushing are not here: they run in the worker (transfer.ts), away
// from the agent's repository.
import type { PostconditionResult } from '../../workflows/contracts/playbooks.js';
import type { TestResult } from '../../workflows/contracts/task.js';
import { FailureType } from '../../workflows/failures.js';
import { ErrandFailure } from '../../lib/failures/errand-failure.js';
import type { SandboxdClient } from '../sandbox/sandboxd-client.js';
import type { ExecRequest, ExecResponse } from '../sandbox/sandboxd/protocol.js';
import type { GitRemote } from '../../lib/forge/forge.js';
import type { BlobStore } from '../../lib/storage/storage.js';
import { taskKeys } from '../../lib/storage/keys.js';
import { shellQuote } from '../sandbox/sandboxd/shell-quote.js';
import { detectTestCommand } from './test-command.js';
import { fetchIntoSandbox, type RepoLimits } from './transfer.js';

const GIT_AUTHOR = '-c user.name=Errand -c user.email=errand@localhost';
const COMMIT_MESSAGE = '.git/errand-commit-message';

/** Text git keeps as it is: no NUL or other control characters but tab and newline. */
export function commitMessageText(text: string): string {
  const clean = text.replace(/\r\n?/g, '\n').replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '').trim();
  return `${clean || 'Errand change'}\n`;
}

async function run(sandbox: SandboxdClient, cmd: string, what: string, extra: Partial<ExecRequest> = {}): Promise<ExecResponse> {
  const r = await sandbox.exec({ cmd, timeoutMs: 300_000, maxOutputBytes: 64_000, ...extra });
  if (r.exitCode !== 0) throw new Error(`${what} failed (exit ${r.exitCode}): ${(r.stderr || r.stdout).trim().slice(-2000)}`);
  return r;
}

export interface PreparedWorkspace {
  baseSha: string;
  testCommand?: string;
}

/**
 * A new repository in the (emptied) workspace with the base branch, and the task branch when
 * work is to be restored, fetched by the worker and handed over as a bundle; the task branch
 * checked out at the base. The work itself is restored by `restoreWork`, after the setup script
 * has run on the base as the base branch holds it.
 */
export async function prepareWorkspace(
  sandbox: SandboxdClient,
  req: { remote: GitRemote; baseBranch: string; branch: string; testCommand?: string; restoreFrom?: string; limits: RepoLimits },
): Promise<PreparedWorkspace> {
  // A retried attempt starts from an empty workspace. The remote is named for the agent's
  // information only: the sandbox holds no credential for it. (Commands are joined where they
  // can be: each is a confined process of its own.)
  await run(sandbox, `find . -mindepth 1 -maxdepth 1 -exec rm -rf {} + && git init -q && git remote add origin ${shellQuote(req.remote.url)}`, 'creating the repository');
  await fetchIntoSandbox(sandbox, { remote: req.remote, branches: req.restoreFrom ? [req.baseBranch, req.branch] : [req.baseBranch], limits: req.limits });
  const origin = (b: string) => shellQuote(`refs/remotes/origin/${b}`);
  const baseSha = (
    await run(
      sandbox,
      `git checkout -q -B ${shellQuote(req.baseBranch)} ${origin(req.baseBranch)} && git checkout -q -B ${shellQuote(req.branch)} && git rev-parse HEAD`,
      'creating the task branch',
    )
  ).stdout.trim();
  // Work restored from the task branch has its base where it left the base branch (which may
  // have moved on since), so squashing never reverts anything newer.
  const base = req.restoreFrom
    ? (await run(sandbox, `git merge-base ${shellQuote(req.restoreFrom)} ${shellQuote(baseSha)}`, 'finding where the branch left its base')).stdout.trim()
    : baseSha;
  let testCommand = req.testCommand;
  if (!testCommand) {
    const files = (await sandbox.list({ path: '.' })).entries.map((e) => e.name);
    const read = async (f: string) => (files.includes(f) ? (await sandbox.readFile({ path: f })).content : undefined);
    testCommand = detectTestCommand(files, await read('package.json'), await read('Makefile'));
  }
  return { baseSha: base, testCommand };
}

/**
 * Puts the work back: the workspace at `restoreFrom`, a ref fetched by prepareWorkspace (none:
 * it stays at the base). Returns the commit it is at.
 */
export async function restoreWork(sandbox: SandboxdClient, restoreFrom?: string): Promise<string> {
  const reset = restoreFrom ? `git reset -q --hard ${shellQuote(restoreFrom)} && ` : '';
  return (await run(sandbox, `${reset}git rev-parse HEAD`, restoreFrom ? `restoring ${restoreFrom}` : 'reading the restored commit')).stdout.trim();
}

export async function runTests(
  sandbox: SandboxdClient,
  store: BlobStore,
  req: { taskId: string; command: string },
): Promise<TestResult> {
  const r = await sandbox.exec({ cmd: req.command, timeoutMs: 900_000, maxOutputBytes: 400_000 });
  const log = `$ ${req.command}\n${r.stdout}\n${r.stderr}`;
  const logKey = taskKeys(req.taskId).log('test');
  await store.put(logKey, log);
  return { command: req.command, exitCode: r.exitCode ?? -1, passed: r.exitCode === 0, outputTail: log.slice(-2000), logKey };
}

/**
 * The playbook's postconditions, each run by Errand (not the agent) in the workspace as the
 * agent left it; all run, so the agent hears every failure at once. The full output is one log.
 */
export async function runPostconditions(sandbox: SandboxdClient, store: BlobStore, req: { taskId: string; commands: string[] }): Promise<PostconditionResult[]> {
  const results: PostconditionResult[] = [];
  const log: string[] = [];
  for (const command of req.commands) {
    const r = await sandbox.exec({ cmd: command, timeoutMs: 900_000, maxOutputBytes: 200_000 });
    const output = `$ ${command}\n${r.stdout}\n${r.stderr}`;
    log.push(output, `(exit ${r.exitCode ?? -1})`);
    results.push({ command, passed: r.exitCode === 0, exitCode: r.exitCode ?? -1, outputTail: output.slice(-1000) });
  }
  await store.put(taskKeys(req.taskId).log('postconditions'), log.join('\n'));
  return results;
}

/** Commits whatever changed as work in progress; returns HEAD (the agent's own commits count too). */
export async function commitWorkInProgress(sandbox: SandboxdClient, req: { step: number }): Promise<string> {
  // One command, not four: each is a confined process of its own.
  const message = shellQuote(`errand: work in progress after step ${req.step}`);
  const r = await run(sandbox, `git add -A && { git diff --cached --quiet || git ${GIT_AUTHOR} commit -q --no-verify -m ${message}; } && git rev-parse HEAD`, 'committing a checkpoint');
  return r.stdout.trim();
}

/** What the squash script exits with when nothing changed. */
const NOTHING_STAGED = 3;

/**
 * The final commit: the checkpoints squashed into one commit on the base, with a
 * Co-authored-by trailer for the person who asked. Returns its sha; the push follows.
 */
export async function squashForPublishing(sandbox: SandboxdClient, req: { baseSha: string; message: string; coAuthor?: string }): Promise<string> {
  const message = req.coAuthor ? `${req.message}\n\nCo-authored-by: ${req.coAuthor}` : req.message;
  // Through a file, not the command line: a message may hold anything a person or model wrote.
  await sandbox.writeFile({ path: COMMIT_MESSAGE, content: commitMessageText(message) });
  const r = await sandbox.exec({
    cmd: [
      `git add -A && git reset -q --soft ${shellQuote(req.baseSha)} || exit $?`,
      `if git diff --cached --quiet; then rm -f ${COMMIT_MESSAGE}; exit ${NOTHING_STAGED}; fi`,
      `git ${GIT_AUTHOR} commit -q --no-verify --cleanup=verbatim -F ${COMMIT_MESSAGE}; status=$?; rm -f ${COMMIT_MESSAGE}; [ $status = 0 ] || exit $status`,
      'git rev-parse HEAD',
    ].join('\n'),
    timeoutMs: 300_000,
    maxOutputBytes: 64_000,
  });
  if (r.exitCode === NOTHING_STAGED) {
    throw ErrandFailure.permanent(FailureType.NoChanges, 'the agent made no changes, so there is nothing to open a pull request for');
  }
  if (r.exitCode !== 0) throw new Error(`committing failed (exit ${r.exitCode}): ${(r.stderr || r.stdout).trim().slice(-2000)}`);
  return r.stdout.trim();
}

/** The diff of the task branch against its base, as the sandbox has it now (committed work). */
export async function branchDiff(sandbox: SandboxdClient, baseSha: string): Promise<string> {
  const r = await sandbox.exec({ cmd: `git diff --no-renames --no-ext-diff --no-textconv --text ${shellQuote(baseSha)} HEAD`, timeoutMs: 120_000, maxOutputBytes: 10_000_000 });
  if (r.exitCode !== 0) throw new Error(`git diff failed: ${r.stderr.trim().slice(-500)}`);
  return r.stdout;
}
