// The embedded default storage: a directory on this host. A blob is a file, put atomically
// (a temporary file renamed over it); a log is a file of JSON lines, `<log>.jsonl`, a batch
// appended with one write (O_APPEND: processes on this host never interleave a batch). Its
// readers skip a record whose id came before (the first copy wins) and a line left torn by a
// crashed writer, and number what remains, so every reader sees the same seq.
import { appendFile, copyFile, mkdir, open, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { checkStorageKey, type ArchiveStore, type BlobStore, type LogCursor, type LogEntry, type LogRecord, type LogStore, type Storage } from './storage.js';

export function localDirectoryStorage(dir: string): Storage {
  const files = new Files(dir);
  return { blobs: new LocalBlobStore(files), logs: new LocalLogStore(files), archives: new LocalArchiveStore(files) };
}

/** Paths under the directory for checked keys, with the directories made once per process. */
class Files {
  /** Directories made by this process: a task's steps and events write to a few, thousands of times. */
  private readonly made = new Set<string>();

  constructor(private readonly dir: string) {}

  path(key: string): string {
    return path.join(this.dir, checkStorageKey(key));
  }

  /** Runs `write` once `file`'s directory exists; made again if something removed it since. */
  async inDirOf<T>(file: string, write: () => Promise<T>): Promise<T> {
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
}

class LocalBlobStore implements BlobStore {
  constructor(private readonly files: Files) {}

  async put(key: string, data: string): Promise<void> {
    const file = this.files.path(key);
    const tmp = `${file}.${process.pid}.tmp`;
    await this.files.inDirOf(file, () => writeFile(tmp, data));
    await rename(tmp, file);
  }

  async createIfAbsent(key: string, data: string): Promise<boolean> {
    const file = this.files.path(key);
    return this.files.inDirOf(file, () => writeFile(file, data, { flag: 'wx' })).then(
      () => true,
      (e: NodeJS.ErrnoException) => {
        if (e.code === 'EEXIST') return false;
        throw e;
      },
    );
  }

  async get(key: string): Promise<string | undefined> {
    return readFile(this.files.path(key), 'utf8').catch(absent);
  }

  async list(prefix: string): Promise<string[]> {
    const under = prefix.replace(/\/$/, '');
    const entries = await readdir(this.files.path(under)).catch(() => [] as string[]);
    return entries
      .filter((e) => !e.endsWith('.tmp'))
      .sort()
      .map((e) => `${under}/${e}`);
  }

  async delete(key: string): Promise<void> {
    await rm(this.files.path(key), { force: true });
  }
}

/** An archive is a file: copied in under a temporary name and renamed, copied out as it is. */
class LocalArchiveStore implements ArchiveStore {
  constructor(private readonly files: Files) {}

  async upload(key: string, file: string): Promise<void> {
    const target = this.files.path(key);
    const tmp = `${target}.${process.pid}.${Date.now()}.tmp`;
    await this.files.inDirOf(target, () => copyFile(file, tmp));
    await rename(tmp, target);
  }

  async download(key: string, file: string): Promise<boolean> {
    return copyFile(this.files.path(key), file).then(
      () => true,
      (e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') return false;
        throw e;
      },
    );
  }

  async delete(key: string): Promise<void> {
    await rm(this.files.path(key), { force: true });
  }
}

const LOG_SUFFIX = '.jsonl';

class LocalLogStore implements LogStore {
  constructor(private readonly files: Files) {}

  async append(log: string, records: LogRecord[]): Promise<void> {
    const file = this.files.path(`${checkStorageKey(log)}${LOG_SUFFIX}`);
    if (!records.length) return;
    await this.files.inDirOf(file, () => appendFile(file, records.map((r) => `${JSON.stringify(r)}\n`).join('')));
  }

  tail<R extends LogRecord = LogRecord>(log: string, after = -1): LogCursor<R> {
    return new LocalLogCursor<R>(this.files.path(`${checkStorageKey(log)}${LOG_SUFFIX}`), after);
  }

  async logs(prefix: string): Promise<string[]> {
    const under = prefix.replace(/\/$/, '');
    const entries = await readdir(this.files.path(under)).catch(() => [] as string[]);
    return entries
      .filter((e) => e.endsWith(LOG_SUFFIX))
      .map((e) => `${under}/${e.slice(0, -LOG_SUFFIX.length)}`)
      .sort();
  }
}

/** Reads a log file from where it last stopped: complete lines only (a line being written waits for the next read). */
class LocalLogCursor<R extends LogRecord> implements LogCursor<R> {
  private offset = 0;
  private readonly seen = new Set<string>();
  private count = 0;

  constructor(
    private readonly file: string,
    private readonly after: number,
  ) {}

  async next(): Promise<LogEntry<R>[]> {
    const chunk = await this.readFrom(this.offset);
    if (!chunk?.length) return [];
    const end = chunk.lastIndexOf(0x0a) + 1;
    this.offset += end;
    const out: LogEntry<R>[] = [];
    for (const line of chunk.subarray(0, end).toString('utf8').split('\n')) {
      if (!line.trim()) continue;
      let record: R;
      try {
        record = JSON.parse(line) as R;
      } catch {
        continue; // a torn line from a crashed writer
      }
      if (typeof record?.id !== 'string' || this.seen.has(record.id)) continue;
      this.seen.add(record.id);
      const seq = this.count++;
      if (seq > this.after) out.push({ seq, record });
    }
    return out;
  }

  private async readFrom(offset: number): Promise<Buffer | undefined> {
    const handle = await open(this.file, 'r').catch(absent);
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
}

function absent(e: NodeJS.ErrnoException): undefined {
  if (e.code === 'ENOENT') return undefined;
  throw e;
}
