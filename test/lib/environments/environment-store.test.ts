// The rules environments are kept by, on the local store: a time to live, a limit per repository
// and one for the installation with the least recently used going first, invalidation by
// people, and the record of hits and misses they read.
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { environmentKey, repoFolder, SNAPSHOT_FORMAT } from '../../../lib/environments/environment-key.js';
import { EnvironmentStore, type SnapshotMeta } from '../../../lib/environments/environment-store.js';
import { localDirectoryStorage } from '../../../lib/storage/local-storage.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'errand-env-store-'));
const archive = (bytes: number) => {
  const file = path.join(dir, `archive-${bytes}`);
  writeFileSync(file, Buffer.alloc(bytes, 7));
  return file;
};
const inputs = (lock: string) => ({ setup: 'bash .errand/setup.sh', files: [{ path: 'package-lock.json', blob: lock }], patterns: ['**/package-lock.json'], image: 'local', setupNetwork: true, format: SNAPSHOT_FORMAT });
const meta = (repo: string, lock: string, bytes: number): SnapshotMeta => ({
  key: environmentKey({ repo, baseBranch: 'main', ...inputs(lock) }),
  repo,
  baseBranch: 'main',
  baseSha: 'a'.repeat(40),
  inputs: inputs(lock),
  bytes,
  sha256: 'x',
  createdAt: new Date().toISOString(),
  createdBy: 't1',
});

describe('environment keys', () => {
  it('change with every input and with nothing else', () => {
    const base = { repo: 'acme/api', baseBranch: 'main', ...inputs('b1') };
    const key = environmentKey(base);
    expect(environmentKey({ ...base, files: [...base.files].reverse() })).toBe(key);
    for (const changed of [{ repo: 'acme/web' }, { baseBranch: 'dev' }, { setup: 'npm ci' }, { files: [{ path: 'package-lock.json', blob: 'b2' }] }, { image: 'other' }, { setupNetwork: false }, { format: SNAPSHOT_FORMAT + 1 }, { patterns: ['yarn.lock'] }]) {
      expect(environmentKey({ ...base, ...changed })).not.toBe(key);
    }
  });
});

