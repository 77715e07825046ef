// The environment cache's figures: a repository whose setup installs a real dependency tree
// (`npm ci` of a few hundred packages from a local registry, the dependency-bump tests'
// verdaccio) started three ways, POST /tasks → first model call: with the cache off for it (the
// setup alone: the baseline), cold (a miss: the setup, then the snapshot kept) and warm (a hit:
// the snapshot restored), twice: where the local sandbox restores copy-on-write, the first
// restore on a host unpacks the layer and the next ones only mount it. With the snapshot's size
// and what storing and restoring it took.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { call, FINISH, FIX_SUM, type ModelServer } from '../test/fixtures/model-server.js';
import { makeOriginRepo } from '../test/fixtures/repos.js';
import { npmOriginRepo } from '../test/support/dependency-registries.js';
import { api, type ErrandProcess } from '../test/support/errand-process.js';
import type { NpmRegistry } from '../test/support/npm-registry.js';
import { taskWorkflowId } from '../workflows/names.js';
import { temporal } from './tasks.js';

export interface EnvironmentFigures {
  packages: number;
  /** POST /tasks → first model call. */
  setupAlone: number;
  cold: number;
  /** The first restore on this host. */
  warm: number;
  /** A later one: with a copy-on-write layer, the layer is already here. */
  warmAgain: number;
  /** How the restores went: `made` then `reused` with a copy-on-write layer, none where the archive is unpacked. */
  layer: string | null;
  snapshotBytes: number;
  storeMs: number;
  restoreMs: number;
  restoreAgainMs: number;
  /** Of the restore: unpacking in the sandbox (writing the archive in, tar, git reset; with a layer, also mounting it). */
  unpackMs: number;
}

/** Publishes `count` packages: a tree of `width` the project depends on, each with its own dependencies. */
export async function publishTree(npm: NpmRegistry, count: number, width = 20): Promise<Record<string, string>> {
  const name = (i: number) => `bench-dep-${i}`;
  const children = (i: number) => (i < width ? Array.from({ length: Math.ceil((count - width) / width) }, (_, k) => width + i * Math.ceil((count - width) / width) + k).filter((c) => c < count) : []);
  const body = (i: number) => `// ${name(i)}: a module of a few kilobytes, as most are\n${Array.from({ length: 60 }, (_, l) => `exports.f${l} = (x) => x + ${l}; // ${'.'.repeat(40)}`).join('\n')}\n`;
  const queue = Array.from({ length: count }, (_, i) => count - 1 - i); // leaves first: a dependency exists before its dependents
  const publishOne = async (i: number) =>
    npm.publish({
      name: name(i),
      version: '1.0.0',
      files: { 'index.js': body(i), 'lib/util.js': body(i + count), 'README.md': `# ${name(i)}\n\n${'Documentation. '.repeat(60)}\n` },
      dependencies: Object.fromEntries(children(i).map((c) => [name(c), '^1.0.0'])),
    });
  // A few at a time: each is a real `npm publish`.
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (let i = queue.shift(); i !== undefined; i = queue.shift()) await publishOne(i);
    }),
  );
  return Object.fromEntries(Array.from({ length: width }, (_, i) => [name(i), '1.0.0']));
}

export async function environmentFigures(model: ModelServer, errand: ErrandProcess, npm: NpmRegistry, packages: number): Promise<EnvironmentFigures> {
  const top = await publishTree(npm, packages);
  const project = await npmOriginRepo(npm, top, "test('loads', () => assert.ok(require('bench-dep-0')));");
  const setup = { '.errand/setup.sh': `npm ci --no-audit --no-fund --registry ${npm.url}\n` };
  const cached = withFiles(project, setup);
  const uncached = withFiles(project, { ...setup, '.errand/sandbox.json': JSON.stringify({ environment: { cache: false } }) });
  const alone = await firstModelCall(model, errand, uncached);
  const cold = await firstModelCall(model, errand, cached);
  const warm = await firstModelCall(model, errand, cached);
  const warmAgain = await firstModelCall(model, errand, cached);
  const saved = eventOf(errand, cold.id, 'environment_saved');
  const restored = eventOf(errand, warm.id, 'environment_restored');
  const restoredAgain = eventOf(errand, warmAgain.id, 'environment_restored');
  if (!saved || !restored || !restoredAgain) throw new Error(`the environment was not ${saved ? 'restored' : 'saved'}: see the events of tasks ${[cold.id, warm.id, warmAgain.id].join(', ')}`);
  return {
    packages,
    setupAlone: alone.ms,
    cold: cold.ms,
    warm: warm.ms,
    warmAgain: warmAgain.ms,
    layer: restored.layer ? `${String(restored.layer)}, then ${String(restoredAgain.layer)}` : null,
    snapshotBytes: Number(saved.bytes),
    storeMs: Number(saved.ms),
    restoreMs: Number(restored.ms),
    restoreAgainMs: Number(restoredAgain.ms),
    unpackMs: Number(restored.unpackMs),
  };
}

/** A copy of the repository at `origin` with `files` added in a second commit. */
function withFiles(origin: string, files: Record<string, string>): string {
  const read = (f: string) => readFileSync(path.join(path.dirname(origin), 'work', f), 'utf8');
  return makeOriginRepo({ 'package.json': read('package.json'), 'package-lock.json': read('package-lock.json'), '.gitignore': read('.gitignore'), 'shop.test.js': read('shop.test.js'), ...files });
}

let runs = 0;
async function firstModelCall(model: ModelServer, errand: ErrandProcess, origin: string): Promise<{ id: string; ms: number }> {
  const marker = `[bench-environment-${++runs}]`;
  const script = model.script(marker, [call('list_dir', {}), FIX_SUM, FINISH], { indexBy: 'turn' });
  const postedAt = Date.now();
  const res = await api(errand.url, 'POST', '/tasks', { repo: origin, prompt: `${marker} Fix sum.` });
  if (res.status !== 201) throw new Error(`POST /tasks answered ${res.status}: ${JSON.stringify(res.body)}`);
  const id = res.body.id as string;
  await (await temporal()).workflow.getHandle(taskWorkflowId(id)).result().catch(() => undefined);
  const task = (await api(errand.url, 'GET', `/tasks/${id}`)).body;
  if (task.status !== 'completed') throw new Error(`task ${id} ended ${task.status}: ${task.error ?? ''}`);
  return { id, ms: script.receivedAt[0]! - postedAt };
}

function eventOf(errand: ErrandProcess, id: string, type: string): Record<string, unknown> | undefined {
  const lines = readFileSync(`${errand.stateDir}/artifacts/tasks/${id}/events.jsonl`, 'utf8').split('\n').filter(Boolean);
  return lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((e) => e.type === type);
}

