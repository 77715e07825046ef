// Git inside the sandbox: clone and branch, run the tests, commit and push the task branch.
// Everything runs through sandboxd, so it works the same in a local dir and in a pod.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType, type TestResult } from '../../workflows/contracts.js';
import type { SandboxdClient } from '../sandbox/sandboxd-client.js';
import type { ExecRequest, ExecResponse } from '../sandbox/sandboxd-protocol.js';
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
 * Errand's own git steps (clone, push) reach the git host whatever the task's network policy
 * says, and may write a local origin; the agent's commands get neither.
 */
function gitHostAccess(repo: string): Pick<ExecRequest, 'network' | 'writable'> {
  const local = localRepoPath(repo);
  return { network: true, ...(local ? { writable: [local] } : {}) };
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
  req: { repo: string; baseBranch: string; branch: string; testCommand?: string; restoreFrom?: string },
): Promise<PreparedWorkspace> {
  // A retried attempt starts from an empty workspace.
  await run(sandbox, 'find . -mindepth 1 -maxdepth 1 -exec rm -rf {} +', 'clearing the workspace');
  const clone = await sandbox.exec({
    cmd: `git clone --no-tags --branch ${shellQuote(req.baseBranch)} -- ${shellQuote(req.repo)} .`,
    timeoutMs: 600_000,
    maxOutputBytes: 64_000,
    ...gitHostAccess(req.repo),
  });
  if (clone.exitCode !== 0) {
    throw ApplicationFailure.nonRetryable(
      `cannot clone ${req.repo} at ${req.baseBranch}: ${clone.stderr.trim().slice(-1000)}`,
      FailureType.RepoUnavailable,
    );
  }
  const baseSha = (await run(sandbox, 'git rev-parse HEAD', 'reading the base commit')).stdout.trim();
  await run(sandbox, `git checkout -q -B ${shellQuote(req.branch)}`, 'creating the task branch');
  if (req.restoreFrom) {
    // A replacement sandbox: the work in progress comes back from the last checkpoint pushed.
    await run(sandbox, `git fetch -q origin ${shellQuote(`+refs/heads/${req.branch}:refs/remotes/origin/${req.branch}`)}`, 'fetching the checkpoint', gitHostAccess(req.repo));
    await run(sandbox, `git reset -q --hard ${shellQuote(req.restoreFrom)}`, `restoring checkpoint ${req.restoreFrom}`);
  }
  let testCommand = req.testCommand;
  if (!testCommand) {
    const files = (await run(sandbox, 'ls -A', 'listing the repository')).stdout.split('\n').filter(Boolean);
    const read = async (f: string) => (files.includes(f) ? (await sandbox.readFile({ path: f })).content : undefined);
    testCommand = detectTestCommand(files, await read('package.json'), await read('Makefile'));
  }
  return { baseSha, testCommand };
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

/**
 * Commits the work in progress and pushes it to the task branch, when anything changed since
 * the last checkpoint (the agent's own commits count too). Returns the pushed commit, if any.
 */
export async function checkpoint(sandbox: SandboxdClient, req: { repo: string; branch: string; baseSha: string; step: number }): Promise<{ sha?: string }> {
  await run(sandbox, 'git add -A', 'staging the changes');
  if (await hasStagedChanges(sandbox)) {
    await run(sandbox, `git ${GIT_AUTHOR} commit -q --no-verify -m ${shellQuote(`errand: work in progress after step ${req.step}`)}`, 'committing a checkpoint');
  }
  const head = (await run(sandbox, 'git rev-parse HEAD', 'reading HEAD')).stdout.trim();
  const pushed = (await sandbox.exec({ cmd: `git rev-parse -q --verify ${shellQuote(`refs/remotes/origin/${req.branch}`)}`, timeoutMs: 60_000 })).stdout.trim();
  if (head === (pushed || req.baseSha)) return {};
  await pushBranch(sandbox, req);
  return { sha: head };
}

async function pushBranch(sandbox: SandboxdClient, req: { repo: string; branch: string }): Promise<void> {
  // The remote-tracking ref is updated too, so the next checkpoint knows what was pushed.
  await run(sandbox, `git push -q --force origin HEAD:refs/heads/${req.branch}`, `pushing ${req.branch}`, gitHostAccess(req.repo));
}

/** The final commit: the checkpoints squashed into one commit on the base, pushed over the task branch. */
export async function commitAndPush(
  sandbox: SandboxdClient,
  store: ArtifactStore,
  req: { taskId: string; repo: string; branch: string; baseSha: string; message: string },
): Promise<{ headSha: string; diffKey: string }> {
  await run(sandbox, 'git add -A', 'staging the changes');
  await run(sandbox, `git reset -q --soft ${shellQuote(req.baseSha)}`, 'squashing the checkpoints');
  if (!(await hasStagedChanges(sandbox))) {
    throw ApplicationFailure.nonRetryable('the agent made no changes, so there is nothing to open a pull request for', FailureType.NoChanges);
  }
  await run(sandbox, `git ${GIT_AUTHOR} commit -q --no-verify -m ${shellQuote(req.message)}`, 'committing');
  const headSha = (await run(sandbox, 'git rev-parse HEAD', 'reading HEAD')).stdout.trim();
  await pushBranch(sandbox, req);
  const diff = await sandbox.exec({ cmd: `git diff ${shellQuote(req.baseSha)} HEAD`, timeoutMs: 60_000, maxOutputBytes: 5_000_000 });
  const diffKey = `tasks/${req.taskId}/diff.patch`;
  await store.put(diffKey, diff.stdout);
  return { headSha, diffKey };
}