describe('the environment store', () => {
  it('evicts the least recently used over a repository\'s limit and over the installation\'s, and what outlived its time', async () => {
    const storage = localDirectoryStorage(mkdtempSync(path.join(dir, 'store-')));
    const store = new EnvironmentStore(storage, { maxRepoBytes: 250, maxTotalBytes: 400, ttlMs: 60_000 });
    const api = repoFolder('acme/api');
    const web = repoFolder('acme/web');
    const a1 = meta('acme/api', 'l1', 100);
    const a2 = meta('acme/api', 'l2', 100);
    await store.save(api, a1, archive(100));
    await store.save(api, a2, archive(100));
    await store.touch(api, a1.key); // a1 used after a2
    const a3 = meta('acme/api', 'l3', 100);
    await store.save(api, a3, archive(100)); // 300 > 250: the least recently used (a2) goes
    expect((await store.snapshots(api)).map((s) => s.key).sort()).toEqual([a1.key, a3.key].sort());
    const w1 = meta('acme/web', 'l1', 200);
    await store.save(web, w1, archive(200)); // 400 in all: fits
    const w2 = meta('acme/web', 'l2', 50);
    await store.save(web, w2, archive(50)); // 450 > 400: a save looks at its own repository only...
    expect([...(await store.snapshots(api)), ...(await store.snapshots(web))]).toHaveLength(4);
    expect(await store.evict()).toBeGreaterThan(0); // ...the schedule's eviction at all: the installation's least recently used (a1, then a3...) go
    const left = [...(await store.snapshots(api)), ...(await store.snapshots(web))].map((s) => s.key);
    expect(left).toContain(w2.key);
    expect(left).not.toContain(a1.key);
    expect(left.length).toBeLessThan(4);
    expect((await store.describe(api, 'acme/api')).recent.filter((u) => u.kind === 'evicted').length).toBeGreaterThanOrEqual(2);

    // Not used within its time to live: not fetched, then evicted.
    const old = await store.meta(web, w2.key);
    expect(await store.fetch(web, { ...old!, lastUsedAt: new Date(Date.now() - 120_000).toISOString() }, path.join(dir, 'out'))).toBe(false);
    await storage.blobs.put(`${web}/${w2.key}/used`, new Date(Date.now() - 120_000).toISOString());
    await store.evict();
    expect((await store.snapshots(web)).map((s) => s.key)).not.toContain(w2.key);
  });

  it('names each archive by its digest, so a snapshot saved again for its key never leaves a mismatched pair or the old archive', async () => {
    const dirOf = mkdtempSync(path.join(dir, 'store-'));
    const store = new EnvironmentStore(localDirectoryStorage(dirOf));
    const folder = repoFolder('acme/api');
    const one = { ...meta('acme/api', 'l1', 10), sha256: 'a'.repeat(64) };
    const two = { ...one, sha256: 'b'.repeat(64), bytes: 20 };
    await store.save(folder, one, archive(10));
    await store.save(folder, two, archive(20));
    const kept = await store.meta(folder, one.key);
    expect(kept).toMatchObject({ sha256: two.sha256, bytes: 20, archive: `${two.sha256}.tar` });
    const out = path.join(dirOf, 'fetched');
    expect(await store.fetch(folder, kept!, out)).toBe(true);
    expect(await store.fetch(folder, { ...kept!, archive: `${one.sha256}.tar` }, out)).toBe(false);
  });

  it('lists the repositories whose environment a task used lately, most recent first, with how to make it again', async () => {
    const store = new EnvironmentStore(localDirectoryStorage(mkdtempSync(path.join(dir, 'store-'))));
    const hour = 3_600_000;
    const used = async (repo: string, agoMs: number) => {
      const m = { ...meta(repo, 'l1', 10), sandboxImage: `${repo}-image` };
      await store.save(repoFolder(repo), m, archive(10), new Date(Date.now() - agoMs).toISOString());
    };
    await used('acme/old', 30 * hour);
    await used('acme/api', 2 * hour);
    await used('acme/web', 1 * hour);
    await used('acme/cli', 3 * hour);
    const recent = await store.recentlyUsed(24 * hour, 2);
    expect(recent.map((r) => [r.repo, r.sandboxImage, r.folder])).toEqual([
      ['acme/web', 'acme/web-image', repoFolder('acme/web')],
      ['acme/api', 'acme/api-image', repoFolder('acme/api')],
    ]);
    expect((await store.recentlyUsed(24 * hour, 10)).map((r) => r.repo)).not.toContain('acme/old');
  });

  it('invalidates a repository\'s snapshots when people ask, and counts hits and misses', async () => {
    const store = new EnvironmentStore(localDirectoryStorage(mkdtempSync(path.join(dir, 'store-'))));
    const folder = repoFolder('acme/api');
    const m = meta('acme/api', 'l1', 10);
    await store.save(folder, m, archive(10));
    await store.record(folder, { kind: 'miss', key: m.key, taskId: 't1', why: 'none kept' });
    await store.record(folder, { kind: 'hit', key: m.key, taskId: 't2' });
    await store.record(folder, { kind: 'hit', key: m.key, taskId: 't3' });
    expect(await store.describe(folder, 'acme/api')).toMatchObject({ hits: 2, misses: 1, snapshots: [{ key: m.key, bytes: 10 }] });
    expect(await store.invalidate(folder, 'ops')).toBe(1);
    expect((await store.describe(folder, 'acme/api')).snapshots).toEqual([]);
    expect(await store.fetch(folder, { ...m, lastUsedAt: new Date().toISOString() }, path.join(dir, 'gone'))).toBe(false);
  });
});
