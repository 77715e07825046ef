// The local forge: repositories are git URLs or paths the worker can reach, and pull requests
// are JSON records on disk. The embedded default; iteration on a PR goes through
// POST /tasks/:id/messages while the task waits for feedback. A repository on this host is named
// by where git really reaches it, so a token's allowlist holds for where a push lands.
import { createHash } from 'node:crypto';
import { closeSync, constants, fstatSync, lstatSync, openSync, readlinkSync, readSync, realpathSync, statSync } from 'node:fs';
import { mkdir, open, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PullRequestRef } from '../../workflows/contracts/task.js';
import picomatch from 'picomatch';
import { FailureType } from '../../workflows/failures.js';
import { ErrandFailure } from '../failures/errand-failure.js';
import type { Forge, GitRemote, OpenPullRequest, PullRequestState, ResolvedRepository, UpdatePullRequest } from './forge.js';
import { probeRepo } from './repo-probe.js';
import { execFile as run } from '../process/exec-file.js';

export interface LocalPullRequest extends OpenPullRequest {
  number: number;
  state: 'open';
  comments: { body: string; at: string }[];
  createdAt: string;
  updatedAt: string;
}

/** How deep a `**` pattern is walked, and how many directories a listing reads at most. */
const LISTED_DEPTH = 8;
const LISTED_DIRECTORIES = 20_000;

export class LocalForge implements Forge {
  readonly name = 'local';

  constructor(private readonly dir: string) {}

  /**
   * Any git URL or absolute path, probed now with git, so a typo is a 400; the default branch
   * resolved. A repository on this host is probed, and recorded, by where it really is.
   */
  async resolveRepository(repo: string, baseBranch?: string): Promise<ResolvedRepository> {
    const probe = await probeRepo(this.nameOf(repo), baseBranch);
    return probe.ok ? { repo: probe.repo, baseBranch: probe.baseBranch } : { field: probe.field, message: probe.message };
  }

  /**
   * A repository on this host (an absolute path, a file:// URL) by the real path of the git
   * directory git enters for it: a name that leads elsewhere (a link, `..` after one, a `.git`
   * link or gitfile, a name git completes, a worktree's commondir) is named where it leads.
   * Anything else (another host's URL, a path that leads to no repository) keeps the name it was
   * given. It reads the filesystem (stat, readlink, a small file or two) and runs nothing.
   */
  nameOf(repo: string): string {
    const local = hostPathOf(repo);
    return (local !== undefined && gitDirectoryOf(local)) || repo;
  }

  /** resolveRepository already probed the repository and branch (and resolved the default). */
  async checkRepository(_repo: string, baseBranch: string): Promise<{ baseBranch: string }> {
    return { baseBranch };
  }

  /** Only repositories on this host (a path or file:// URL) can be read before cloning. */
  async readFile(repo: string, ref: string, file: string): Promise<string | undefined> {
    const local = localRepoPath(repo);
    if (!local) return undefined;
    return run('git', ['--git-dir', local, 'show', `${ref || 'HEAD'}:${file}`], { maxBuffer: 1024 * 1024 }).then(
      (r) => r.stdout,
      () => undefined,
    );
  }

  async listFiles(repo: string, ref: string, dir: string): Promise<string[]> {
    const local = localRepoPath(repo);
    if (!local) return [];
    const listing = await run('git', ['--git-dir', local, 'ls-tree', '-z', `${ref || 'HEAD'}:${dir}`], { maxBuffer: 4 * 1024 * 1024 }).catch(() => undefined);
    // `<mode> <type> <sha>\t<name>`, NUL-terminated: files only.
    return (listing?.stdout ?? '').split('\0').flatMap((entry) => (/^\d+ blob [0-9a-f]+\t/.test(entry) ? [entry.slice(entry.indexOf('\t') + 1)] : []));
  }

  async cloneRemote(repo: string): Promise<GitRemote> {
    return { url: repo, env: {} };
  }

  async pushRemote(repo: string): Promise<GitRemote> {
    return { url: repo, env: {} };
  }

