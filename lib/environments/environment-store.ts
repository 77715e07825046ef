// Where repositories' environment snapshots are kept (the artifact store: a directory, or object
// storage), and the rules they are kept by: one folder per repository, one snapshot per key with
// its digest and what it was made from; a time to live, a size limit per repository and for the
// installation with the least recently used evicted first; a log of every hit, miss and save for
// people to read. The worker saves and restores; the API describes and invalidates.
import { randomUUID } from 'node:crypto';
import type { ArchiveStore, LogRecord, Storage } from '../storage/storage.js';

export interface EnvironmentLimits {
  /** Bytes of snapshots one repository may keep. */
  maxRepoBytes: number;
  /** Bytes of snapshots the installation keeps. */
  maxTotalBytes: number;
  /** A snapshot not used for this long is not used again. */
  ttlMs: number;
}

export const DEFAULT_ENVIRONMENT_LIMITS: EnvironmentLimits = { maxRepoBytes: 4 * 2 ** 30, maxTotalBytes: 40 * 2 ** 30, ttlMs: 72 * 3_600_000 };

export interface SnapshotMeta {
  key: string;
  repo: string;
  baseBranch: string;
  /** The commit whose setup made it. */
  baseSha: string;
  inputs: { setup: string; files: { path: string; blob: string }[]; patterns: string[]; image: string; setupNetwork: boolean; format: number };
  bytes: number;
  sha256: string;
  /** The archive's name in its key's folder (absent in snapshots from before: `snapshot.tar`). */
  archive?: string;
  /** The image the task asked for (none: the provider's default), which a refresh provisions again. */
  sandboxImage?: string;
  createdAt: string;
  /** The task whose setup made it. */
  createdBy: string;
}

export interface SnapshotUse extends LogRecord {
  at: string;
  kind: 'hit' | 'miss' | 'saved' | 'refreshed' | 'evicted' | 'invalidated';
  key?: string;
  taskId?: string;
  why?: string;
}

export interface EnvironmentDescription {
  repo: string;
  snapshots: (SnapshotMeta & { lastUsedAt: string })[];
  hits: number;
  misses: number;
  recent: SnapshotUse[];
}

export class EnvironmentStore {
  constructor(
    private readonly storage: Storage & { archives: ArchiveStore },
    private readonly limits: EnvironmentLimits = DEFAULT_ENVIRONMENT_LIMITS,
  ) {}

  /** What is known of the snapshot of `key` in the repository's `folder`, with when it was last used. */
  async meta(folder: string, key: string): Promise<(SnapshotMeta & { lastUsedAt: string }) | undefined> {
    const raw = await this.storage.blobs.get(`${folder}/${key}/meta.json`);
    if (!raw) return undefined;
    const meta = JSON.parse(raw) as SnapshotMeta;
    const lastUsedAt = (await this.storage.blobs.get(`${folder}/${key}/used`)) ?? meta.createdAt;
    return { ...meta, lastUsedAt };
  }

  /** Not used within its time to live: not used again, and gone at the next eviction. */
  expired(meta: { lastUsedAt: string }): boolean {
    return Date.now() - Date.parse(meta.lastUsedAt) > this.limits.ttlMs;
  }

  /** Downloads the snapshot to `file`: false when it is gone (evicted, invalidated) or expired. */
  async fetch(folder: string, meta: SnapshotMeta & { lastUsedAt: string }, file: string): Promise<boolean> {
    if (this.expired(meta)) return false;
    return this.storage.archives.download(archiveKey(folder, meta), file);
  }

  async touch(folder: string, key: string, at = new Date().toISOString()): Promise<void> {
    await this.storage.blobs.put(`${folder}/${key}/used`, at);
  }

  /**
   * Keeps a snapshot, its archive named by its digest so that the metadata always names an
   * archive that matches it (of two saved at once for one key, the last metadata written stays,
   * the other's archive goes); then evicts what is over the repository's limits. `usedAt`: when
   * it counts as last used (a refresh carries over its predecessor's; by default now).
   */
  async save(folder: string, meta: SnapshotMeta, file: string, usedAt?: string): Promise<void> {
    const kept = { ...meta, archive: `${meta.sha256}.tar` };
    const before = await this.meta(folder, meta.key);
    await this.storage.archives.upload(archiveKey(folder, kept), file);
    await this.storage.blobs.put(`${folder}/${meta.key}/meta.json`, JSON.stringify(kept));
    await this.touch(folder, meta.key, usedAt);
    if (before && archiveKey(folder, before) !== archiveKey(folder, kept)) await this.storage.archives.delete(archiveKey(folder, before));
    await this.evict([folder]);
  }

