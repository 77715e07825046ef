// Admission on the real Temporal server: limits on running tasks in all and per repository (with
// an override), tasks over them waiting `queued` with their place shown, started first in first
// out as others end (a task blocked by its repository's limit lets the next one by), a slot
// given back by a task that fails or is cancelled, a task cancelled while queued leaving the
// queue; and the per-requester daily budget, refused with a 429 that says when it resets. The
// faults lane kills a worker and terminates a lease holder (test/faults/durability.test.ts).
import { afterEach, describe, expect, it } from '@jest/globals';
import { fail, FINISH, FIX_SUM, gate, type Reply } from '../fixtures/model-server.js';
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

const view = async (id: string, url = t.errand.url) => (await api(url, 'GET', `/tasks/${id}`)).body;

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

describe('slots freed by a failed or cancelled task', () => {
  // One task at a time, and no sweep within the test: a slot comes free only because the task
  // that held it (or waited for it) gave it back as it ended.
  const one = useErrand({ ERRAND_MAX_RUNNING_TASKS: '1', ERRAND_ADMISSION_SWEEP_SECONDS: '3600' });
  const admission = async () => (await api(one.errand.url, 'GET', '/admission')).body as { running: { taskId: string }[]; queued: { taskId: string; position: number }[] };
  const queueOf = async () => (await admission()).queued.map((q) => [q.taskId, q.position]);

  /** A task whose first model call waits for its gate: until then it runs and holds the slot. */
  const held = (name: string, reply: Reply = FIX_SUM) => {
    const opened = gate();
    const script = one.model.script(`[free-${name}]`, [{ kind: 'later', after: opened.promise, reply }, FINISH]);
    return { ...opened, script, start: () => createTask(one.errand, { repo: makeOriginRepo(BUGGY_SUM), prompt: `[free-${name}] Fix sum.` }) };
  };
  type Held = ReturnType<typeof held>;
  const ids: string[] = [];
  const gates: { open: () => void }[] = [];
  afterEach(async () => {
    for (const g of gates.splice(0)) g.open();
    for (const id of ids.splice(0)) await temporal.client.workflow.getHandle(`task-${id}`).terminate('test cleanup').catch(() => undefined);
  });
  const track = (...tasks: Held[]) => gates.push(...tasks);
  const running = (id: string, script: Held['script']) =>
    eventually(async () => (script.requests.length > 0 && (await admission()).running.some((r) => r.taskId === id) ? true : undefined), 30_000, `task ${id} to hold the slot`);
  /** The task's release reaches the admission workflow just after the task ends. */
  const everyLeaseBack = () =>
    eventually(async () => {
      const now = await admission();
      return now.running.length === 0 && now.queued.length === 0 ? true : undefined;
    }, 10_000, 'every lease given back');
  const queued = (id: string) => eventually(async () => ((await view(id, one.errand.url)).queue ? true : undefined), 30_000, `task ${id} to queue`);

  it.each<[string, Reply, (holder: Held, id: string) => Promise<void>]>([
    [
      'fails',
      fail(401, 'Incorrect API key provided'),
      async (holder, id) => {
        holder.open();
        expect((await waitForStatus(one.errand, id, 'failed')).error).toContain('Incorrect API key provided');
      },
    ],
    [
      'is cancelled through the API',
      FIX_SUM,
      async (_holder, id) => {
        expect((await api(one.errand.url, 'POST', `/tasks/${id}/cancel`, { by: 'carol' })).status).toBe(202);
        await waitForStatus(one.errand, id, 'cancelled');
      },
    ],
  ])('gives the slot of a task that %s to the next in the queue', async (how, reply, end) => {
    const holder = held(`holder-${how.replaceAll(' ', '-')}`, reply);
    const next = held(`next-${how.replaceAll(' ', '-')}`);
    track(holder, next);
    const holderId = await holder.start();
    ids.push(holderId);
    await running(holderId, holder.script);
    const nextId = await next.start();
    ids.push(nextId);
    await queued(nextId);
    expect(await queueOf()).toEqual([[nextId, 1]]);
    expect(next.script.requests).toHaveLength(0);

    await end(holder, holderId);
    await running(nextId, next.script);
    next.open();
    await waitForStatus(one.errand, nextId, 'completed');
    await everyLeaseBack();
  });

  it('takes a task cancelled while queued out of the queue: the one behind moves up, and it never runs', async () => {
    const holder = held('holding');
    const dropped = held('dropped');
    const last = held('behind');
    track(holder, dropped, last);
    ids.push(await holder.start());
    await running(ids[0]!, holder.script);
    for (const task of [dropped, last]) {
      ids.push(await task.start());
      await queued(ids.at(-1)!);
    }
    const [holderId, droppedId, lastId] = ids as [string, string, string];
    expect(await queueOf()).toEqual([[droppedId, 1], [lastId, 2]]);

    expect((await api(one.errand.url, 'POST', `/tasks/${droppedId}/cancel`, { by: 'carol' })).status).toBe(202);
    expect(await waitForStatus(one.errand, droppedId, 'cancelled')).toMatchObject({ phase: 'cancelled', cancelledBy: 'carol' });
    await eventually(async () => ((await queueOf()).length === 1 ? true : undefined), 10_000, 'the queue to shrink');
    expect(await queueOf()).toEqual([[lastId, 1]]);
    expect(await view(lastId, one.errand.url)).toMatchObject({ phase: 'queued', queue: { position: 1 } });

    // The slot comes free: it goes to the task behind, never to the cancelled one.
    holder.open();
    await waitForStatus(one.errand, holderId, 'completed');
    await running(lastId, last.script);
    expect((await admission()).running.map((r) => r.taskId)).toEqual([lastId]);
    last.open();
    await waitForStatus(one.errand, lastId, 'completed');
    expect(dropped.script.requests).toHaveLength(0);
    await everyLeaseBack();
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