  /**
   * One pull request per repository and branch: a file under heads/ names its number, so opening
   * one reads no other record (a forge holds thousands, each with its diff).
   */
  async openPullRequest(req: OpenPullRequest): Promise<PullRequestRef & { existing?: true }> {
    await mkdir(path.join(this.dir, 'heads'), { recursive: true });
    const head = path.join(this.dir, 'heads', createHash('sha256').update(`${req.repo}\0${req.head}`).digest('hex').slice(0, 32));
    const linked = Number.parseInt(await readFile(head, 'utf8').catch(() => ''), 10);
    const linkedPr = Number.isInteger(linked) ? await this.get(linked) : undefined;
    // A link is trusted only as far as the record it names agrees.
    const existing = linkedPr?.repo === req.repo && linkedPr.head === req.head ? linkedPr : undefined;
    if (existing) return { ...this.ref(existing), existing: true };
    // Claim the next number with an exclusive create, so two workers never share one. A claim
    // left empty by a crash is skipped, and so is its link: the retry claims a new number.
    const now = new Date().toISOString();
    for (let number = (await this.numbers()).reduce((max, n) => Math.max(max, n), 0) + 1; ; number++) {
      const handle = await open(this.file(number), 'wx').catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'EEXIST') return undefined;
        throw e;
      });
      if (!handle) continue;
      await writeFile(head, String(number));
      const pr: LocalPullRequest = { ...req, number, state: 'open', comments: [], createdAt: now, updatedAt: now };
      await handle.writeFile(JSON.stringify(pr, null, 2));
      await handle.close();
      return this.ref(pr);
    }
  }

  async updatePullRequest(req: UpdatePullRequest): Promise<PullRequestRef> {
    const pr = await this.require(req.number);
    const updated: LocalPullRequest = {
      ...pr,
      ...(req.title !== undefined && { title: req.title }),
      ...(req.body !== undefined && { body: req.body }),
      ...(req.diff !== undefined && { diff: req.diff }),
      ...(req.ready && { draft: false }),
      updatedAt: new Date().toISOString(),
    };
    await writeFile(this.file(pr.number), JSON.stringify(updated, null, 2));
    return this.ref(updated);
  }

  async comment(req: { repo: string; number: number; body: string }): Promise<void> {
    const pr = await this.require(req.number);
    pr.comments.push({ body: req.body, at: new Date().toISOString() });
    await writeFile(this.file(pr.number), JSON.stringify(pr, null, 2));
  }

  /**
   * The repositories on this host under an absolute path glob (`/srv/git/*.git`,
   * `/srv/git/{shop,billing}`, `/srv/git/**`): directories walked from the glob's fixed part, at
   * most as deep as it reaches (eight levels under `**`), links not followed, a repository not
   * entered; each named as resolveRepository names it, once.
   */
  async listRepositories(pattern: string, limit: number): Promise<{ repos: string[]; more: boolean }> {
    const { base, glob } = picomatch.scan(pattern);
    if (!path.isAbsolute(pattern) || !base || !glob) {
      throw ErrandFailure.permanent(FailureType.ForgeRejected, `"${pattern}" is not a pattern of paths on this host; give an absolute path with a wildcard, e.g. /srv/git/*.git`);
    }
    const matches = picomatch(pattern, { dot: false });
    const depth = glob.includes('**') ? LISTED_DEPTH : glob.split('/').length;
    const found = new Set<string>();
    let visited = 0;
    let cut = false; // more directories than a listing reads: there may be more
    const walk = async (dir: string, level: number): Promise<void> => {
      if (found.size > limit) return;
      if (visited++ > LISTED_DIRECTORIES) return void (cut = true);
      const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
      for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
        if (!entry.isDirectory()) continue;
        const full = path.join(dir, entry.name);
        const repo = gitDirectoryOf(full) && matches(full) ? this.nameOf(full) : undefined;
        if (repo) found.add(repo);
        else if (level < depth) await walk(full, level + 1);
        if (found.size > limit) return;
      }
    };
    await walk(base, 1);
    const repos = [...found].sort();
    return { repos: repos.slice(0, limit), more: repos.length > limit || cut };
  }

  /** Merged when its branch is in its base branch (the local forge has no merge button: git's word is the merge). */
  async pullRequestState(_repo: string, number: number): Promise<PullRequestState> {
    const pr = await this.require(number);
    const local = localRepoPath(pr.repo);
    if (!local) return 'open';
    const git = (...args: string[]) => run('git', ['--git-dir', local, ...args]).then(
      (r) => r.stdout.trim(),
      () => undefined,
    );
    const head = await git('rev-parse', '--verify', '--quiet', `refs/heads/${pr.head}^{commit}`);
    if (!head) return 'closed';
    return (await git('merge-base', '--is-ancestor', head, `refs/heads/${pr.base}`)) === undefined ? 'open' : 'merged';
  }

  /** Undefined when missing, claimed by a writer that has not filled it yet, or unreadable. */
  async get(number: number): Promise<LocalPullRequest | undefined> {
    const raw = await readFile(this.file(number), 'utf8').catch(() => undefined);
    if (!raw) return undefined;
    try {
      return JSON.parse(raw) as LocalPullRequest;
    } catch {
      return undefined;
    }
  }

  async all(): Promise<LocalPullRequest[]> {
    const prs = await Promise.all((await this.numbers()).map((n) => this.get(n)));
    return prs.filter((pr): pr is LocalPullRequest => pr !== undefined);
  }

  /** The numbers claimed so far, from the file names alone. */
  private async numbers(): Promise<number[]> {
    const files = await readdir(this.dir).catch(() => [] as string[]);
    return files.filter((f) => /^\d+\.json$/.test(f)).map((f) => Number.parseInt(f, 10));
  }

  private async require(number: number): Promise<LocalPullRequest> {
    const pr = await this.get(number);
    if (!pr) throw new Error(`local pull request #${number} does not exist in ${this.dir}`);
    return pr;
  }

  private file(number: number): string {
    return path.join(this.dir, `${number}.json`);
  }

  private ref(pr: LocalPullRequest): PullRequestRef {
    return { number: pr.number, url: `file://${this.file(pr.number)}`, title: pr.title, base: pr.base, head: pr.head, draft: pr.draft };
  }
}

