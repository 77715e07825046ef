// What every Storage promises (lib/storage/storage.ts), asserted the same way on each: the
// local directory, and S3 on a real S3 server (versitygw). Separate store instances stand for
// separate processes (each S3 one has its own client and its own writer state, as a worker
// would), so the races here are the races of a deployment with many replicas.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { localDirectoryStorage } from '../../../lib/storage/local-storage.js';
import { s3Storage } from '../../../lib/storage/s3-storage.js';
import { coalescingAppends, InvalidStorageKey, type LogEntry, type LogRecord, type Storage } from '../../../lib/storage/storage.js';
import { describeWithPart } from '../../support/required-part.js';
import { startS3Server, versitygwPart, type S3Server } from '../../support/s3-server.js';

const ids = (entries: LogEntry[]) => entries.map((e) => e.record.id);

/** A new store on the same place, as another process would open it. */
type OpenStore = () => Storage;

function storageContract(store: OpenStore): void {
  /** Each test writes under its own prefix, so none sees another's keys. */
  let tests = 0;
  const space = () => `contract-${++tests}`;

  describe('blobs', () => {
    it('puts and gets a blob whole, and a put replaces it whole', async () => {
      const { blobs } = store();
      const at = space();
      const big = 'x'.repeat(3 * 1024 * 1024);
      await blobs.put(`${at}/big.txt`, big);
      await blobs.put(`${at}/note.json`, '{"a":"ünïcödé ✓"}');
      expect(await blobs.get(`${at}/big.txt`)).toBe(big);
      expect(await store().blobs.get(`${at}/note.json`)).toBe('{"a":"ünïcödé ✓"}');
      await blobs.put(`${at}/note.json`, '');
      expect(await blobs.get(`${at}/note.json`)).toBe('');
      expect(await blobs.get(`${at}/missing.json`)).toBeUndefined();
    });

    it('lists the keys directly under a prefix, sorted: blobs, and the prefixes of deeper keys without a trailing slash', async () => {
      const { blobs } = store();
      const at = space();
      for (const key of ['b', 'a', '10', 'c.json', 'd/e', 'd/f/g', 'Z-upper']) await blobs.put(`${at}/${key}`, key);
      expect(await blobs.list(at)).toEqual([`${at}/10`, `${at}/Z-upper`, `${at}/a`, `${at}/b`, `${at}/c.json`, `${at}/d`]);
      expect(await blobs.list(`${at}/d`)).toEqual([`${at}/d/e`, `${at}/d/f`]);
      expect(await blobs.list(`${at}/d/f`)).toEqual([`${at}/d/f/g`]);
      expect(await blobs.list(`${at}/nothing-here`)).toEqual([]);
    });

    it('deletes a key, and deleting what is not there does nothing', async () => {
      const { blobs } = store();
      const at = space();
      await blobs.put(`${at}/a`, 'a');
      await blobs.put(`${at}/b`, 'b');
      await blobs.delete(`${at}/a`);
      expect(await blobs.get(`${at}/a`)).toBeUndefined();
      expect(await blobs.list(at)).toEqual([`${at}/b`]);
      await blobs.delete(`${at}/a`);
      await blobs.delete(`${at}/never/was`);
      expect(await blobs.list(at)).toEqual([`${at}/b`]);
    });

    it('creates a key once: true, then false, and the first content stays', async () => {
      const { blobs } = store();
      const at = space();
      expect(await blobs.createIfAbsent(`${at}/delivery`, 'first')).toBe(true);
      expect(await blobs.createIfAbsent(`${at}/delivery`, 'second')).toBe(false);
      expect(await store().blobs.createIfAbsent(`${at}/delivery`, 'third')).toBe(false);
      expect(await blobs.get(`${at}/delivery`)).toBe('first');
    });

    it('lets exactly one of 20 stores racing to create one key win', async () => {
      const at = space();
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => store().blobs.createIfAbsent(`${at}/delivery`, `store ${i}`)));
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await store().blobs.get(`${at}/delivery`)).toBe(`store ${results.indexOf(true)}`);
    });
  });

  describe('logs', () => {
    const seqs = (entries: LogEntry[]) => entries.map((e) => e.seq);
    const readAll = async (s: Storage, log: string, after?: number) => s.logs.tail(log, after).next();

    it('gives what was appended in order, numbered from 0 without gaps, fields and all', async () => {
      const { logs } = store();
      const log = `${space()}/events`;
      await logs.append(log, [{ id: 'a', type: 'started', n: 1 }]);
      await logs.append(log, [
        { id: 'b', nested: { list: [1, 'two', null], text: 'line\nbreak "quoted" ✓' } },
        { id: 'c', type: 'model' },
      ]);
      await logs.append(log, []);
      await logs.append(log, [{ id: 'd' }]);
      const entries = await readAll(store(), log);
      expect(entries).toEqual([
        { seq: 0, record: { id: 'a', type: 'started', n: 1 } },
        { seq: 1, record: { id: 'b', nested: { list: [1, 'two', null], text: 'line\nbreak "quoted" ✓' } } },
        { seq: 2, record: { id: 'c', type: 'model' } },
        { seq: 3, record: { id: 'd' } },
      ]);
    });

    it('leaves out a record whose id the log holds: a retried batch adds nothing, and the first copy wins', async () => {
      const { logs } = store();
      const log = `${space()}/events`;
      await logs.append(log, [{ id: 'a', v: 1 }, { id: 'b', v: 1 }]);
      await logs.append(log, [{ id: 'a', v: 2 }, { id: 'b', v: 2 }]);
      await store().logs.append(log, [{ id: 'a', v: 3 }, { id: 'b', v: 3 }]); // the retry from another process
      await logs.append(log, [{ id: 'b', v: 4 }, { id: 'c', v: 4 }, { id: 'c', v: 5 }]);
      expect((await readAll(store(), log)).map((e) => [e.seq, e.record.id, e.record.v])).toEqual([
        [0, 'a', 1],
        [1, 'b', 1],
        [2, 'c', 4],
      ]);
    });

    it.each([2, 8])('loses and duplicates nothing with %i stores appending at once, and every reader sees one order', async (writers) => {
      const log = `${space()}/events`;
      const batchesEach = 6;
      const batch = (w: number, b: number): LogRecord[] => [0, 1, 2].map((r) => ({ id: `w${w}-b${b}-r${r}`, w, b }));
      // Each store appends its batches in turn, sending some twice (an activity's retry), and
      // every store also sends one batch that all of them share (the same event recorded by two
      // replicas): it must be there once.
      const shared: LogRecord[] = [{ id: 'shared-1' }, { id: 'shared-2' }];
      await Promise.all(
        Array.from({ length: writers }, async (_, w) => {
          const { logs } = store();
          for (let b = 0; b < batchesEach; b++) {
            await logs.append(log, batch(w, b));
            if (b % 2 === 1) await logs.append(log, batch(w, b));
            if (b === 2) await logs.append(log, shared);
          }
        }),
      );
      const readers = await Promise.all([store(), store(), store()].map((s) => readAll(s, log)));
      const [first] = readers;
      for (const other of readers) expect(other).toEqual(first);
      const expected = [...Array.from({ length: writers }, (_, w) => Array.from({ length: batchesEach }, (_, b) => batch(w, b).map((r) => r.id))).flat(2), 'shared-1', 'shared-2'];
      expect([...ids(first)].sort()).toEqual(expected.sort());
      expect(seqs(first)).toEqual(first.map((_, i) => i));
      // A batch is seen whole, its records together and in order; each store's batches in the order it sent them.
      const at = new Map(ids(first).map((id, i) => [id, i]));
      for (let w = 0; w < writers; w++) {
        const starts = Array.from({ length: batchesEach }, (_, b) => {
          const places = batch(w, b).map((r) => at.get(r.id)!);
          expect(places).toEqual([places[0], places[0] + 1, places[0] + 2]);
          return places[0];
        });
        expect(starts).toEqual([...starts].sort((x, y) => x - y));
      }
      expect(at.get('shared-2')).toBe(at.get('shared-1')! + 1);
    });

    it('resumes after a seq exactly, wherever it falls', async () => {
      const { logs } = store();
      const log = `${space()}/events`;
      const all: string[] = [];
      for (const size of [3, 1, 4, 2]) {
        const records = Array.from({ length: size }, (_, i) => ({ id: `r${all.length + i}` }));
        all.push(...records.map((r) => r.id));
        await logs.append(log, records);
      }
      for (const after of [-1, 0, 1, 2, 3, 4, 7, 8, 9, 10, 25]) {
        const entries = await readAll(store(), log, after);
        expect(ids(entries)).toEqual(all.slice(after + 1));
        expect(seqs(entries)).toEqual(all.map((_, i) => i).slice(after + 1));
      }
    });

    it('gives a cursor what was appended after its last call on its next call, and nothing when nothing was', async () => {
      const log = `${space()}/events`;
      const cursor = store().logs.tail(log);
      expect(await cursor.next()).toEqual([]); // before the log exists
      await store().logs.append(log, [{ id: 'a' }, { id: 'b' }]);
      expect(await cursor.next()).toEqual([
        { seq: 0, record: { id: 'a' } },
        { seq: 1, record: { id: 'b' } },
      ]);
      expect(await cursor.next()).toEqual([]);
      await store().logs.append(log, [{ id: 'c' }]);
      await store().logs.append(log, [{ id: 'b' }, { id: 'd' }]);
      await store().logs.append(log, [{ id: 'e' }]);
      expect(await cursor.next()).toEqual([
        { seq: 2, record: { id: 'c' } },
        { seq: 3, record: { id: 'd' } },
        { seq: 4, record: { id: 'e' } },
      ]);
      expect(await cursor.next()).toEqual([]);
      const resumed = store().logs.tail(log, 3);
      expect(await resumed.next()).toEqual([{ seq: 4, record: { id: 'e' } }]);
      await store().logs.append(log, [{ id: 'f' }]);
      expect(await resumed.next()).toEqual([{ seq: 5, record: { id: 'f' } }]);
    });

    it('lists the logs directly under a prefix by name, sorted, and nothing else', async () => {
      const { logs, blobs } = store();
      const at = space();
      for (const name of ['2024-01-02', '2024-01-01', 'deeper/log']) await logs.append(`${at}/audit/${name}`, [{ id: 'x' }]);
      await blobs.put(`${at}/audit/a-blob`, 'not a log');
      expect(await logs.logs(`${at}/audit`)).toEqual([`${at}/audit/2024-01-01`, `${at}/audit/2024-01-02`]);
      expect(await store().logs.logs(`${at}/audit/deeper`)).toEqual([`${at}/audit/deeper/log`]);
      expect(await logs.logs(`${at}/nothing-here`)).toEqual([]);
    });
  });

  describe('archives', () => {
    it('uploads a file and downloads it byte for byte, replaces it whole, and deletes it', async () => {
      const { archives } = store();
      const at = space();
      const dir = mkdtempSync(path.join(os.tmpdir(), 'errand-archive-'));
      const bytes = randomBytes(5 * 1024 * 1024);
      writeFileSync(path.join(dir, 'in'), bytes);
      await archives.upload(`${at}/snapshot.tar`, path.join(dir, 'in'));
      expect(await store().archives.download(`${at}/snapshot.tar`, path.join(dir, 'out'))).toBe(true);
      expect(readFileSync(path.join(dir, 'out')).equals(bytes)).toBe(true);
      writeFileSync(path.join(dir, 'in'), 'smaller');
      await archives.upload(`${at}/snapshot.tar`, path.join(dir, 'in'));
      await archives.download(`${at}/snapshot.tar`, path.join(dir, 'out'));
      expect(readFileSync(path.join(dir, 'out'), 'utf8')).toBe('smaller');
      await archives.delete(`${at}/snapshot.tar`);
      await archives.delete(`${at}/snapshot.tar`);
      expect(await archives.download(`${at}/snapshot.tar`, path.join(dir, 'gone'))).toBe(false);
    });
  });

  it.each(['../x', 'a//b', '.', '..', 'a/./b', '/abs', 'a/', 'back\\slash', 'sp ace', ''])('refuses the key %j, whatever the operation', async (key) => {
    const { blobs, logs, archives } = store();
    const operations = [
      () => archives.upload(key, '/dev/null'),
      () => archives.download(key, '/dev/null'),
      () => archives.delete(key),
      () => blobs.put(key, 'x'),
      () => blobs.createIfAbsent(key, 'x'),
      () => blobs.get(key),
      () => blobs.delete(key),
      () => logs.append(key, [{ id: 'x' }]),
      () => logs.tail(key).next(),
      // A prefix may end in '/' (`tasks/t1/`), so 'a/' is a fine one to list.
      ...(key === 'a/' ? [] : [() => blobs.list(key), () => logs.logs(key)]),
    ];
    for (const operation of operations) await expect((async () => operation())()).rejects.toThrow(InvalidStorageKey);
  });
}

