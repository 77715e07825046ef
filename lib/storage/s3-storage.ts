// The production storage: S3-compatible object storage, so API and worker replicas on any number
// of hosts share one store with no shared volume. Credentials come from the AWS SDK's default
// chain (environment, shared files, web identity / IRSA), never from options.
//
// Layout under `<prefix>/` in the bucket:
//   <key>                                  a blob, written whole by one PutObject
//   <log>~/<firstSeq, 12 digits>.jsonl     one batch of a log: its records as JSON lines
// A log's objects sit in `<log>~/` rather than `<log>/` because `~` is never in a key
// (checkStorageKey): a log then never shares a name with a blob or with a folder of other keys
// or logs, so blobs.list leaves logs out and logs(prefix) tells logs from folders with one LIST.
//
// S3 cannot append, so a log is a row of objects, one per batch, each at the seq of its first
// record: the next batch's key is the last one's firstSeq + its line count, and the objects tile
// seq 0..n without gaps. A writer keeps what it has read of each log it writes ({next, ids}, for
// the logs it used last) and writes the batch, less the ids the log holds, with a conditional
// PUT (If-None-Match: *) at key(next). 412 means another writer got there first: it reads that
// object, learns its ids and length, and tries the next key. A writer thus only ever writes at
// the end of a stretch it has read whole, and a PUT that succeeds proves the key was empty, so
// objects are made strictly in key order and dedupe is exact whatever the number of writers; a
// PUT whose answer was lost and that is retried gets 412 and then finds its own ids.
//
// Requests (S3 bills each one):
//   append, warm (this process wrote the log lately): 1 PUT, plus 1 GET + 1 PUT for each batch
//     another writer added since; none when every record is already there.
//   append, cold (first for the log in this process): 1 LIST per 1,000 batches and 1 GET per
//     batch to learn the ids, then as warm.
//   tail, first next(): 1 LIST per 1,000 batches and 1 GET per batch from `after` on.
//   tail, idle poll: 1 GET (404). A poll that finds k new batches: 1 GET + 1 LIST + (k - 1) GETs.
//   createIfAbsent: 1 PUT, plus 1 HEAD when the key was taken (was it our own lost write?).
// A missing key must answer 404, not 403: on AWS that needs s3:ListBucket as well as
// s3:GetObject, s3:PutObject and s3:DeleteObject on the bucket.
import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client, type PutObjectCommandInput } from '@aws-sdk/client-s3';
import { checkStorageKey, type ArchiveStore, type BlobStore, type LogCursor, type LogEntry, type LogRecord, type LogStore, type Storage } from './storage.js';

export interface S3StorageOptions {
  bucket: string;
  /** Where in the bucket everything goes (`errand`, say); the bucket's root when absent. */
  prefix?: string;
  /** An S3-compatible server's URL (MinIO, Ceph, versitygw, …); AWS's own when absent. */
  endpoint?: string;
  /** The SDK's own chain (AWS_REGION, the shared config) decides when absent. */
  region?: string;
  /** `http://host/bucket/key` rather than `http://bucket.host/key`, as most S3-compatible servers want. */
  forcePathStyle?: boolean;
  /** How long a request waits for S3 to come back (refused connections, 5xx) before it fails; 2 minutes when absent. */
  outageMs?: number;
}

/** S3 answered 403: the credentials lack a permission the store needs. */
export class S3AccessDenied extends Error {}

/** A log's objects are not the row of batches this store writes (something else wrote or removed one). */
export class CorruptS3Log extends Error {}

/**
 * `client` is for callers that set up the SDK themselves (tests, say): the options' endpoint,
 * region and forcePathStyle are then the client's business.
 */
export function s3Storage(options: S3StorageOptions, client: S3Client = defaultClient(options)): Storage {
  const bucket = new Bucket(client, options.bucket, options.prefix, options.outageMs ?? OUTAGE_MS);
  return { blobs: new S3BlobStore(bucket), logs: new S3LogStore(bucket), archives: new S3ArchiveStore(bucket) };
}

function defaultClient({ endpoint, region, forcePathStyle }: S3StorageOptions): S3Client {
  // Without a timeout a stalled connection would hold an activity until its own timeout.
  return new S3Client({ endpoint, region, forcePathStyle, requestHandler: { connectionTimeout: 5_000, requestTimeout: 30_000 } });
}

