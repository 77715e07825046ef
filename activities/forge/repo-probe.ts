// Checks at the edge that a repository can be reached and a branch exists, so a typo is a 400
// now rather than a failed task later; also finds the default branch when none is given.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export type RepoProbe =
  | { ok: true; repo: string; baseBranch: string }
  | { ok: false; field: 'repo' | 'baseBranch'; message: string };

const URL_LIKE = /^(https?|ssh|git|file):\/\/|^[\w.-]+@[\w.-]+:/;

export async function probeRepo(repo: string, baseBranch?: string, timeoutMs = 20_000): Promise<RepoProbe> {
  if (!URL_LIKE.test(repo) && !path.isAbsolute(repo)) {
    return { ok: false, field: 'repo', message: `"${repo}" is neither a git URL nor an absolute path; give a URL (https://, ssh://, file://) or an absolute path` };
  }
  let out: string;
  try {
    const refs = baseBranch ? ['HEAD', `refs/heads/${baseBranch}`] : ['HEAD'];
    ({ stdout: out } = await run('git', ['ls-remote', '--symref', '--', repo, ...refs], {
      timeout: timeoutMs,
      env: { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_SSH_COMMAND: 'ssh -oBatchMode=yes' },
    }));
  } catch (err) {
    const stderr = ((err as { stderr?: string }).stderr ?? (err as Error).message).trim().split('\n').slice(-3).join(' ');
    return { ok: false, field: 'repo', message: `cannot reach ${repo}: ${stderr || 'git ls-remote timed out'}; check the URL or path and that the server can read it` };
  }
  if (baseBranch) {
    if (!out.includes(`\trefs/heads/${baseBranch}\n`)) {
      return { ok: false, field: 'baseBranch', message: `branch "${baseBranch}" does not exist in ${repo}` };
    }
    return { ok: true, repo, baseBranch };
  }
  const head = /^ref: refs\/heads\/(\S+)\tHEAD$/m.exec(out);
  if (!head) return { ok: false, field: 'baseBranch', message: `${repo} has no default branch (empty repository?); give baseBranch` };
  return { ok: true, repo, baseBranch: head[1]! };
}
