// The environment kept after setup, on the real Temporal server with Errand as a real process:
// a second task on the same inputs starts from the first one's environment without running the
// setup, and never with what the first one's agent planted; a lockfile changed on the base, a
// snapshot that does not match its digest, and a repository that turns the cache off all miss
// and run the setup; a maintenance script catches up after a restore.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { call, FINISH, lastToolResult, type ChatRequest } from '../fixtures/model-server.js';
import { BUGGY_SUM, git, makeOriginRepo } from '../fixtures/repos.js';
import { api, PROJECT_ROOT } from '../support/errand-process.js';
import { readEvents } from '../support/sse.js';
import { createTask, waitForStatus } from '../support/tasks.js';
import { useErrand, useTemporal } from '../support/use.js';
import { describeWithPart } from '../support/required-part.js';
import { probeBubblewrap } from '../../apps/worker/confinement.js';
import { readMounts } from '../../activities/sandbox/mounts.js';

// The environment-refresh schedule exists (its runs are triggered here, it never comes due in a test).
const t = useErrand({ ERRAND_ENVIRONMENT_REFRESH_MINUTES: String(60 * 24 * 365) });
const temporal = useTemporal();
afterAll(async () => {
  await temporal.client.schedule.getHandle(`errand-environment-refresh-${t.errand.taskQueue}`).delete().catch(() => undefined);
});
const run = promisify(execFile);

/** A project whose setup "installs" a dependency (untracked, ignored) and fills a cache in the home, counting its runs there. */
const PROJECT = {
  ...BUGGY_SUM,
  '.gitignore': 'node_modules/\n',
  'package-lock.json': '{"lockfileVersion": 3, "packages": {"node_modules/dep": {"version": "1.0.0"}}}\n',
  '.errand/setup.sh': 'mkdir -p node_modules/dep "$HOME/.cache/pkg" && echo "module.exports = 1;" > node_modules/dep/index.js && echo dep > "$HOME/.cache/pkg/dep.tgz" && echo ran >> "$HOME/setup-runs"\n',
};
const FIX = call('write_file', { path: 'sum.js', content: 'exports.sum = (a, b) => a + b;\n' });
const LOOK = call('shell', { command: 'ls node_modules/dep; cat "$HOME/setup-runs"; ls "$HOME/.cache/pkg"; cat maint-ran 2>/dev/null; true' });
const resultOf = (requests: ChatRequest[], n: number) => lastToolResult(requests[n + 1]!);

async function eventsOf(id: string) {
  return (await readEvents(`${t.errand.url}/tasks/${id}/events`)).messages.map((m) => m.data);
}

/** Runs one task that looks at its environment (and may act first); returns what it saw and its events. */
async function task(origin: string, marker: string, before: ReturnType<typeof call>[] = []) {
  const script = t.model.script(marker, [...before, LOOK, FIX, FINISH]);
  const id = await createTask(t.errand, { repo: origin, prompt: `${marker} Fix sum.` });
  await waitForStatus(t.errand, id, 'completed');
  return { id, saw: resultOf(script.requests, before.length).split('--- stdout ---\n')[1]!.split('--- stderr ---')[0]!.trim(), events: await eventsOf(id), requests: script.requests };
}

/** Triggers the environment-refresh schedule and waits for that run's result. */
async function refreshNow() {
  const last = (await api(t.errand.url, 'GET', '/schedules/environment-refresh')).body.recentRuns[0]?.workflowId;
  expect((await api(t.errand.url, 'POST', '/schedules/environment-refresh/trigger')).status).toBe(202);
  for (let waited = 0; waited < 120_000; waited += 500) {
    const [run] = (await api(t.errand.url, 'GET', '/schedules/environment-refresh')).body.recentRuns;
    if (run && run.workflowId !== last && run.status === 'completed') return run.result;
    if (run && run.workflowId !== last && run.status === 'failed') throw new Error(`the refresh failed: ${run.error}`);
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error('the refresh did not finish in 2 minutes');
}

const snapshotsUnder = (dir: string): string[] =>
  readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && /^[0-9a-f]{64}\.tar$/.test(e.name))
    .map((e) => path.join(e.parentPath, e.name));

