// The repository's setup, from its kept environment when one matches: on the base, before the
// agent, a snapshot whose key matches is fetched, checked against its digest and unpacked, and
// the repository's maintenance script (if any) catches up on what the key does not cover; on a
// miss (none, expired, corrupt, or a restore or maintenance that failed) the setup runs as ever
// and what it left is kept for the next task. A snapshot is only ever taken here, right after a
// setup on a commit of the base branch, before any work is restored or any agent step runs:
// never from a sandbox the agent touched. Nothing here fails a task that setup alone would not.
// A refresh (the environment-refresh schedule) runs the same on the base branch's tip in a
// sandbox of its own, and only makes a snapshot when none is kept for its inputs; where the
// provider restores copy-on-write, it also unpacks that snapshot's layer on its host.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { EnvironmentStore, SnapshotMeta } from '../../lib/environments/environment-store.js';
import type { SandboxdClient } from '../sandbox/sandboxd-client.js';
import type { SandboxLayers } from '../sandbox/provider.js';
import { DEFAULT_INPUTS, environmentKey, repoFolder, SNAPSHOT_FORMAT } from '../../lib/environments/environment-key.js';
import { fileDigest, inputFiles, resetToBase, restoreSnapshot, takeSnapshot, unpackLayer } from './snapshot.js';
import { parseSandboxConfig, SANDBOX_CONFIG_FILE, type SandboxConfig } from './sandbox-config.js';

export const MAINTENANCE_SCRIPT = '.errand/maintenance.sh';

export interface EnvironmentRequest {
  store: EnvironmentStore;
  taskId: string;
  sandboxId: string;
  repo: string;
  baseBranch: string;
  baseSha: string;
  /** What the sandbox runs on: its image, or for a local sandbox this host's platform and Node. */
  image: string;
  /** The image the task asked for (none: the provider's default), kept so a refresh asks for it again. */
  sandboxImage?: string;
  setupNetwork: boolean;
  /** Where the provider restores copy-on-write: the snapshot unpacked once per host, then mounted. */
  layers?: SandboxLayers;
  /**
   * A refresh (the environment-refresh schedule, in a sandbox of its own on the base branch's
   * tip): nothing is restored; a snapshot is made unless one is kept for these inputs, counted
   * as last used when the one it follows was (`usedAt`), so refreshing never keeps alive what
   * no task uses.
   */
  refresh?: { usedAt: string };
  event: (e: { id: string; type: string; [detail: string]: unknown }) => Promise<void>;
}

export type EnvironmentOutcome =
  | { kind: 'restored'; key: string; bytes: number; ms: number; maintenance?: boolean; layer?: 'made' | 'reused' }
  | { kind: 'saved'; key: string; bytes: number; sha256: string; ms: number; layer?: 'made' }
  | { kind: 'fresh'; key: string; layer?: 'made' }
  | { kind: 'missed'; key?: string; why: string };

/**
 * Runs `setup` (the repository's setup command), or restores the environment it would make.
 * `maintenance` runs the repository's maintenance script, when it has one, after a restore.
 */