/** Logs whose writer state (seq and ids) a process keeps; a log it has not written lately is read again first. */
const WRITERS_KEPT = 256;
/** GETs in flight at once while reading a log's batches. */
const READ_CONCURRENCY = 8;
/** How often a conditional PUT is tried again after 409 ConditionalRequestConflict (AWS's answer to concurrent conditional writes of one key). */
const CONFLICT_RETRIES = 8;
const BATCH_NAME = /^(\d{12})\.jsonl$/;
const LOG_FOLDER_SUFFIX = '~/';

/** The SDK's calls on one bucket, with the keys under the store's prefix and S3's answers made plain. */
class Bucket {
  private readonly root: string;

  constructor(
    private readonly client: S3Client,
    private readonly name: string,
    prefix: string | undefined,
    private readonly outageMs: number,
  ) {
    const trimmed = prefix?.replace(/^\/+|\/+$/g, '');
    this.root = trimmed ? `${checkStorageKey(trimmed)}/` : '';
  }

  /** The object key of blob `key`. */
  blobKey(key: string): string {
    return this.root + checkStorageKey(key);
  }

  /** The folder (ending in `/`) under which the children of `prefix` are: a trailing `/` on it is allowed. */
  folder(prefix: string): string {
    return `${this.root}${checkStorageKey(prefix.replace(/\/$/, ''))}/`;
  }

  /** The folder (ending in `/`) holding the batches of `log`. */
  logFolder(log: string): string {
    return `${this.root}${checkStorageKey(log)}${LOG_FOLDER_SUFFIX}`;
  }

  /** `objectKey` less the store's prefix. */
  storeKey(objectKey: string): string {
    return objectKey.slice(this.root.length);
  }

  async put(key: string, body: string): Promise<void> {
    await this.putObject(key, body).catch((e) => {
      throw this.refusal(e, 'write', key);
    });
  }

  /** Writes `key` only if it is empty: false when something is there. */
  async create(key: string, body: string, metadata?: Record<string, string>): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.putObject(key, body, { IfNoneMatch: '*', Metadata: metadata });
        return true;
      } catch (e) {
        if (status(e) === 412) return false;
        // AWS answers 409 to a conditional write racing another on the same key: neither has
        // won yet, so try again, apart in time (jittered) from the other writer.
        if (status(e) === 409 && (e as Error).name === 'ConditionalRequestConflict' && attempt < CONFLICT_RETRIES) {
          await sleep(Math.random() * Math.min(2_000, 25 * 2 ** attempt));
          continue;
        }
        throw this.refusal(e, 'write', key);
      }
    }
  }

  private putObject(key: string, body: string, condition: Pick<PutObjectCommandInput, 'IfNoneMatch' | 'Metadata'> = {}) {
    // The length given: the SDK leaves it out for an empty body, and then warns of a stream.
    return this.send(() => this.client.send(new PutObjectCommand({ Bucket: this.name, Key: key, Body: body, ContentLength: Buffer.byteLength(body), ...condition })));
  }

  /** Puts the file `file` at `key`, streamed (one PUT: an archive stays far below S3's 5 GB for one). */
  async upload(key: string, file: string): Promise<void> {
    const { size } = await stat(file);
    await this.send(() => this.client.send(new PutObjectCommand({ Bucket: this.name, Key: key, Body: createReadStream(file), ContentLength: size }))).catch((e) => {
      throw this.refusal(e, 'write', key);
    });
  }

  /** Streams `key` into the file `file`; false when there is no such object. */
  async download(key: string, file: string): Promise<boolean> {
    try {
      const { Body } = await this.send(() => this.client.send(new GetObjectCommand({ Bucket: this.name, Key: key })));
      await pipeline(Body as NodeJS.ReadableStream, createWriteStream(file));
      return true;
    } catch (e) {
      if (status(e) === 404) return false;
      throw this.refusal(e, 'read', key);
    }
  }

  async get(key: string): Promise<string | undefined> {
    try {
      const { Body } = await this.send(() => this.client.send(new GetObjectCommand({ Bucket: this.name, Key: key })));
      return (await Body?.transformToString('utf8')) ?? '';
    } catch (e) {
      if (status(e) === 404) return undefined;
      throw this.refusal(e, 'read', key);
    }
  }

  /** The object's user metadata; undefined when it is gone. */
  async metadata(key: string): Promise<Record<string, string> | undefined> {
    try {
      return (await this.send(() => this.client.send(new HeadObjectCommand({ Bucket: this.name, Key: key })))).Metadata ?? {};
    } catch (e) {
      if (status(e) === 404) return undefined;
      throw this.refusal(e, 'read', key);
    }
  }

  async delete(key: string): Promise<void> {
    await this.send(() => this.client.send(new DeleteObjectCommand({ Bucket: this.name, Key: key }))).catch((e) => {
      throw this.refusal(e, 'delete', key);
    });
  }

  /** What is directly in `folder` (after `startAfter`, when given), every page: object keys, and the folders of deeper ones (with their `/`). */
  async list(folder: string, startAfter?: string): Promise<{ objects: string[]; folders: string[] }> {
    const objects: string[] = [];
    const folders: string[] = [];
    let token: string | undefined;
    do {
      const page = await this
        .send(() => this.client.send(new ListObjectsV2Command({ Bucket: this.name, Prefix: folder, Delimiter: '/', StartAfter: startAfter, ContinuationToken: token })))
        .catch((e) => {
          throw this.refusal(e, 'list', folder);
        });
      for (const { Key } of page.Contents ?? []) if (Key) objects.push(Key);
      for (const { Prefix } of page.CommonPrefixes ?? []) if (Prefix) folders.push(Prefix);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return { objects, folders };
  }

  /**
   * Sends a request, riding out an outage: a request that fails for want of S3 (refused or reset
   * connections, timeouts, 5xx and throttling) is sent again, further apart each time, for up to
   * `outageMs`, so an activity waits (heartbeating) instead of failing and running again what it
   * already did. Repeating a write is safe: puts are whole, and a conditional put that landed
   * before its answer was lost is recognised by its 412.
   */
  private async send<T>(request: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.outageMs;
    for (let attempt = 0; ; attempt++) {
      try {
        return await request();
      } catch (e) {
        if (!unavailable(e) || Date.now() > deadline) throw e;
        await sleep(Math.min(8_000, 250 * 2 ** attempt) * (0.5 + Math.random() / 2));
      }
    }
  }

  /** What to throw for S3's answer `e`: the same, or for 403 what to grant. */
  private refusal(e: unknown, verb: string, key: string): unknown {
    if (status(e) !== 403) return e;
    return new S3AccessDenied(
      `S3 refused to ${verb} ${key} in bucket ${this.name} (403 ${(e as Error).name}): the credentials need s3:GetObject, s3:PutObject, s3:DeleteObject and s3:ListBucket on it`,
      { cause: e },
    );
  }
}