describe('the environment cache', () => {
  it("starts the next task from the environment the setup left, never from what an agent did after", async () => {
    const origin = makeOriginRepo(PROJECT);
    // The first task's agent plants a file among the dependencies and in the home.
    const first = await task(origin, '[env-first]', [
      call('write_file', { path: 'node_modules/dep/planted.js', content: 'stolen()' }),
      call('shell', { command: 'echo planted > "$HOME/.cache/pkg/planted"' }),
    ]);
    expect(first.events).toContainEqual(expect.objectContaining({ type: 'environment_saved', missed: 'no environment was kept for these inputs' }));
    expect(first.saw).toBe('index.js\nplanted.js\nran\ndep.tgz\nplanted');

    const second = await task(origin, '[env-second]');
    const restored = second.events.find((e) => e.type === 'environment_restored');
    expect(restored).toMatchObject({ key: first.events.find((e) => e.type === 'environment_saved').key, maintenance: false });
    expect(restored.bytes).toBeGreaterThan(0);
    // The dependency and the cache are there, the setup did not run again, nothing planted came along.
    expect(second.saw).toBe('index.js\nran\ndep.tgz');
    expect(second.events.some((e) => e.type === 'setup_finished')).toBe(true);
  });

  it('misses when a lockfile changes on the base, and runs the maintenance script after a restore', async () => {
    const origin = makeOriginRepo({ ...PROJECT, '.errand/maintenance.sh': 'echo maintained > maint-ran\n', '.gitignore': 'node_modules/\nmaint-ran\n' });
    const first = await task(origin, '[env-lock-1]');
    const second = await task(origin, '[env-lock-2]');
    expect(second.events.find((e) => e.type === 'environment_restored')).toMatchObject({ maintenance: true });
    expect(second.saw).toBe('index.js\nran\ndep.tgz\nmaintained');
    // A new lockfile on the base: a new key, the setup runs (its count starts again), a new snapshot.
    const work = path.join(path.dirname(origin), 'work');
    writeFileSync(path.join(work, 'package-lock.json'), '{"lockfileVersion": 3, "packages": {"node_modules/dep": {"version": "2.0.0"}}}\n');
    git(work, 'commit', '-qam', 'dep 2');
    git(work, 'push', '-q', origin, 'main');
    const third = await task(origin, '[env-lock-3]');
    const saved = third.events.find((e) => e.type === 'environment_saved');
    expect(saved.key).not.toBe(first.events.find((e) => e.type === 'environment_saved').key);
    expect(third.saw).toBe('index.js\nran\ndep.tgz');
  });

  it('refreshes on its schedule, so the first task after a lockfile change on the base starts warm', async () => {
    const origin = makeOriginRepo(PROJECT);
    const first = await task(origin, '[env-refresh-1]');
    const madeFirst = first.events.find((e) => e.type === 'environment_saved').key;
    const work = path.join(path.dirname(origin), 'work');
    writeFileSync(path.join(work, 'package-lock.json'), '{"lockfileVersion": 3, "packages": {"node_modules/dep": {"version": "3.0.0"}}}\n');
    git(work, 'commit', '-qam', 'dep 3');
    git(work, 'push', '-q', origin, 'main');

    // Errand's own schedule, listed beside the others; run now rather than waiting for it.
    const listed = await api(t.errand.url, 'GET', '/schedules/environment-refresh');
    expect(listed.body).toMatchObject({ system: true, description: expect.stringContaining('environment refresh') });
    expect((await api(t.errand.url, 'DELETE', '/schedules/environment-refresh')).status).toBe(409);
    const refreshed = await refreshNow();
    expect(refreshed.repositories).toContainEqual(expect.objectContaining({ repo: origin, outcome: 'refreshed', key: expect.not.stringMatching(madeFirst) }));
    expect(refreshed.summary).toMatch(/repositor(y|ies) looked at: [1-9]\d* refreshed, .*0 failed; \d+ evicted$/);

    // The task after the change restores what the refresh made: its setup did not run.
    const second = await task(origin, '[env-refresh-2]');
    const restored = second.events.find((e) => e.type === 'environment_restored');
    expect(restored).toMatchObject({ key: refreshed.repositories.find((r: { repo: string }) => r.repo === origin).key, madeBy: expect.stringMatching(/^errand-environment-refresh-/) });
    expect(second.saw).toBe('index.js\nran\ndep.tgz');
    // Nothing changed since: the next refresh finds it fresh and runs no setup.
    expect((await refreshNow()).repositories).toContainEqual(expect.objectContaining({ repo: origin, outcome: 'fresh' }));
    const uses = (await api(t.errand.url, 'GET', `/repos/${encodeURIComponent(origin)}/environment`)).body.recent.map((u: { kind: string }) => u.kind);
    expect(uses.filter((k: string) => k === 'refreshed')).toHaveLength(1);
  });

  it('treats a snapshot that does not match its digest as a miss, says so, and runs the setup', async () => {
    const origin = makeOriginRepo(PROJECT);
    const before = new Set(snapshotsUnder(t.errand.stateDir));
    await task(origin, '[env-corrupt-1]');
    const [made] = snapshotsUnder(t.errand.stateDir).filter((f) => !before.has(f));
    writeFileSync(made!, 'not the archive that was kept');
    const second = await task(origin, '[env-corrupt-2]');
    expect(second.events).toContainEqual(expect.objectContaining({ type: 'environment_missed', why: expect.stringContaining('does not match its digest') }));
    expect(second.events).toContainEqual(expect.objectContaining({ type: 'environment_saved' }));
    expect(second.saw).toBe('index.js\nran\ndep.tgz');
  });

  it("shows a repository's environment, and removes it when asked, through the API and the CLI", async () => {
    const origin = makeOriginRepo(PROJECT);
    await task(origin, '[env-show-1]');
    await task(origin, '[env-show-2]');
    const shown = await api(t.errand.url, 'GET', `/repos/${encodeURIComponent(origin)}/environment`);
    expect(shown.status).toBe(200);
    expect(shown.body).toMatchObject({ repo: origin, enabled: true, hits: 1, misses: 1 });
    expect(shown.body.snapshots).toHaveLength(1);
    expect(shown.body.snapshots[0]).toMatchObject({ baseBranch: 'main', inputs: { setup: 'bash .errand/setup.sh', setupNetwork: true } });
    expect(shown.body.snapshots[0].inputs.files.map((f: { path: string }) => f.path).sort()).toEqual(['.errand/setup.sh', 'package-lock.json']);
    expect(shown.body.snapshots[0].bytes).toBeGreaterThan(0);

    const cli = (...args: string[]) => run('npm', ['run', '--silent', 'errand', '--', 'repo', 'environment', origin, '--api', t.errand.url, ...args], { cwd: PROJECT_ROOT });
    expect(JSON.parse((await cli()).stdout)).toMatchObject({ hits: 1, misses: 1 });
    expect(JSON.parse((await cli('--remove')).stdout)).toEqual({ repo: origin, removed: 1 });
    const audit = await api(t.errand.url, 'GET', '/audit?limit=5');
    expect(audit.body.entries).toContainEqual(expect.objectContaining({ action: 'environment.invalidate', repo: origin }));

    const third = await task(origin, '[env-show-3]');
    expect(third.events).toContainEqual(expect.objectContaining({ type: 'environment_saved', missed: 'no environment was kept for these inputs' }));
    expect((await api(t.errand.url, 'DELETE', `/repos/${encodeURIComponent('/no/such/repo')}/environment`)).status).toBe(400);
  });

  it('keeps nothing for a repository that turns it off', async () => {
    const origin = makeOriginRepo({ ...PROJECT, '.errand/sandbox.json': JSON.stringify({ environment: { cache: false } }) });
    const first = await task(origin, '[env-off-1]');
    expect(first.events.some((e) => e.type === 'environment_saved')).toBe(false);
    const second = await task(origin, '[env-off-2]');
    expect(second.events.some((e) => e.type === 'environment_restored')).toBe(false);
    expect(second.saw).toBe('index.js\nran\ndep.tgz');
  });
});


