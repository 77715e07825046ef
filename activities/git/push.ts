// The push step, which runs in the worker and not in the sandbox: the sandbox packs the task
// branch into a git bundle (plain data), the worker reads it out through sandboxd, and pushes it
// from a scratch repository of its own with the forge's credentials. The agent controls the
// sandbox's repository (hooks, config, remotes), so the token never goes near it.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../workflows/contracts.js';
import type { GitRemote } from '../forge/forge.js';
import type { SandboxdClient } from '../sandbox/sandboxd-client.js';
import { shellQuote } from './workspace.js';

const run = promisify(execFile);
const BUNDLE = '.git/errand-push.bundle';
/** sandboxd answers at most 10 MB a call; base64 makes a 7 MB chunk about 9.3 MB. */
const CHUNK_BYTES = 7_000_000;

export interface PushRequest {
  branch: string;
  baseSha: string;
  remote: GitRemote;
}

/** Pushes HEAD of the sandbox's repository to `branch` on the remote; returns the pushed commit. */
export async function pushFromSandbox(sandbox: SandboxdClient, req: PushRequest): Promise<string> {
  const head = (await sandbox.exec({ cmd: 'git rev-parse HEAD', timeoutMs: 60_000 })).stdout.trim();
  const bundled = await sandbox.exec({ cmd: `git bundle create -q ${BUNDLE} HEAD ^${shellQuote(req.baseSha)}`, timeoutMs: 300_000 });
  if (bundled.exitCode !== 0) throw new Error(`git bundle failed: ${bundled.stderr.trim().slice(-500)}`);
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'errand-push-'));
  try {
    const bundle = path.join(scratch, 'branch.bundle');
    await writeFile(bundle, await readWhole(sandbox, BUNDLE));
    const git = (args: string[], what: string, env: Record<string, string> = {}) =>
      run('git', args, { cwd: scratch, env: { ...process.env, ...env, GIT_TERMINAL_PROMPT: '0' }, maxBuffer: 16 * 1024 * 1024 }).catch(
        (err: Error & { stderr?: string }) => {
          throw pushFailure(`${what} failed: ${(err.stderr ?? err.message).trim().slice(-1000)}`);
        },
      );
    await git(['init', '-q', '--bare', 'repo.git'], 'git init');
    const repo = ['-C', 'repo.git'];
    // The bundle's prerequisite is the base commit, which the remote has.
    await git([...repo, 'fetch', '-q', '--depth=1', req.remote.url, req.baseSha], 'fetching the base commit', req.remote.env);
    await git([...repo, 'fetch', '-q', bundle, `HEAD:refs/heads/${req.branch}`], 'reading the bundle');
    await git([...repo, 'push', '-q', '--force', req.remote.url, `refs/heads/${req.branch}:refs/heads/${req.branch}`], `pushing ${req.branch}`, req.remote.env);
    return head;
  } finally {
    await rm(scratch, { recursive: true, force: true });
    await sandbox.exec({ cmd: `rm -f ${BUNDLE}`, timeoutMs: 60_000 }).catch(() => undefined);
  }
}

async function readWhole(sandbox: SandboxdClient, file: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for (let offset = 0; ; ) {
    const part = await sandbox.readFile({ path: file, offset, maxBytes: CHUNK_BYTES, encoding: 'base64' });
    const buf = Buffer.from(part.content, 'base64');
    chunks.push(buf);
    offset += buf.length;
    if (!part.truncated || buf.length === 0) return Buffer.concat(chunks);
  }
}

/** Rejections the forge makes (no permission, branch protected) are not fixed by retrying. */
function pushFailure(message: string): Error {
  const rejected = /(403|denied|forbidden|protected branch|not allowed|authentication failed|could not read Username)/i.test(message);
  return rejected ? ApplicationFailure.nonRetryable(message, FailureType.PushRejected) : new Error(message);
}
