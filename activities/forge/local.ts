// The local forge: pull-request records as JSON files on disk, next to the repos they target.
// The branch itself is pushed to the repo's origin by the git activity; this records the PR.
import { mkdir, open, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { PullRequestRef } from '../../workflows/contracts.js';
import type { Forge, OpenPullRequest } from './forge.js';

export interface LocalPullRequest extends OpenPullRequest {
  number: number;
  state: 'open';
  createdAt: string;
  updatedAt: string;
}

export class LocalForge implements Forge {
  readonly name = 'local';

  constructor(private readonly dir: string) {}

  async openPullRequest(req: OpenPullRequest): Promise<PullRequestRef> {
    await mkdir(this.dir, { recursive: true });
    const now = new Date().toISOString();
    const existing = (await this.all()).find((pr) => pr.repo === req.repo && pr.head === req.head);
    if (existing) {
      const updated: LocalPullRequest = { ...existing, ...req, updatedAt: now };
      await writeFile(this.file(existing.number), JSON.stringify(updated, null, 2));
      return this.ref(updated);
    }
    // Claim the next number with an exclusive create, so two workers never share one.
    for (let number = (await this.all()).length + 1; ; number++) {
      const handle = await open(this.file(number), 'wx').catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'EEXIST') return undefined;
        throw e;
      });
      if (!handle) continue;
      const pr: LocalPullRequest = { ...req, number, state: 'open', createdAt: now, updatedAt: now };
      await handle.writeFile(JSON.stringify(pr, null, 2));
      await handle.close();
      return this.ref(pr);
    }
  }

  async get(number: number): Promise<LocalPullRequest | undefined> {
    const raw = await readFile(this.file(number), 'utf8').catch(() => undefined);
    if (!raw) return undefined; // missing, or claimed by a writer that has not filled it yet
    return JSON.parse(raw) as LocalPullRequest;
  }

  async all(): Promise<LocalPullRequest[]> {
    const files = await readdir(this.dir).catch(() => [] as string[]);
    const prs = await Promise.all(
      files.filter((f) => /^\d+\.json$/.test(f)).map((f) => this.get(Number.parseInt(f, 10))),
    );
    return prs.filter((pr): pr is LocalPullRequest => pr !== undefined);
  }

  private file(number: number): string {
    return path.join(this.dir, `${number}.json`);
  }

  private ref(pr: LocalPullRequest): PullRequestRef {
    return { number: pr.number, url: `file://${this.file(pr.number)}`, title: pr.title, base: pr.base, head: pr.head, draft: pr.draft };
  }
}
