// Storage, one seam with two shapes. Blobs: transcripts, tool arguments, logs of commands,
// diffs, webhook deliveries; written whole, read by key, referenced from workflow history
// (claim-check), so no history payload grows with a task. Logs: a task's events, the audit
// trail; appended in batches by any process, read by tailing after a cursor. The local
// directory is the embedded default (local-storage.ts), S3-compatible object storage the
// production one (s3-storage.ts); apps/providers.ts chooses one from configuration, wrapped so
// that nothing reaches either unredacted. docs/adr/0008-storage.md says why it is shaped so.
import type { Redactor } from './redactor.js';

/**
 * One segment of a key or a log's name: letters, digits, `.`, `_`, `-`, never `.` or `..`
 * alone. Keys are built from outside input (task ids, delivery ids, tool-call ids), so every
 * store refuses any other key rather than let one name a place beyond the prefix it was built
 * under.
 */
const KEY_SEGMENT = /^(?!\.{1,2}$)[A-Za-z0-9._-]{1,200}$/;

export class InvalidStorageKey extends Error {}

/** Returns `key` when every segment is one a store can hold as it is; throws otherwise. */
export function checkStorageKey(key: string): string {
  if (!key.split('/').every((segment) => KEY_SEGMENT.test(segment))) {
    throw new InvalidStorageKey(`invalid storage key ${JSON.stringify(key.slice(0, 300))}: segments are letters, digits, '.', '_' and '-', never '.' or '..' alone`);
  }
  return key;
}

export interface BlobStore {
  /** Writes `key` whole: a reader sees the old content or the new, never part of it. */
  put(key: string, data: string): Promise<void>;
  /**
   * Writes `key` only if nothing is there yet, atomically across processes and hosts: false
   * when something was (a webhook delivery seen before).
   */
  createIfAbsent(key: string, data: string): Promise<boolean>;
  get(key: string): Promise<string | undefined>;
  /** The keys directly under `prefix`, sorted: blobs, and the prefixes of deeper ones (no trailing slash). */
  list(prefix: string): Promise<string[]>;
  /** Removes `key`; nothing happens when it does not exist. */
  delete(key: string): Promise<void>;
}

/** What a log holds: records known by an id (a retried write sends the same ids again). */
export interface LogRecord {
  id: string;
  [field: string]: unknown;
}

export interface LogEntry<R extends LogRecord = LogRecord> {
  /** Its place in the log: from 0, without gaps, the same for every reader of the log. */
  seq: number;
  record: R;
}

export interface LogCursor<R extends LogRecord = LogRecord> {
  /** The entries appended since the last call (or the cursor's start), in order; [] when none. */
  next(): Promise<LogEntry<R>[]>;
}

export interface LogStore {
  /**
   * Appends `records` to `log` as one batch: in order, after everything appended before, and
   * seen by readers whole or not at all. A record whose id the log already holds is left out
   * (the first copy wins), so a retried activity's write adds nothing. Any number of processes
   * may append to one log at once.
   */
  append(log: string, records: LogRecord[]): Promise<void>;
  /** A cursor over `log` from after `after` (a seq; -1, the default: from its start). */
  tail<R extends LogRecord = LogRecord>(log: string, after?: number): LogCursor<R>;
  /** The logs directly under `prefix`, by name, sorted. */
  logs(prefix: string): Promise<string[]>;
}

/**
 * Large binary files kept whole (environment snapshots), moved between the store and a file on
 * this host, never held in memory. Not redacted: they are archives, not text anyone reads, and
 * what goes into one is checked before (lib/environments/environment-store.ts says what).
 */
export interface ArchiveStore {
  /** Writes `key` whole from `file`: a reader sees the old archive or the new, never part of one. */
  upload(key: string, file: string): Promise<void>;
  /** Writes `key` to `file`; false when there is no such archive. */
  download(key: string, file: string): Promise<boolean>;
  /** Removes `key`; nothing happens when it does not exist. */
  delete(key: string): Promise<void>;
}

export interface Storage {
  blobs: BlobStore;
  logs: LogStore;
  archives: ArchiveStore;
}

/** `storage` with everything written to it redacted first (what a model, a command or a repository wrote may hold a secret). */
export function redacting(storage: Storage, redactor: Redactor): Storage {
  const { blobs, logs } = storage;
  return {
    archives: storage.archives,
    blobs: {
      put: (key, data) => blobs.put(key, redactor.redact(data)),
      createIfAbsent: (key, data) => blobs.createIfAbsent(key, redactor.redact(data)),
      get: (key) => blobs.get(key),
      list: (prefix) => blobs.list(prefix),
      delete: (key) => blobs.delete(key),
    },
    logs: {
      append: (log, records) => logs.append(log, records.map((record) => redactedValue(record, redactor))),
      tail: (log, after) => logs.tail(log, after),
      logs: (prefix) => logs.logs(prefix),
    },
  };
}

/**
 * `storage` with the appends that arrive while one to the same log is being written joined into
 * the next write of that log: a burst of writers (four hundred audit records at once, a local
 * file opened and closed for each, or a PUT each on S3) costs a few writes, not one each, and a
 * lone append is written at once, as before. Each caller's promise settles with the write that
 * holds its records; batches keep their order and stay whole inside the joined write.
 */
export function coalescingAppends(storage: Storage): Storage {
  const { logs } = storage;
  const waiting = new Map<string, { records: LogRecord[]; settle: ((err?: unknown) => void)[] }>();
  const writing = new Set<string>();
  const writeNext = async (log: string): Promise<void> => {
    const next = waiting.get(log);
    if (!next) return void writing.delete(log);
    waiting.delete(log);
    const failure = await logs.append(log, next.records).then(
      () => undefined,
      (err: unknown) => err ?? new Error('append failed'),
    );
    for (const settle of next.settle) settle(failure);
    return writeNext(log);
  };
  return {
    blobs: storage.blobs,
    archives: storage.archives,
    logs: {
      append: (log, records) =>
        new Promise<void>((resolve, reject) => {
          const next = waiting.get(log) ?? { records: [], settle: [] };
          next.records.push(...records);
          next.settle.push((err) => (err ? reject(err) : resolve()));
          waiting.set(log, next);
          if (writing.has(log)) return;
          writing.add(log);
          void writeNext(log);
        }),
      tail: (log, after) => logs.tail(log, after),
      logs: (prefix) => logs.logs(prefix),
    },
  };
}

/** Every string in `value` (keys too) redacted, the shape kept. */
function redactedValue<T>(value: T, redactor: Redactor): T {
  if (typeof value === 'string') return redactor.redact(value) as T;
  if (Array.isArray(value)) return value.map((v) => redactedValue(v, redactor)) as T;
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [redactor.redact(k), redactedValue(v, redactor)])) as T;
  return value;
}