describe('storage contract: local directory', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'errand-storage-contract-'));
  storageContract(() => localDirectoryStorage(dir));
});

describe('storage contract: local directory, appends joined as Errand opens it', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'errand-storage-contract-'));
  storageContract(() => coalescingAppends(localDirectoryStorage(dir)));
});

describe('appends joined', () => {
  it('writes a burst of appends to one log in a few writes, each caller told when its records are written, none lost or reordered', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'errand-storage-joined-'));
    const base = localDirectoryStorage(dir);
    const writes: number[] = [];
    const counted = { ...base, logs: { ...base.logs, append: (log: string, records: LogRecord[]) => (writes.push(records.length), base.logs.append(log, records)) } };
    const { logs } = coalescingAppends(counted);
    const written = await Promise.all(
      Array.from({ length: 100 }, async (_, i) => {
        await logs.append('audit/2026-12-06', [{ id: `r${i}-a` }, { id: `r${i}-b` }]);
        // Once told, its records are there for any reader.
        return ids(await localDirectoryStorage(dir).logs.tail('audit/2026-12-06').next()).includes(`r${i}-b`);
      }),
    );
    expect(written.every(Boolean)).toBe(true);
    // The first alone, at once; the 99 that came while it was written, together.
    expect(writes).toEqual([2, 198]);
    const all = ids(await base.logs.tail('audit/2026-12-06').next());
    expect(all).toEqual(Array.from({ length: 100 }, (_, i) => [`r${i}-a`, `r${i}-b`]).flat());
  });

  it('fails every caller whose records were in a failed write, and writes the next ones', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'errand-storage-joined-'));
    const base = localDirectoryStorage(dir);
    let failNext = true;
    const append = async (log: string, records: LogRecord[]) => {
      await new Promise((r) => setTimeout(r, 20));
      if (failNext) {
        failNext = false;
        throw new Error('the store is down');
      }
      return base.logs.append(log, records);
    };
    const flaky = { ...base, logs: { ...base.logs, append } };
    const { logs } = coalescingAppends(flaky);
    const outcomes = await Promise.allSettled([logs.append('l', [{ id: 'a' }]), logs.append('l', [{ id: 'b' }]), logs.append('l', [{ id: 'c' }])]);
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'fulfilled', 'fulfilled']);
    expect(ids(await base.logs.tail('l').next())).toEqual(['b', 'c']);
  });
});

