// ArtifactStore: where transcripts, logs, events and diffs live, referenced from workflow
// history by key (claim-check), so no history payload grows with the conversation.
import { appendFile, mkdir, open, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Redactor } from './redactor.js';

/**
 * One segment of a key: letters, digits, `.`, `_`, `-`, never `.` or `..` alone. Keys are built
 * from outside input (task ids, delivery ids, tool-call ids), so every store refuses any other
 * key rather than let one name a place beyond the prefix it was built under.
 */
const KEY_SEGMENT = /^(?!\.{1,2}$)[A-Za-z0-9._-]{1,200}$/;

export class InvalidArtifactKey extends Error {}

/** Returns `key` when every segment is one a store can hold as it is; throws otherwise. */
export function checkArtifactKey(key: string): string {
  if (!key.split('/').every((segment) => KEY_SEGMENT.test(segment))) {
    throw new InvalidArtifactKey(`invalid artifact key ${JSON.stringify(key.slice(0, 300))}: segments are letters, digits, '.', '_' and '-', never '.' or '..' alone`);
  }
  return key;
}

export interface ArtifactStore {
  put(key: string, data: string): Promise<void>;
  /** Creates `key` only if it does not exist yet; false when it did (a delivery seen before). */
  createExclusive(key: string, data: string): Promise<boolean>;
  /** Appends to the object at `key`, creating it; for logs written a line at a time. */
  append(key: string, data: string): Promise<void>;
  get(key: string): Promise<string | undefined>;
  /** The bytes of `key` from `offset` on (empty when nothing new), for tailing an appended log. */
  readFrom(key: string, offset: number): Promise<Buffer | undefined>;
  /** Keys directly under `prefix`, sorted. */
  list(prefix: string): Promise<string[]>;
  /** Removes `key`; nothing happens when it does not exist. */
  delete(key: string): Promise<void>;
}

/** The embedded default: one file per key under a directory; puts are atomic (tmp + rename). */
export class LocalArtifactStore implements ArtifactStore {
  /** Directories made by this process: a task's steps and events write to a few, thousands of times. */
  private readonly made = new Set<string>();

  constructor(private readonly dir: string) {}

  async put(key: string, data: string): Promise<void> {
    const file = this.file(key);
    const tmp = `${file}.${process.pid}.tmp`;
    await this.inDirOf(file, () => writeFile(tmp, data));
    await rename(tmp, file);
  }

  async createExclusive(key: string, data: string): Promise<boolean> {
    const file = this.file(key);
    return this.inDirOf(file, () => writeFile(file, data, { flag: 'wx' })).then(
      () => true,
      (e: NodeJS.ErrnoException) => {
        if (e.code === 'EEXIST') return false;
        throw e;
      },
    );
  }

  async append(key: string, data: string): Promise<void> {
    const file = this.file(key);
    await this.inDirOf(file, () => appendFile(file, data));
  }

  async get(key: string): Promise<string | undefined> {
    return readFile(this.file(key), 'utf8').catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return undefined;
      throw e;
    });
  }

  async readFrom(key: string, offset: number): Promise<Buffer | undefined> {
    const handle = await open(this.file(key), 'r').catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return undefined;
      throw e;
    });
    if (!handle) return undefined;
    try {
      const { size } = await handle.stat();
      const buf = Buffer.alloc(Math.max(0, size - offset));
      if (buf.length > 0) await handle.read(buf, 0, buf.length, offset);
      return buf;
    } finally {
      await handle.close();
    }
  }

  async list(prefix: string): Promise<string[]> {
    const under = prefix.replace(/\/$/, '');
    const entries = await readdir(this.file(under)).catch(() => [] as string[]);
    return entries
      .filter((e) => !e.endsWith('.tmp'))
      .sort()
      .map((e) => `${under}/${e}`);
  }

  async delete(key: string): Promise<void> {
    await rm(this.file(key), { force: true });
  }

  /** Runs `write` once `file`'s directory exists; made again if something removed it since. */
  private async inDirOf<T>(file: string, write: () => Promise<T>): Promise<T> {
    const dir = path.dirname(file);
    if (this.made.has(dir)) {
      try {
        return await write();
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        this.made.delete(dir);
      }
    }
    await mkdir(dir, { recursive: true });
    this.made.add(dir);
    return write();
  }

  private file(key: string): string {
    return path.join(this.dir, checkArtifactKey(key));
  }
}

/** Wraps any store so that nothing reaches it unredacted. */
export class RedactingStore implements ArtifactStore {
  constructor(
    private readonly inner: ArtifactStore,
    private readonly redactor: Redactor,
  ) {}

  put(key: string, data: string): Promise<void> {
    return this.inner.put(key, this.redactor.redact(data));
  }

  append(key: string, data: string): Promise<void> {
    return this.inner.append(key, this.redactor.redact(data));
  }

  createExclusive(key: string, data: string): Promise<boolean> {
    return this.inner.createExclusive(key, this.redactor.redact(data));
  }

  get(key: string): Promise<string | undefined> {
    return this.inner.get(key);
  }

  readFrom(key: string, offset: number): Promise<Buffer | undefined> {
    return this.inner.readFrom(key, offset);
  }

  list(prefix: string): Promise<string[]> {
    return this.inner.list(prefix);
  }

  delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }
}
