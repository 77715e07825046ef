// Checks at the edge that a repository can be reached and a branch exists, so a typo is a 400
// now rather than a failed task later; also finds the default branch when none is given.
import path from 'node:path';
import { execFile as run } from '../process/exec-file.js';

export type RepoProbe =
  | { ok: true; repo: string; baseBranch: string }
  | { ok: false; field: 'repo' | 'baseBranch'; message: string };

const URL_LIKE = /^(https?|ssh|git|file):\/\/|^[\w.-]+@[\w.-]+:/;

/** How long a repository found reachable counts as reachable for the next request to it. */
const FRESH_MS = 2_000;
const recent = new Map<string, { until: number; probe: Promise<RepoProbe> }>();

/**
 * Probes once for all the requests about the same repository and branch that arrive together
 * (a bot submitting two hundred tasks to one repo spawned two hundred `git ls-remote`), and
 * reuses a success for a moment after; a failure is never reused, so a fixed typo works at once.
 */
export function probeRepo(repo: string, baseBranch?: string, timeoutMs = 20_000): Promise<RepoProbe> {
  const key = `${repo}\0${baseBranch ?? ''}`;
  const now = Date.now();
  const hit = recent.get(key);
  if (hit && hit.until > now) return hit.probe;
  for (const [k, v] of recent) if (v.until <= now) recent.delete(k);
  const probe = probeOnce(repo, baseBranch, timeoutMs);
  // In flight: shared until it settles; then kept only if it succeeded.
  recent.set(key, { until: Number.POSITIVE_INFINITY, probe });
  void probe.then(
    (p) => (p.ok ? recent.set(key, { until: Date.now() + FRESH_MS, probe }) : recent.delete(key)),
    () => recent.delete(key),
  );
  return probe;
}

async function probeOnce(repo: string, baseBranch: string | undefined, timeoutMs: number): Promise<RepoProbe> {
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
