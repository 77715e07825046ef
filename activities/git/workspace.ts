// Git inside the sandbox: clone and branch, run the tests, commit work in progress, squash for
// publishing. Everything runs through sandboxd, so it works the same in a local dir and in a
// pod. Pushing is not here: it runs in the worker (push.ts), away from the agent's repository.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType, type TestResult } from '../../workflows/contracts.js';
import type { SandboxdClient } from '../sandbox/sandboxd-client.js';
import type { ExecRequest, ExecResponse } from '../sandbox/sandboxd-protocol.js';
import type { GitRemote } from '../forge/forge.js';
import type { ArtifactStore } from '../store/artifact-store.js';
import { detectTestCommand } from './test-command.js';

const GIT_AUTHOR = '-c user.name=Errand -c user.email=errand@localhost';

export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The origin's path on this host when the repo is local (a path or file:// URL). */
export function localRepoPath(repo: string): string | undefined {
  if (repo.startsWith('file://')) return fileURLToPath(repo);
  return path.isAbsolute(repo) ? repo : undefined;
}

/**
 * Errand's own fetches (clone, restore) reach the git host whatever the task's network policy
 * says, with the forge's read credentials for that one command, and may read a local origin
 * that the sandbox otherwise hides; the agent's commands get none of this.
 */
function fetchAccess(remote: GitRemote): Partial<ExecRequest> {
  const local = localRepoPath(remote.url);
  return { network: true, env: remote.env, ...(local ? { readable: [local] } : {}) };
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

export async function prepareWorkspace(
  sandbox: SandboxdClient,
  req: { remote: GitRemote; baseBranch: string; branch: string; testCommand?: string; restoreFrom?: string },
): Promise<PreparedWorkspace> {
  // A retried attempt starts from an empty workspace.
  await run(sandbox, 'find . -mindepth 1 -maxdepth 1 -exec rm -rf {} +', 'clearing the workspace');
  const clone = await sandbox.exec({
    cmd: `git clone --no-tags --branch ${shellQuote(req.baseBranch)} -- ${shellQuote(req.remote.url)} .`,
    timeoutMs: 600_000,
    maxOutputBytes: 64_000,
    ...fetchAccess(req.remote),
  });
  if (clone.exitCode !== 0) {
    throw ApplicationFailure.nonRetryable(
      `cannot clone ${req.remote.url} at ${req.baseBranch}: ${clone.stderr.trim().slice(-1000)}`,
      FailureType.RepoUnavailable,
    );
  }
  const baseSha = (await run(sandbox, 'git rev-parse HEAD', 'reading the base commit')).stdout.trim();
  await run(sandbox, `git checkout -q -B ${shellQuote(req.branch)}`, 'creating the task branch');
  let base = baseSha;
  if (req.restoreFrom) {
    // A replacement sandbox, or another round on an existing branch: the work comes back from
    // the last commit pushed to the task branch, and its base is where it left the base branch
    // (which may have moved on since), so squashing never reverts anything newer.
    await run(sandbox, `git fetch -q origin ${shellQuote(`+refs/heads/${req.branch}:refs/remotes/origin/${req.branch}`)}`, 'fetching the task branch', fetchAccess(req.remote));
    await run(sandbox, `git reset -q --hard ${shellQuote(req.restoreFrom)}`, `restoring ${req.restoreFrom}`);
    base = (await run(sandbox, `git merge-base HEAD ${shellQuote(baseSha)}`, 'finding where the branch left its base')).stdout.trim();
  }
  let testCommand = req.testCommand;
  if (!testCommand) {
    const files = (await run(sandbox, 'ls -A', 'listing the repository')).stdout.split('\n').filter(Boolean);
    const read = async (f: string) => (files.includes(f) ? (await sandbox.readFile({ path: f })).content : undefined);
    testCommand = detectTestCommand(files, await read('package.json'), await read('Makefile'));
  }
  return { baseSha: base, testCommand };
}

export async function runTests(
  sandbox: SandboxdClient,
  store: ArtifactStore,
  req: { taskId: string; command: string },
): Promise<TestResult> {
  const r = await sandbox.exec({ cmd: req.command, timeoutMs: 900_000, maxOutputBytes: 400_000 });
  const log = `$ ${req.command}\n${r.stdout}\n${r.stderr}`;
  const logKey = `tasks/${req.taskId}/test.log`;
  await store.put(logKey, log);
  return { command: req.command, exitCode: r.exitCode ?? -1, passed: r.exitCode === 0, outputTail: log.slice(-2000), logKey };
}

async function hasStagedChanges(sandbox: SandboxdClient): Promise<boolean> {
  return (await sandbox.exec({ cmd: 'git diff --cached --quiet', timeoutMs: 60_000 })).exitCode !== 0;
}

/** Commits whatever changed as work in progress; returns HEAD (the agent's own commits count too). */
export async function commitWorkInProgress(sandbox: SandboxdClient, req: { step: number }): Promise<string> {
  await run(sandbox, 'git add -A', 'staging the changes');
  if (await hasStagedChanges(sandbox)) {
    await run(sandbox, `git ${GIT_AUTHOR} commit -q --no-verify -m ${shellQuote(`errand: work in progress after step ${req.step}`)}`, 'committing a checkpoint');
  }
  return (await run(sandbox, 'git rev-parse HEAD', 'reading HEAD')).stdout.trim();
}

/**
 * The final commit: the checkpoints squashed into one commit on the base, with a
 * Co-authored-by trailer for the person who asked. Returns its sha; the push follows.
 */
export async function squashForPublishing(sandbox: SandboxdClient, req: { baseSha: string; message: string; coAuthor?: string }): Promise<string> {
  await run(sandbox, 'git add -A', 'staging the changes');
  await run(sandbox, `git reset -q --soft ${shellQuote(req.baseSha)}`, 'squashing the checkpoints');
  if (!(await hasStagedChanges(sandbox))) {
    throw ApplicationFailure.nonRetryable('the agent made no changes, so there is nothing to open a pull request for', FailureType.NoChanges);
  }
  const message = req.coAuthor ? `${req.message}\n\nCo-authored-by: ${req.coAuthor}` : req.message;
  await run(sandbox, `git ${GIT_AUTHOR} commit -q --no-verify -m ${shellQuote(message)}`, 'committing');
  return (await run(sandbox, 'git rev-parse HEAD', 'reading HEAD')).stdout.trim();
}

/** The diff of the task branch against its base, as the sandbox has it now (committed work). */
export async function branchDiff(sandbox: SandboxdClient, baseSha: string): Promise<string> {
  const r = await sandbox.exec({ cmd: `git diff ${shellQuote(baseSha)} HEAD`, timeoutMs: 120_000, maxOutputBytes: 10_000_000 });
  if (r.exitCode !== 0) throw new Error(`git diff failed: ${r.stderr.trim().slice(-500)}`);
  return r.stdout;
}