export async function setupWithCache(
  sandbox: SandboxdClient,
  req: EnvironmentRequest,
  setupCommand: string,
  setup: () => Promise<void>,
  maintenance: (command: string) => Promise<boolean>,
): Promise<EnvironmentOutcome> {
  const config = await sandbox.readFile({ path: SANDBOX_CONFIG_FILE, maxBytes: 16_000 }).then(
    (f) => parseSandboxConfig(f.content),
    (): SandboxConfig => ({}),
  );
  if ('error' in config || config.environment?.cache === false) {
    // A refresh has nothing to keep: it runs no setup.
    if (!req.refresh) await setup();
    return { kind: 'missed', why: 'error' in config ? config.error : `${SANDBOX_CONFIG_FILE} turns the environment cache off` };
  }
  const patterns = config.environment?.inputs ?? DEFAULT_INPUTS;
  const files = await inputFiles(sandbox, [...patterns, '.errand/setup.sh']).catch((err: Error) => err);
  if (files instanceof Error) {
    // The repository's patterns are its own to get wrong: the task goes on with its setup.
    if (!req.refresh) await setup();
    return { kind: 'missed', why: files.message };
  }
  const inputs = { setup: setupCommand, files, patterns, image: req.image, setupNetwork: req.setupNetwork, format: SNAPSHOT_FORMAT };
  const key = environmentKey({ repo: req.repo, baseBranch: req.baseBranch, ...inputs });
  const folder = repoFolder(req.repo);
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'errand-environment-'));
  const file = path.join(scratch, 'snapshot.tar');
  const made = { key, repo: req.repo, baseBranch: req.baseBranch, baseSha: req.baseSha, inputs, ...(req.sandboxImage && { sandboxImage: req.sandboxImage }) };
  try {
    if (req.refresh) {
      const kept = await req.store.meta(folder, key);
      if (kept && !req.store.expired(kept)) return { kind: 'fresh', key, ...(await prepareLayer(sandbox, req, kept.sha256, file, async () => !(await fetchChecked(req, folder, kept, file)))) };
      await setup();
      const saved = await save(sandbox, req, folder, made, file, 'the base branch has inputs no kept environment was made from');
      return saved.kind === 'saved' ? { ...saved, ...(await prepareLayer(sandbox, req, saved.sha256, file, async () => true)) } : saved;
    }
    const miss = await restore(sandbox, req, folder, key, file, maintenance);
    if (miss.kind === 'restored') return miss;
    await req.store.record(folder, { kind: 'miss', key, taskId: req.taskId, why: miss.why });
    await setup();
    return await save(sandbox, req, folder, made, file, miss.why);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

async function restore(
  sandbox: SandboxdClient,
  req: EnvironmentRequest,
  folder: string,
  key: string,
  file: string,
  maintenance: (command: string) => Promise<boolean>,
): Promise<EnvironmentOutcome & ({ kind: 'restored' } | { kind: 'missed' })> {
  const started = Date.now();
  const meta = await req.store.meta(folder, key);
  if (!meta) return { kind: 'missed', key, why: 'no environment was kept for these inputs' };
  if (req.store.expired(meta)) return { kind: 'missed', key, why: 'the kept environment expired' };
  // A layer is unpacked from an archive checked against the digest the store names, and named by it.
  const layers = req.layers && !(await req.layers.unusable()) ? req.layers : undefined;
  const reused = Boolean(layers && (await layers.has(meta.sha256)));
  const unusable = reused ? undefined : await fetchChecked(req, folder, meta, file);
  if (unusable) return unusable.corrupt ? await missed(req, key, unusable.why) : { kind: 'missed', key, why: unusable.why };
  const checked = Date.now();
  try {
    if (layers) {
      if (!reused) await layers.adopt(req.sandboxId, await unpackLayer(sandbox, file), meta.sha256);
      await layers.mount(req.sandboxId, meta.sha256);
      await resetToBase(sandbox);
    } else {
      await restoreSnapshot(sandbox, file);
    }
  } catch (err) {
    await clean(sandbox);
    return await missed(req, key, `restoring it failed: ${(err as Error).message}`);
  }
  const unpacked = Date.now();
  const script = await sandbox.list({ path: '.errand' }).then(
    (l) => l.entries.some((e) => e.name === 'maintenance.sh'),
    () => false,
  );
  if (script && !(await maintenance(`bash ${MAINTENANCE_SCRIPT}`))) {
    await clean(sandbox);
    return await missed(req, key, `${MAINTENANCE_SCRIPT} failed after the restore (its log is the setup log)`);
  }
  await req.store.touch(folder, key);
  await req.store.record(folder, { kind: 'hit', key, taskId: req.taskId });
  const layer = layers && (reused ? ('reused' as const) : ('made' as const));
  const outcome = { kind: 'restored' as const, key, bytes: meta.bytes, ms: Date.now() - started, ...(script && { maintenance: true }), ...(layer && { layer }) };
  const phases = { fetchMs: checked - started, unpackMs: unpacked - checked, maintenanceMs: Date.now() - unpacked };
  await req.event({ id: `environment:${req.sandboxId}`, type: 'environment_restored', key, bytes: meta.bytes, ms: outcome.ms, ...phases, madeBy: meta.createdBy, madeAt: meta.createdAt, maintenance: Boolean(script), layer: layer ?? null });
  return outcome;
}

/** Fetches the archive `meta` names into `file`, checked against its digest: why it cannot be used, or nothing. A corrupt one is removed. */
async function fetchChecked(req: EnvironmentRequest, folder: string, meta: SnapshotMeta & { lastUsedAt: string }, file: string): Promise<{ why: string; corrupt: boolean } | undefined> {
  if (!(await req.store.fetch(folder, meta, file))) return { why: 'the kept environment expired or was removed', corrupt: false };
  const digest = await fileDigest(file);
  if (digest.sha256 === meta.sha256 && digest.bytes === meta.bytes) return undefined;
  await req.store.remove(folder, meta.key);
  return { why: `the kept environment does not match its digest (${digest.bytes} bytes, sha256 ${digest.sha256.slice(0, 12)}); it was removed`, corrupt: true };
}

/**
 * A refresh's favour to the tasks after it, where the provider restores copy-on-write: the
 * layer of the environment it kept or found, unpacked on its host (from `file`, once `archive`
 * has put it there checked), so the next task here mounts it instead of unpacking it.
 */
async function prepareLayer(sandbox: SandboxdClient, req: EnvironmentRequest, sha256: string, file: string, archive: () => Promise<boolean>): Promise<{ layer?: 'made' }> {
  const layers = req.layers && !(await req.layers.unusable()) ? req.layers : undefined;
  try {
    if (!layers || (await layers.has(sha256)) || !(await archive())) return {};
    await layers.adopt(req.sandboxId, await unpackLayer(sandbox, file), sha256);
    return { layer: 'made' };
  } catch {
    // The first task to restore it makes it instead.
    return {};
  }
}

async function save(sandbox: SandboxdClient, req: EnvironmentRequest, folder: string, made: Omit<SnapshotMeta, 'bytes' | 'sha256' | 'archive' | 'createdAt' | 'createdBy'>, file: string, missedWhy: string): Promise<EnvironmentOutcome> {
  const started = Date.now();
  try {
    const { bytes, sha256 } = await takeSnapshot(sandbox, file);
    await req.store.save(folder, { ...made, bytes, sha256, createdAt: new Date().toISOString(), createdBy: req.taskId }, file, req.refresh?.usedAt);
    await req.store.record(folder, { kind: req.refresh ? 'refreshed' : 'saved', key: made.key, taskId: req.taskId });
    const ms = Date.now() - started;
    await req.event({ id: `environment:${req.sandboxId}`, type: 'environment_saved', key: made.key, bytes, ms, missed: missedWhy });
    return { kind: 'saved', key: made.key, bytes, sha256, ms };
  } catch (err) {
    // Keeping it is a favour to the next task; this one goes on without.
    const why = `keeping the environment failed: ${(err as Error).message}`;
    await req.event({ id: `environment:${req.sandboxId}`, type: 'environment_missed', key: made.key, why: `${missedWhy}; ${why}` });
    return { kind: 'missed', key: made.key, why };
  }
}

async function missed(req: EnvironmentRequest, key: string, why: string): Promise<EnvironmentOutcome & { kind: 'missed' }> {
  await req.event({ id: `environment:${req.sandboxId}:missed`, type: 'environment_missed', key, why });
  return { kind: 'missed', key, why };
}

/** Back to the checkout as it was before the restore began: no untracked file, an empty home. */
async function clean(sandbox: SandboxdClient): Promise<void> {
  await sandbox.exec({ cmd: 'git clean -ffdxq && git reset -q --hard HEAD && find "$HOME" -mindepth 1 -delete', timeoutMs: 300_000 });
}