/** The origin's path on this host when the repo is local (a path or file:// URL). */
function localRepoPath(repo: string): string | undefined {
  if (repo.startsWith('file://')) return fileURLToPath(repo);
  return path.isAbsolute(repo) ? repo : undefined;
}

/** The path git takes a local repository at: an absolute path as written, a file:// URL's path as git decodes it. */
function hostPathOf(repo: string): string | undefined {
  if (path.isAbsolute(repo)) return repo;
  if (!repo.startsWith('file://')) return undefined;
  // As git's url_decode (%XX, never %00 nor `+`), then its parse_connect_url: the host, which
  // git ignores for file://, ends at the first `/` (after a bracketed `[…]` or `…@[…]`).
  const bytes: number[] = [];
  for (let i = 0; i < repo.length; i++) {
    const hex = repo[i] === '%' ? /^[0-9A-Fa-f]{2}/.exec(repo.slice(i + 1, i + 3))?.[0] : undefined;
    if (hex && hex !== '00') {
      bytes.push(Number.parseInt(hex, 16));
      i += 2;
    } else bytes.push(...Buffer.from(repo[i]!));
  }
  const decoded = Buffer.from(bytes).toString('utf8');
  // Bytes that are no UTF-8 have no name to compare; they are left as given.
  if (!Buffer.from(decoded).equals(Buffer.from(bytes))) return undefined;
  const rest = decoded.slice('file://'.length);
  const start = rest.indexOf('@[') + 1; // git's host_end: at `…@[`, else at the start
  const hostEnd = rest[start] === '[' ? Math.max(rest.indexOf(']', start + 1), 0) : 0;
  const slash = rest.indexOf('/', hostEnd);
  return slash >= 0 ? rest.slice(slash) : undefined;
}