/** How long a request waits for S3 to come back, by default, before it fails (its caller's retries take over then). */
const OUTAGE_MS = 120_000;

/** Whether `e` says S3 could not be reached or could not answer now, rather than answering no. */
function unavailable(e: unknown): boolean {
  const code = status(e);
  if (code !== undefined) return code >= 500 || code === 429 || (e as Error).name === 'SlowDown';
  // The SDK may hand the socket's error on wrapped ("AWS SDK error wrapper for Error: connect
  // ECONNREFUSED …"), its code in the message only.
  const err = e as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
  const codes = ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH'];
  if (codes.includes(err?.code ?? err?.cause?.code ?? '')) return true;
  if (['TimeoutError', 'RequestTimeout'].includes(err?.name ?? '')) return true;
  return new RegExp(`\\b(${codes.join('|')})\\b`).test(String(err?.message ?? ''));
}

function status(e: unknown): number | undefined {
  return (e as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

class S3ArchiveStore implements ArchiveStore {
  constructor(private readonly bucket: Bucket) {}

  upload(key: string, file: string): Promise<void> {
    return this.bucket.upload(this.bucket.blobKey(key), file);
  }

  download(key: string, file: string): Promise<boolean> {
    return this.bucket.download(this.bucket.blobKey(key), file);
  }

  delete(key: string): Promise<void> {
    return this.bucket.delete(this.bucket.blobKey(key));
  }
}

class S3BlobStore implements BlobStore {
  constructor(private readonly bucket: Bucket) {}

  put(key: string, data: string): Promise<void> {
    return this.bucket.put(this.bucket.blobKey(key), data);
  }

  async createIfAbsent(key: string, data: string): Promise<boolean> {
    const objectKey = this.bucket.blobKey(key);
    // The SDK retries a PUT whose answer it lost, and that retry is refused (412) if the first
    // try landed: the write carries a token so that our own write is told from another's.
    const token = randomUUID();
    if (await this.bucket.create(objectKey, data, { 'errand-write': token })) return true;
    return (await this.bucket.metadata(objectKey))?.['errand-write'] === token;
  }

  get(key: string): Promise<string | undefined> {
    return this.bucket.get(this.bucket.blobKey(key));
  }

  async list(prefix: string): Promise<string[]> {
    const { objects, folders } = await this.bucket.list(this.bucket.folder(prefix));
    const deeper = folders.filter((f) => !f.endsWith(LOG_FOLDER_SUFFIX)).map((f) => f.slice(0, -1));
    return [...new Set([...objects, ...deeper].map((k) => this.bucket.storeKey(k)))].sort();
  }

  delete(key: string): Promise<void> {
    return this.bucket.delete(this.bucket.blobKey(key));
  }
}

/** One object of a log. */
interface Batch {
  key: string;
  firstSeq: number;
  records: LogRecord[];
}

/** What a writer has read of a log: where its next batch goes and every id it holds. */
interface LogWriter {
  loaded: boolean;
  next: number;
  ids: Set<string>;
  /** This process's appends to the log, one at a time (racing each other would only cost 412s). */
  turn: Promise<void>;
}

class S3LogStore implements LogStore {
  private readonly writers = new RecentlyUsed<LogWriter>(WRITERS_KEPT);

  constructor(private readonly bucket: Bucket) {}

  async append(log: string, records: LogRecord[]): Promise<void> {
    const folder = this.bucket.logFolder(log);
    for (const record of records) if (typeof record?.id !== 'string') throw new TypeError(`a record appended to ${log} has no string id`);
    if (!records.length) return;
    const writer = this.writers.use(log, () => ({ loaded: false, next: 0, ids: new Set(), turn: Promise.resolve() }));
    const done = writer.turn.then(() => this.appendInTurn(folder, writer, records));
    writer.turn = done.catch(() => undefined);
    return done;
  }

  private async appendInTurn(folder: string, writer: LogWriter, records: LogRecord[]): Promise<void> {
    if (!writer.loaded) {
      const batches = await readBatches(this.bucket, await batchKeys(this.bucket, folder));
      writer.next = 0;
      writer.ids = new Set();
      for (const batch of batches) learn(writer, batch);
      writer.loaded = true;
    }
    for (;;) {
      const fresh = unseen(records, writer.ids);
      if (!fresh.length) return;
      const key = batchKey(folder, writer.next);
      if (await this.bucket.create(key, fresh.map((r) => `${JSON.stringify(r)}\n`).join(''))) {
        learn(writer, { key, firstSeq: writer.next, records: fresh });
        return;
      }
      // Another writer (or our own try whose answer was lost) got this key first.
      const text = await this.bucket.get(key);
      if (text === undefined) throw new CorruptS3Log(`${key} refused a write as taken, then was not there: something removes a log's objects`);
      learn(writer, parseBatch(key, text));
    }
  }

  tail<R extends LogRecord = LogRecord>(log: string, after = -1): LogCursor<R> {
    return new S3LogCursor<R>(this.bucket, log, after);
  }

  async logs(prefix: string): Promise<string[]> {
    const { folders } = await this.bucket.list(this.bucket.folder(prefix));
    return folders
      .filter((f) => f.endsWith(LOG_FOLDER_SUFFIX))
      .map((f) => this.bucket.storeKey(f.slice(0, -LOG_FOLDER_SUFFIX.length)))
      .sort();
  }
}

/** Adds `batch`, the next object of the log, to what `writer` knows. */
function learn(writer: LogWriter, batch: Batch): void {
  mustFollow(batch, writer.next);
  for (const record of batch.records) writer.ids.add(record.id);
  writer.next += batch.records.length;
}

/** Throws unless `batch` starts where the log's objects before it end. */
function mustFollow(batch: Batch, end: number): void {
  if (batch.firstSeq !== end) throw new CorruptS3Log(`${batch.key} starts at seq ${batch.firstSeq}, but the log's objects before it end at ${end}`);
}

/** `records` less those whose id is in `ids` or came earlier in `records`. */
function unseen(records: LogRecord[], ids: Set<string>): LogRecord[] {
  const taken = new Set(ids);
  return records.filter((r) => {
    if (taken.has(r.id)) return false;
    taken.add(r.id);
    return true;
  });
}

function batchKey(folder: string, firstSeq: number): string {
  return `${folder}${String(firstSeq).padStart(12, '0')}.jsonl`;
}

/** The keys of a log's batches, in seq order (their names are zero-padded, so S3's order is it). */
async function batchKeys(bucket: Bucket, folder: string, startAfter?: string): Promise<string[]> {
  const { objects } = await bucket.list(folder, startAfter);
  return objects.filter((k) => BATCH_NAME.test(k.slice(folder.length)));
}

/** The batches at `keys`, read a few at a time, in the order of `keys`. */
async function readBatches(bucket: Bucket, keys: string[]): Promise<Batch[]> {
  const batches: Batch[] = new Array(keys.length);
  let taken = 0;
  const reader = async () => {
    while (taken < keys.length) {
      const i = taken++;
      const text = await bucket.get(keys[i]);
      if (text === undefined) throw new CorruptS3Log(`${keys[i]} was listed, then was not there: something removes a log's objects`);
      batches[i] = parseBatch(keys[i], text);
    }
  };
  await Promise.all(Array.from({ length: Math.min(READ_CONCURRENCY, keys.length) }, reader));
  return batches;
}

function parseBatch(key: string, text: string): Batch {
  const name = BATCH_NAME.exec(key.slice(key.lastIndexOf('/') + 1));
  const lines = text.split('\n');
  if (!name || lines.pop() !== '') throw new CorruptS3Log(`${key} is not a batch this store wrote`);
  const records = lines.map((line) => {
    try {
      const record = JSON.parse(line) as LogRecord;
      if (typeof record?.id === 'string') return record;
    } catch {
      // told below
    }
    throw new CorruptS3Log(`${key} holds a line that is not a record with an id`);
  });
  return { key, firstSeq: Number(name[1]), records };
}

/** Reads a log's batches from the one holding `after + 1`, then waits on the key the next batch will have. */
class S3LogCursor<R extends LogRecord> implements LogCursor<R> {
  /** Whether the log has been listed once; from then on `nextSeq` says where the next batch goes. */
  private placed = false;
  private nextSeq = 0;
  /** Ids read already: the store never writes one twice, and a reader would not pass one twice if it did. */
  private readonly seen = new Set<string>();

  constructor(
    private readonly bucket: Bucket,
    private readonly log: string,
    private readonly after: number,
  ) {}

  async next(): Promise<LogEntry<R>[]> {
    const folder = this.bucket.logFolder(this.log);
    let batches: Batch[];
    if (!this.placed) {
      const keys = await batchKeys(this.bucket, folder);
      // The batch holding seq after + 1 is the last one that starts at or before it.
      const firstSeqs = keys.map((k) => Number(BATCH_NAME.exec(k.slice(folder.length))![1]));
      const start = Math.max(0, firstSeqs.findLastIndex((s) => s <= this.after + 1));
      batches = await readBatches(this.bucket, keys.slice(start));
    } else {
      const key = batchKey(folder, this.nextSeq);
      const text = await this.bucket.get(key);
      if (text === undefined) return [];
      // Something new: the rest of what came since is listed after it, not guessed one GET at a time.
      batches = [parseBatch(key, text), ...(await readBatches(this.bucket, await batchKeys(this.bucket, folder, key)))];
    }
    return this.take(batches);
  }

  /** The entries of `batches` past `after` (the cursor moves only once all of them were read). */
  private take(batches: Batch[]): LogEntry<R>[] {
    const entries: LogEntry<R>[] = [];
    for (const batch of batches) {
      if (this.placed) mustFollow(batch, this.nextSeq);
      batch.records.forEach((record, i) => {
        const seq = batch.firstSeq + i;
        if (seq > this.after && !this.seen.has(record.id)) entries.push({ seq, record: record as R });
        this.seen.add(record.id);
      });
      this.nextSeq = batch.firstSeq + batch.records.length;
      this.placed = true;
    }
    this.placed = true; // an empty log too: the first batch will be at seq 0
    return entries;
  }
}

/** At most `max` values by key, dropping the least recently used (a Map iterates in insertion order, and use re-inserts). */
class RecentlyUsed<V> {
  private readonly values = new Map<string, V>();

  constructor(private readonly max: number) {}

  use(key: string, make: () => V): V {
    const value = this.values.get(key) ?? make();
    this.values.delete(key);
    this.values.set(key, value);
    if (this.values.size > this.max) this.values.delete(this.values.keys().next().value!);
    return value;
  }
}