const bubblewrap = await probeBubblewrap();
describeWithPart(
  {
    name: 'root and bubblewrap',
    missing: process.getuid?.() !== 0 ? 'the tests do not run as root' : 'reason' in bubblewrap ? bubblewrap.reason : undefined,
    install: 'run the tests as root (`npm run setup` installs bubblewrap)',
  },
  'the environment cache on a copy-on-write layer',
  () => {
    it("restores from a layer unpacked once on this host, which nothing a task's agent does changes", async () => {
      const origin = makeOriginRepo(PROJECT);
      await task(origin, '[env-layer-1]');
      // The restore makes the layer; the agent writes over a file of it (through sandboxd), removes one from the
      // home's cache, renames a directory of it and plants a file, all on the layer's copy-on-write view.
      const second = await task(origin, '[env-layer-2]', [
        call('write_file', { path: 'node_modules/dep/index.js', content: 'poisoned()' }),
        call('shell', { command: 'rm "$HOME/.cache/pkg/dep.tgz" && mv node_modules/dep node_modules/moved && mkdir node_modules/dep && mv node_modules/moved/index.js node_modules/dep/ && echo planted > node_modules/dep/planted.js' }),
      ]);
      expect(second.events.find((e) => e.type === 'environment_restored')).toMatchObject({ layer: 'made' });
      expect(second.saw).toBe('index.js\nplanted.js\nran');

      // The next restore mounts the same layer, unpacking nothing: the setup's files, none of the agent's changes.
      const third = await task(origin, '[env-layer-3]', [call('read_file', { path: 'node_modules/dep/index.js' })]);
      expect(third.events.find((e) => e.type === 'environment_restored')).toMatchObject({ layer: 'reused' });
      expect(resultOf(third.requests, 0)).toContain('module.exports = 1;');
      expect(third.saw).toBe('index.js\nran\ndep.tgz');

      const sandboxes = path.join(t.errand.stateDir, 'sandboxes');
      for (const layer of readdirSync(path.join(sandboxes, '.layers'))) {
        const dep = path.join(sandboxes, '.layers', layer, 'workspace', 'node_modules', 'dep');
        expect(readFileSync(path.join(dep, 'index.js'), 'utf8')).toBe('module.exports = 1;\n');
        expect(existsSync(path.join(dep, 'planted.js'))).toBe(false);
      }
      // The ended tasks' sandboxes are gone, and their mounts with them.
      for (let waited = 0; ; waited += 250) {
        const left = (await readMounts()).filter((m) => [second.id, third.id].some((id) => m.point.startsWith(path.join(sandboxes, id))));
        if (!left.length) break;
        if (waited > 30_000) throw new Error(`still mounted: ${left.map((m) => m.point).join(', ')}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    });

    it('unpacks the layer in the refresh, so the first task after it mounts the environment instead of unpacking it', async () => {
      const changed = makeOriginRepo(PROJECT);
      const unchanged = makeOriginRepo(PROJECT);
      await task(changed, '[env-layer-refresh-1]');
      await task(unchanged, '[env-layer-refresh-2]');
      const work = path.join(path.dirname(changed), 'work');
      writeFileSync(path.join(work, 'package-lock.json'), '{"lockfileVersion": 3, "packages": {"node_modules/dep": {"version": "4.0.0"}}}\n');
      git(work, 'commit', '-qam', 'dep 4');
      git(work, 'push', '-q', changed, 'main');

      // One kept anew, one kept already: the layer of each is made on this host either way.
      const refreshed = await refreshNow();
      expect(refreshed.repositories).toContainEqual(expect.objectContaining({ repo: changed, outcome: 'refreshed', layer: 'made' }));
      expect(refreshed.repositories).toContainEqual(expect.objectContaining({ repo: unchanged, outcome: 'fresh', layer: 'made' }));
      for (const [origin, marker] of [[changed, '[env-layer-refresh-3]'], [unchanged, '[env-layer-refresh-4]']] as const) {
        const next = await task(origin, marker);
        expect(next.events.find((e) => e.type === 'environment_restored')).toMatchObject({ layer: 'reused' });
        expect(next.saw).toBe('index.js\nran\ndep.tgz');
      }
    });
  },
);