  /**
   * The repositories whose environment a task used (restored or made) within `withinMs`, most
   * recent first, at most `limit`: each with its most recently used snapshot, which says how to
   * make it again (repository, base branch, setup, image, network).
   */
  async recentlyUsed(withinMs: number, limit: number): Promise<(SnapshotMeta & { lastUsedAt: string; folder: string })[]> {
    const latest = await Promise.all((await this.folders()).map(async (folder) => ({ folder, ...(await this.snapshots(folder))[0]! })));
    return latest
      .filter((s) => s.key && Date.now() - Date.parse(s.lastUsedAt) <= withinMs)
      .sort((a, b) => (a.lastUsedAt < b.lastUsedAt ? 1 : -1))
      .slice(0, limit);
  }

  async record(folder: string, use: Omit<SnapshotUse, 'id' | 'at'>): Promise<void> {
    await this.storage.logs.append(`${folder}/uses`, [{ id: randomUUID(), at: new Date().toISOString(), ...use }]);
  }

  async remove(folder: string, key: string): Promise<void> {
    const meta = await this.meta(folder, key);
    if (meta) await this.storage.archives.delete(archiveKey(folder, meta));
    await this.storage.blobs.delete(`${folder}/${key}/meta.json`);
    await this.storage.blobs.delete(`${folder}/${key}/used`);
  }

  /** Every snapshot of the repository whose folder is `folder`, newest use first. */
  async snapshots(folder: string): Promise<(SnapshotMeta & { lastUsedAt: string })[]> {
    const keys = (await this.storage.blobs.list(folder)).map((k) => k.slice(folder.length + 1)).filter((k) => /^[0-9a-f]{40}$/.test(k));
    const metas = await Promise.all(keys.map((k) => this.meta(folder, k)));
    return metas.filter((m) => m !== undefined).sort((a, b) => (a.lastUsedAt < b.lastUsedAt ? 1 : -1));
  }

  async describe(folder: string, repo: string): Promise<EnvironmentDescription> {
    const uses = (await this.storage.logs.tail<SnapshotUse>(`${folder}/uses`).next()).map((e) => e.record);
    return {
      repo,
      snapshots: await this.snapshots(folder),
      hits: uses.filter((u) => u.kind === 'hit').length,
      misses: uses.filter((u) => u.kind === 'miss').length,
      recent: uses.slice(-20).reverse(),
    };
  }

  /** Removes every snapshot of the repository; the next task runs its setup and makes a new one. */
  async invalidate(folder: string, by: string): Promise<number> {
    const snapshots = await this.snapshots(folder);
    for (const s of snapshots) await this.remove(folder, s.key);
    await this.record(folder, { kind: 'invalidated', why: `by ${by}` });
    return snapshots.length;
  }

  /**
   * Expired snapshots, then the least recently used beyond each repository's limit and (when
   * every repository is looked at, as the environment-refresh schedule does) the installation's.
   * Returns how many it removed.
   */
  async evict(only?: string[]): Promise<number> {
    const folders = only ?? (await this.folders());
    const all = (await Promise.all(folders.map(async (folder) => (await this.snapshots(folder)).map((s) => ({ folder, ...s }))))).flat();
    const now = Date.now();
    const gone = new Set<string>();
    const drop = async (s: (typeof all)[number], why: string) => {
      gone.add(`${s.folder}/${s.key}`);
      await this.remove(s.folder, s.key);
      await this.record(s.folder, { kind: 'evicted', key: s.key, why });
    };
    for (const s of all) if (now - Date.parse(s.lastUsedAt) > this.limits.ttlMs) await drop(s, 'not used within its time to live');
    for (const folder of folders) {
      let bytes = 0;
      for (const s of all.filter((x) => x.folder === folder && !gone.has(`${x.folder}/${x.key}`))) {
        bytes += s.bytes;
        if (bytes > this.limits.maxRepoBytes) await drop(s, 'over the repository\'s size limit (least recently used first)');
      }
    }
    if (!only) {
      let total = 0;
      for (const s of [...all].sort((a, b) => (a.lastUsedAt < b.lastUsedAt ? 1 : -1))) {
        if (gone.has(`${s.folder}/${s.key}`)) continue;
        total += s.bytes;
        if (total > this.limits.maxTotalBytes) await drop(s, "over the installation's size limit (least recently used first)");
      }
    }
    return gone.size;
  }

  private async folders(): Promise<string[]> {
    return (await this.storage.blobs.list('environments')).filter((f) => /^environments\/[0-9a-f]{24}$/.test(f));
  }
}

const archiveKey = (folder: string, meta: Pick<SnapshotMeta, 'key' | 'archive'>) => `${folder}/${meta.key}/${meta.archive ?? 'snapshot.tar'}`;
