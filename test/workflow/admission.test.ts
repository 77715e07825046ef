// Admission on the real Temporal server: limits on running tasks in all and per repository (with
// an override), tasks over them waiting `queued` with their place shown, started first in first
// out as others end (a task blocked by its repository's limit lets the next one by); and the
// per-requester daily budget, refused with a 429 that says when it resets. The faults lane
// kills a worker and terminates a lease holder (test/faults/durability.test.ts).
import { describe, expect, it } from '@jest/globals';
import { FINISH, FIX_SUM, gate } from '../fixtures/model-server.js';
import { BUGGY_SUM, makeOriginRepo } from '../fixtures/repos.js';
import { api, eventually } from '../support/errand-process.js';
import { createTask, waitForStatus } from '../support/tasks.js';
import { useErrand, useTemporal } from '../support/use.js';

const repoA = makeOriginRepo(BUGGY_SUM);
const repoC = makeOriginRepo(BUGGY_SUM);
/** Allowed two at once by an override; the others one. */
const wide = makeOriginRepo(BUGGY_SUM);

const t = useErrand({
  ERRAND_MAX_RUNNING_TASKS: '3',
  ERRAND_MAX_RUNNING_TASKS_PER_REPO: '1',
  ERRAND_REPO_TASK_LIMITS: `${wide}=2`,
  ERRAND_ADMISSION_SWEEP_SECONDS: '2',
  // $0.12 a model call (100 + 20 tokens at $1,000 a million).
  ERRAND_MODEL_PRICES: JSON.stringify({ 'fixture-coder': { input: 1000, output: 1000 } }),
  ERRAND_DAILY_BUDGET_USD: '0.2',
});
const temporal = useTemporal();

const view = async (id: string) => (await api(t.errand.url, 'GET', `/tasks/${id}`)).body;

describe('running-task limits', () => {
  it('queues tasks over the limits, shows their place, and starts them in order as others end', async () => {
    // Each task's first model call waits for its gate: until it opens, the task runs and holds its slot.
    const started: string[] = [];
    const gates: Record<string, ReturnType<typeof gate>> = {};
    const task = async (name: string, repo: string) => {
      gates[name] = gate();
      t.model.script(`[adm-${name}]`, [
        () => {
          if (!started.includes(name)) started.push(name);
          return { kind: 'later', after: gates[name]!.promise, reply: FIX_SUM };
        },
        FINISH,
      ]);
      return createTask(t.errand, { repo, prompt: `[adm-${name}] Fix sum.`, requester: `req-${name}` });
    };
    const ids: Record<string, string> = {};
    try {
      for (const [name, repo] of [['a1', repoA], ['w1', wide], ['w2', wide]] as const) ids[name] = await task(name, repo);
      await eventually(async () => (started.length === 3 ? true : undefined), 60_000, 'three tasks running');
      ids.a2 = await task('a2', repoA);
      ids.c1 = await task('c1', repoC);

      // Three run (the limit); a2 waits for its repository and the limit, c1 for the limit.
      await eventually(async () => ((await view(ids.c1!)).queue ? true : undefined), 30_000, 'c1 queued');
      expect(await view(ids.a2!)).toMatchObject({ status: 'running', phase: 'queued', queue: { position: 1, repo: repoA, waitingFor: expect.stringContaining(`1 running in ${repoA}`) } });
      expect(await view(ids.c1!)).toMatchObject({ phase: 'queued', queue: { position: 2, waitingFor: expect.stringContaining('the limit of 3') } });
      const listed = (await api(t.errand.url, 'GET', '/tasks?status=running')).body.tasks as { id: string; queue?: { position: number } }[];
      expect(listed.filter((x) => x.queue).map((x) => [x.id, x.queue!.position])).toEqual(expect.arrayContaining([[ids.a2, 1], [ids.c1, 2]]));
      const admission = (await api(t.errand.url, 'GET', '/admission')).body;
      expect(admission).toMatchObject({ active: true, maxRunning: 3 });
      expect(admission.running.map((r: { taskId: string }) => r.taskId).sort()).toEqual([ids.a1, ids.w1, ids.w2].sort());
      expect(admission.queued.map((q: { taskId: string }) => q.taskId)).toEqual([ids.a2, ids.c1]);
      expect([...started].sort()).toEqual(['a1', 'w1', 'w2']);

      // w1 ends: its slot goes to c1, since a2's repository is still at its limit.
      gates.w1!.open();
      await waitForStatus(t.errand, ids.w1!, 'completed');
      await eventually(async () => (started.includes('c1') ? true : undefined), 30_000, 'c1 to start');
      expect(await view(ids.a2!)).toMatchObject({ phase: 'queued', queue: { position: 1 } });

      // a1 ends: a2 runs.
      gates.a1!.open();
      await waitForStatus(t.errand, ids.a1!, 'completed');
      await eventually(async () => (started.includes('a2') ? true : undefined), 30_000, 'a2 to start');
      expect(started.slice(3)).toEqual(['c1', 'a2']);
      for (const name of ['w2', 'c1', 'a2']) gates[name]!.open();
      for (const name of ['w2', 'c1', 'a2']) await waitForStatus(t.errand, ids[name]!, 'completed');
      await eventually(async () => {
        const now = (await api(t.errand.url, 'GET', '/admission')).body;
        return now.running.length === 0 && now.queued.length === 0 ? true : undefined;
      }, 10_000, 'every lease given back');
    } finally {
      // A failure above leaves nothing holding a slot for the next test.
      for (const g of Object.values(gates)) g.open();
      for (const id of Object.values(ids)) await temporal.client.workflow.getHandle(`task-${id}`).terminate('test cleanup').catch(() => undefined);
    }
  });
});

describe('daily budget', () => {
  it('refuses a requester who spent its budget today with a 429 saying when it resets; others go on', async () => {
    const origin = makeOriginRepo(BUGGY_SUM);
    t.model.script('[budget]', [FIX_SUM, FINISH]);
    const asked = JSON.stringify({ repo: origin, prompt: '[budget] Fix sum.', requester: 'spender' });
    const send = () => fetch(`${t.errand.url}/tasks`, { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': 'budget-first' }, body: asked });
    const first = await send();
    expect(first.status).toBe(201);
    const id = ((await first.json()) as { id: string }).id;
    const done = await waitForStatus(t.errand, id, 'completed');
    expect(done.costUsd).toBeGreaterThan(0.2);

    const refused = await eventually(async () => {
      const res = await fetch(`${t.errand.url}/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ repo: origin, prompt: 'more', requester: 'spender' }) });
      return res.status === 429 ? res : undefined;
    }, 10_000, 'the budget to refuse');
    const midnight = new Date();
    midnight.setUTCHours(24, 0, 0, 0);
    const problem = (await refused.json()) as { detail: string };
    expect(problem.detail).toContain(`spender has spent $${done.costUsd.toFixed(2)} today, its daily budget of $0.20`);
    expect(problem.detail).toContain(`until it resets at ${midnight.toISOString()}`);
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(Math.abs(retryAfter - (midnight.getTime() - Date.now()) / 1000)).toBeLessThan(60);

    // A retry of the request that started a task is answered with that task, over budget or not.
    const retried = await send();
    expect(retried.status).toBe(201);
    expect(retried.headers.get('idempotent-replayed')).toBe('true');
    expect(((await retried.json()) as { id: string }).id).toBe(id);

    const other = await api(t.errand.url, 'POST', '/tasks', { repo: origin, prompt: 'x', requester: 'thrifty' });
    expect(other.status).toBe(201);
    await temporal.client.workflow.getHandle(`task-${other.body.id}`).terminate('test cleanup');
  });
});