describeWithPart(versitygwPart, 'storage contract: S3 (versitygw)', () => {
  let server: S3Server;
  beforeAll(async () => {
    server = await startS3Server();
  });
  afterAll(async () => {
    await server?.stop();
  });
  storageContract(() => s3Storage({ bucket: server.bucket, prefix: 'errand' }, server.client()));
  describe('appends joined as Errand opens it', () => {
    storageContract(() => coalescingAppends(s3Storage({ bucket: server.bucket, prefix: 'errand-joined' }, server.client())));
  });

  describe('what the S3 store relies on', () => {
    it('refuses a second PUT with If-None-Match: * (412) and keeps the first', async () => {
      const client = server.client();
      const put = (body: string) => client.send(new PutObjectCommand({ Bucket: server.bucket, Key: 'relied-on/once', Body: body, IfNoneMatch: '*' }));
      await put('first');
      await expect(put('second')).rejects.toMatchObject({ name: 'PreconditionFailed', $metadata: { httpStatusCode: 412 } });
      const got = await client.send(new GetObjectCommand({ Bucket: server.bucket, Key: 'relied-on/once' }));
      expect(await got.Body!.transformToString()).toBe('first');
    });

    it('answers 404 NoSuchKey, not 403, for a key that is not there', async () => {
      await expect(server.client().send(new GetObjectCommand({ Bucket: server.bucket, Key: 'relied-on/missing' }))).rejects.toMatchObject({
        name: 'NoSuchKey',
        $metadata: { httpStatusCode: 404 },
      });
    });

    it('lists after StartAfter, in key order', async () => {
      const client = server.client();
      for (const n of [2, 0, 1, 10]) await client.send(new PutObjectCommand({ Bucket: server.bucket, Key: `relied-on/log~/${String(n).padStart(12, '0')}.jsonl`, Body: `{"id":"${n}"}\n` }));
      const page = await client.send(new ListObjectsV2Command({ Bucket: server.bucket, Prefix: 'relied-on/log~/', Delimiter: '/', StartAfter: 'relied-on/log~/000000000001.jsonl' }));
      expect(page.Contents?.map((o) => o.Key)).toEqual(['relied-on/log~/000000000002.jsonl', 'relied-on/log~/000000000010.jsonl']);
    });
  });

  it('takes its credentials from the default chain of the SDK (here the environment), never from options', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: server.accessKeyId, AWS_SECRET_ACCESS_KEY: server.secretAccessKey });
    try {
      const { blobs } = s3Storage({ bucket: server.bucket, prefix: 'from-options', endpoint: server.endpoint, region: server.region, forcePathStyle: true });
      await blobs.put('from-options/a', 'a');
      expect(await blobs.get('from-options/a')).toBe('a');
    } finally {
      process.env = saved;
    }
  });

  describe('what the S3 store costs and survives', () => {
    /** An S3 store whose requests are counted by command, and whose next PutObject can have its answer lost after it landed. */
    const instrumented = () => {
      const client = server.client();
      const sent: string[] = [];
      let loseNextPutAnswer = false;
      client.middlewareStack.add(
        (next, context) => async (args) => {
          sent.push(context.commandName!.replace(/Command$/, ''));
          const result = await next(args);
          if (loseNextPutAnswer && context.commandName === 'PutObjectCommand') {
            loseNextPutAnswer = false;
            throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }); // the SDK retries this
          }
          return result;
        },
        { step: 'deserialize', name: 'countRequests' }, // inside the SDK's retries: each try counts
      );
      const storage = s3Storage({ bucket: server.bucket, prefix: 'costs' }, client);
      return {
        storage,
        /** The requests sent by `action`, by command. */
        async requests(action: () => Promise<unknown>) {
          sent.length = 0;
          await action();
          return [...sent].sort();
        },
        loseNextPutAnswer: () => void (loseNextPutAnswer = true),
      };
    };

    it('appends with one PUT once it knows the log, learns a log with one LIST and a GET per batch, and polls an idle log with one GET', async () => {
      const log = 'costs/events';
      const other = s3Storage({ bucket: server.bucket, prefix: 'costs' }, server.client());
      await other.logs.append(log, [{ id: 'a' }]);
      await other.logs.append(log, [{ id: 'b' }, { id: 'c' }]);
      const { storage, requests } = instrumented();
      expect(await requests(() => storage.logs.append(log, [{ id: 'd' }]))).toEqual(['GetObject', 'GetObject', 'ListObjectsV2', 'PutObject']);
      expect(await requests(() => storage.logs.append(log, [{ id: 'e' }]))).toEqual(['PutObject']);
      expect(await requests(() => storage.logs.append(log, [{ id: 'e' }, { id: 'd' }]))).toEqual([]);
      await other.logs.append(log, [{ id: 'f' }]); // another writer got the next key first
      expect(await requests(() => storage.logs.append(log, [{ id: 'g' }]))).toEqual(['GetObject', 'PutObject', 'PutObject']);
      const cursor = storage.logs.tail(log);
      expect(await requests(() => cursor.next())).toEqual(['GetObject', 'GetObject', 'GetObject', 'GetObject', 'GetObject', 'GetObject', 'ListObjectsV2']);
      expect(await requests(() => cursor.next())).toEqual(['GetObject']);
      await other.logs.append(log, [{ id: 'h' }]);
      await other.logs.append(log, [{ id: 'i' }]);
      expect(await requests(() => cursor.next())).toEqual(['GetObject', 'GetObject', 'ListObjectsV2']);
      expect(await requests(() => storage.blobs.createIfAbsent('costs/once', 'x'))).toEqual(['PutObject']);
      expect(await requests(() => storage.blobs.createIfAbsent('costs/once', 'x'))).toEqual(['HeadObject', 'PutObject']);
    });

    it('finds its own batch when a PUT landed but its answer was lost and the retry was refused', async () => {
      const log = 'lost/events';
      const { storage, requests, loseNextPutAnswer } = instrumented();
      await storage.logs.append(log, [{ id: 'a' }]);
      loseNextPutAnswer();
      expect(await requests(() => storage.logs.append(log, [{ id: 'b' }, { id: 'c' }]))).toEqual(['GetObject', 'PutObject', 'PutObject']);
      await storage.logs.append(log, [{ id: 'd' }]);
      expect((await s3Storage({ bucket: server.bucket, prefix: 'costs' }, server.client()).logs.tail(log).next()).map((e) => [e.seq, e.record.id])).toEqual([
        [0, 'a'],
        [1, 'b'],
        [2, 'c'],
        [3, 'd'],
      ]);
    });

    it('waits out S3 being unreachable: a write made meanwhile lands once it is back, once', async () => {
      const log = 'outage/waited';
      const { logs } = s3Storage({ bucket: server.bucket, prefix: 'costs' }, server.client());
      await logs.append(log, [{ id: 'a' }]);
      await server.pause();
      let landed = false;
      const append = logs.append(log, [{ id: 'b' }]).then(() => (landed = true));
      await new Promise((r) => setTimeout(r, 3_000));
      expect(landed).toBe(false);
      await server.resume();
      await append;
      expect(ids(await s3Storage({ bucket: server.bucket, prefix: 'costs' }, server.client()).logs.tail(log).next())).toEqual(['a', 'b']);
    });

    it('fails when S3 stays away longer than it waits and, once it is back, goes on where it was: nothing lost, nothing twice', async () => {
      const log = 'outage/events';
      const { logs } = s3Storage({ bucket: server.bucket, prefix: 'costs', outageMs: 0 }, server.client());
      const cursor = s3Storage({ bucket: server.bucket, prefix: 'costs', outageMs: 0 }, server.client()).logs.tail(log);
      await logs.append(log, [{ id: 'a' }]);
      expect(ids(await cursor.next())).toEqual(['a']);
      await server.pause();
      try {
        await expect(logs.append(log, [{ id: 'b' }])).rejects.toThrow();
        await expect(cursor.next()).rejects.toThrow();
      } finally {
        await server.resume();
      }
      await logs.append(log, [{ id: 'b' }]); // the activity's retry
      await logs.append(log, [{ id: 'b' }, { id: 'c' }]);
      expect((await cursor.next()).map((e) => [e.seq, e.record.id])).toEqual([
        [1, 'b'],
        [2, 'c'],
      ]);
    });

    it('says true to the createIfAbsent whose PUT landed though its answer was lost', async () => {
      const { storage, loseNextPutAnswer } = instrumented();
      loseNextPutAnswer();
      expect(await storage.blobs.createIfAbsent('lost/delivery', 'mine')).toBe(true);
      expect(await storage.blobs.createIfAbsent('lost/delivery', 'again')).toBe(false);
    });
  });
});
