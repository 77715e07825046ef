// The local forge: repositories are git URLs or paths the worker can reach, and pull requests
// are JSON records on disk. The embedded default; iteration on a PR goes through
// POST /tasks/:id/messages while the task waits for feedback.
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { PullRequestRef } from '../../workflows/contracts.js';
import { localRepoPath } from '../git/workspace.js';
import type { Forge, GitRemote, OpenPullRequest, ResolvedRepository, UpdatePullRequest } from './forge.js';
import { probeRepo } from './repo-probe.js';
import { execFile as run } from '../process/exec-file.js';

export interface LocalPullRequest extends OpenPullRequest {
  number: number;
  state: 'open';
  comments: { body: string; at: string }[];
  createdAt: string;
  updatedAt: string;
}

export class LocalForge implements Forge {
  readonly name = 'local';

  constructor(private readonly dir: string) {}

  /** Any git URL or absolute path, probed now with git, so a typo is a 400; the default branch resolved. */
  async resolveRepository(repo: string, baseBranch?: string): Promise<ResolvedRepository> {
    const probe = await probeRepo(repo, baseBranch);
    return probe.ok ? { repo: probe.repo, baseBranch: probe.baseBranch } : { field: probe.field, message: probe.message };
  }

  /** Local repositories keep the name they were given. */
  nameOf(repo: string): string {
    return repo;
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