/**
 * Where git's upload-pack and receive-pack go for `given` (git's enter_repo): the first of
 * `given/.git`, `given`, `given.git/.git`, `given.git` that is a git directory or a file, a
 * gitfile followed; then its common directory (a worktree's refs are its repository's). Paths
 * are joined as strings and resolved by libc's realpath (`realpathSync.native`: Node's own
 * resolves `..` before links), never normalized first, so `..` after a link goes where git's
 * goes. Undefined when there is no repository there.
 */
function gitDirectoryOf(given: string): string | undefined {
  const base = given.replace(/(?<=.)\/+$/, '');
  for (const suffix of ['/.git', '', '.git/.git', '.git']) {
    const candidate = `${base}${suffix}`;
    const stat = tryFs(() => statSync(candidate));
    if (stat?.isDirectory() && isGitDirectory(candidate)) {
      // A working copy's own .git (a directory, no link, no commondir) is named by the working
      // copy, as people write it: the same repository, wherever its name is resolved.
      const own = suffix === '/.git' && !tryFs(() => lstatSync(candidate))?.isSymbolicLink() && commonPathOf(candidate) === candidate;
      return own ? tryFs(() => realpathSync.native(base)) : commonDirectoryOf(candidate);
    }
    if (stat?.isFile()) {
      const target = gitfileTarget(candidate);
      // A file that is no gitfile is a bundle to fetch from: it is where git goes.
      if (target === undefined) return tryFs(() => realpathSync.native(candidate));
      return isGitDirectory(target) ? commonDirectoryOf(target) : undefined;
    }
  }
  return undefined;
}

/** A gitfile's `gitdir: <path>`, relative to the file's directory; undefined when it is no gitfile. */
function gitfileTarget(file: string): string | undefined {
  const text = headOf(file);
  const target = text?.startsWith('gitdir: ') ? text.slice('gitdir: '.length).replace(/[\r\n]+$/, '') : undefined;
  if (!target) return undefined;
  return path.isAbsolute(target) ? target : `${path.dirname(file)}/${target}`;
}

/** Git's is_git_directory: a valid HEAD here, objects/ and refs/ in its common directory. */
function isGitDirectory(dir: string): boolean {
  const head = `${dir}/HEAD`;
  const link = tryFs(() => lstatSync(head));
  const headValid = link?.isSymbolicLink()
    ? Boolean(tryFs(() => readlinkSync(head))?.startsWith('refs/'))
    : /^(ref:\s*refs\/|[0-9a-f]{40})/.test(headOf(head) ?? '');
  if (!headValid) return false;
  const common = commonPathOf(dir);
  return ['objects', 'refs'].every((sub) => tryFs(() => statSync(`${common}/${sub}`))?.isDirectory());
}

/** The real path of `dir`'s common directory (its `commondir` file's, else its own). */
function commonDirectoryOf(dir: string): string | undefined {
  return tryFs(() => realpathSync.native(commonPathOf(dir)));
}

function commonPathOf(dir: string): string {
  const named = headOf(`${dir}/commondir`)?.replace(/[\r\n]+$/, '');
  if (!named) return dir;
  return path.isAbsolute(named) ? named : `${dir}/${named}`;
}

/**
 * The first 4 KiB of a regular file (all a gitfile, HEAD or commondir holds): a name may point at
 * a log of gigabytes or a FIFO, and this runs on the API's event loop.
 */
function headOf(file: string): string | undefined {
  const fd = tryFs(() => openSync(file, constants.O_RDONLY | constants.O_NONBLOCK));
  if (fd === undefined) return undefined;
  try {
    if (!fstatSync(fd).isFile()) return undefined;
    const buffer = Buffer.alloc(4096);
    return buffer.toString('utf8', 0, readSync(fd, buffer, 0, buffer.length, 0));
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** The answer of a filesystem call, or undefined where there is nothing (or nothing readable). */
function tryFs<T>(call: () => T): T | undefined {
  try {
    return call();
  } catch {
    return undefined;
  }
}
