// ArtifactStore: where transcripts, logs and diffs live, referenced from workflow history by
// key (claim-check), so no history payload grows with the conversation.
import { mkdir, readFile, readdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

export interface ArtifactStore {
  put(key: string, data: string): Promise<void>;
  get(key: string): Promise<string | undefined>;
  /** Keys directly under `prefix`, sorted. */
  list(prefix: string): Promise<string[]>;
}

/** The embedded default: one file per key under a directory; writes are atomic (tmp + rename). */
export class LocalArtifactStore implements ArtifactStore {
  constructor(private readonly dir: string) {}

  async put(key: string, data: string): Promise<void> {
    const file = this.file(key);
    await mkdir(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, data);
    await rename(tmp, file);
  }

  async get(key: string): Promise<string | undefined> {
    return readFile(this.file(key), 'utf8').catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return undefined;
      throw e;
    });
  }

  async list(prefix: string): Promise<string[]> {
    const entries = await readdir(this.file(prefix)).catch(() => [] as string[]);
    return entries
      .filter((e) => !e.endsWith('.tmp'))
      .sort()
      .map((e) => `${prefix.replace(/\/$/, '')}/${e}`);
  }

  private file(key: string): string {
    const normal = path.posix.normalize(key);
    if (normal.startsWith('..') || path.posix.isAbsolute(normal)) throw new Error(`invalid artifact key ${key}`);
    return path.join(this.dir, normal);
  }
}
