// Fault injection with real processes: a worker killed with SIGKILL in the middle of a model
// call and of a long command, a Temporal server stopped and restarted on the same database (a
// task in flight; a schedule, paused, kept and run after both Temporal and Errand restart), a
// sandbox deleted under a running task, an API restarted under an SSE client, twenty steering
// messages at once, a worker killed during an MCP call that may have taken effect (told, never
// made again), a campaign whose worker dies with tasks running and queued, and a 1,000-step
// task that continues as new. Each asserts the task ends
// with exactly the expected result: no step lost, none done twice.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { startTemporalDevServer, type DevServer } from '../../apps/cli/temporal-dev-server.js';
import { call, FIX_SUM, gate, lastToolResult, ModelServer, type ChatRequest, type Step } from '../fixtures/model-server.js';
import { BUGGY_SUM, git, makeOriginRepo } from '../fixtures/repos.js';
import { api, eventually, findProcesses, PROJECT_ROOT, startErrand, temporalClient, type ErrandProcess } from '../support/errand-process.js';
import { freePort } from '../support/free-port.js';
import { readEvents } from '../support/sse.js';
import { createTask, waitForStatus } from '../support/tasks.js';

let model: ModelServer;
const started: ErrandProcess[] = [];

beforeAll(async () => {
  model = new ModelServer();
  await model.start();
});

afterEach(async () => {
  for (const p of started.splice(0)) await p.stop().catch(() => undefined);
});

afterAll(async () => {
  await model?.stop();
});

const modelEnv = () => ({ ERRAND_MODEL_BASE_URL: model.url, ERRAND_MODEL: 'fixture-coder' });

/** The API and the worker as separate processes sharing one state directory and task queue. */
async function startSplit(env: Record<string, string> = {}) {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'errand-fault-'));
  const taskQueue = `fault-${Math.random().toString(36).slice(2, 10)}`;
  const common = { stateDir, taskQueue, env: { ...modelEnv(), ...env } };
  const launch = async (command: 'api' | 'worker') => {
    const p = await startErrand({ command, ...common });
    started.push(p);
    return p;
  };
  const split = { stateDir, api: await launch('api'), worker: await launch('worker') };
  return {
    ...split,
    /** SIGKILL, as a crashed node or an OOM kill would: no shutdown code runs. */
    killWorker: async () => {
      split.worker.process.kill('SIGKILL');
      await new Promise((r) => split.worker.process.once('exit', r));
    },
    startWorker: async () => {
      split.worker = await launch('worker');
    },
    restartApi: async () => {
      await split.api.stop();
      split.api = await launch('api');
      return split.api;
    },
  };
}

const shell = (command: string, timeoutSeconds?: number) => call('shell', { command, ...(timeoutSeconds ? { timeoutSeconds } : {}) });
const FINISH = call('finish', { summary: 'done' });
const turn = (req: ChatRequest) => req.messages.filter((m) => m.role === 'assistant').length;
const waitForTurn = (script: { requests: ChatRequest[] }, n: number) =>
  eventually(async () => (script.requests.some((r) => turn(r) === n) ? true : undefined), 60_000, `model call ${n + 1}`);

/** Every step of the transcript once, in order, and the model called once per step (retries aside). */
async function expectEachStepOnce(url: string, id: string, steps: number) {
  const transcript = (await api(url, 'GET', `/tasks/${id}/transcript`)).body;
  const answers = transcript.messages.filter((m: { role: string }) => m.role === 'assistant').map((m: { step: number }) => m.step);
  expect(answers).toEqual(Array.from({ length: steps }, (_, i) => i + 1));
  const events = (await readEvents(`${url}/tasks/${id}/events`)).messages;
  const started = events.filter((e) => e.event === 'step_started').map((e) => e.data.step);
  expect(started).toEqual(Array.from({ length: steps }, (_, i) => i + 1));
}

describe('a killed worker', () => {
  it('loses nothing when killed in the middle of a model call and again in the middle of a long command', async () => {
    const errand = await startSplit();
    const origin = makeOriginRepo(BUGGY_SUM);
    const marker = `errand-long-${Date.now()}`;
    const modelCallInFlight = gate();
    const script = model.script(
      '[kill-worker]',
      [
        shell('echo step1 >> steps.log'),
        { kind: 'later', after: modelCallInFlight.promise, reply: shell('echo step2 >> steps.log') },
        shell(`(exec -a ${marker} sleep 8); echo step3 >> steps.log`, 60),
        shell('echo step4 >> steps.log'),
        FINISH,
      ],
      { indexBy: 'turn' },
    );
    const id = await createTask(errand.api, { repo: origin, prompt: '[kill-worker] Log four steps.' });

    await waitForTurn(script, 1);
    await errand.killWorker();
    await errand.startWorker();
    modelCallInFlight.open(); // the retried call (on the new worker) is answered

    const [pid] = await eventually(async () => (findProcesses(marker).length ? findProcesses(marker) : undefined), 90_000, 'the long command');
    await errand.killWorker();
    // sandboxd kills a command whose caller went away, so it cannot finish behind the retry's back.
    await eventually(async () => (findProcesses(marker).includes(pid!) ? undefined : true), 10_000, 'the orphaned command to be killed');
    await errand.startWorker();

    const task = await waitForStatus(errand.api, id, 'completed', 180_000);
    expect(task.step).toBe(5);
    expect(git(origin, 'show', `errand/${id}:steps.log`)).toBe('step1\nstep2\nstep3\nstep4\n');
    await expectEachStepOnce(errand.api.url, id, 5);
    // A completed task is read whole with no worker (its result holds its final state), even by a
    // new API process (nothing kept in memory).
    await errand.killWorker();
    const restarted = await errand.restartApi();
    expect((await api(restarted.url, 'GET', `/tasks/${id}`)).body).toMatchObject({ status: 'completed', step: 5, summary: 'done', phase: 'completed' });
  });
});

describe('a campaign whose worker is killed', () => {
  it('finishes every repository once: the running tasks go on, the queued ones start once, no PR twice', async () => {
    const errand = await startSplit();
    const repos = Array.from({ length: 4 }, () => makeOriginRepo(BUGGY_SUM));
    const inFlight = gate();
    const script = model.script('[kill-campaign]', [{ kind: 'later', after: inFlight.promise, reply: FIX_SUM }, FINISH], { indexBy: 'turn' });
    const made = (await api(errand.api.url, 'POST', '/campaigns', { repos, prompt: '[kill-campaign] Fix sum.', concurrency: 2 })).body;
    // Two tasks wait on the model, two are queued behind them, when the worker dies.
    await eventually(async () => (script.requests.length >= 2 ? true : undefined), 60_000, 'two model calls');
    await errand.killWorker();
    await errand.startWorker();
    inFlight.open();

    const done = await eventually(async () => {
      const c = (await api(errand.api.url, 'GET', `/campaigns/${made.id}`)).body;
      return c.status === 'completed' ? c : undefined;
    }, 180_000, 'the campaign to complete');
    expect(done.rows.map((r: { status: string }) => r.status)).toEqual(['pull_request', 'pull_request', 'pull_request', 'pull_request']);
    expect(new Set(done.rows.map((r: { pr: { number: number } }) => r.pr.number)).size).toBe(4);
    // Each task was started once, by the campaign's history, and each step of each ran once.
    const { client, close } = await temporalClient();
    try {
      const history = await client.workflow.getHandle(`campaign-${made.id}`).fetchHistory();
      expect(history.events!.filter((e) => e.startChildWorkflowExecutionInitiatedEventAttributes).length).toBe(4);
    } finally {
      await close();
    }
    for (const row of done.rows) await expectEachStepOnce(errand.api.url, row.taskId, 2);
  });
});

describe('a task with attempts whose worker is killed', () => {
  it('finishes every attempt once, chooses once and opens one PR', async () => {
    const errand = await startSplit();
    const origin = makeOriginRepo(BUGGY_SUM);
    const inFlight = gate();
    const script = model.script('[kill-attempts]', [{ kind: 'later', after: inFlight.promise, reply: FIX_SUM }, FINISH], { indexBy: 'turn' });
    const made = (await api(errand.api.url, 'POST', '/tasks', { repo: origin, prompt: '[kill-attempts] Fix sum.', attempts: 2 })).body;
    // Both attempts wait on the model when the worker dies.
    await eventually(async () => (script.requests.length >= 2 ? true : undefined), 60_000, 'both attempts on the model');
    await errand.killWorker();
    await errand.startWorker();
    inFlight.open();

    const done = await waitForStatus(errand.api, made.id, 'completed', 180_000);
    expect(done.attempts.map((a: { status: string }) => a.status)).toEqual(['finished', 'finished']);
    expect(done.choice.n).toBeGreaterThan(0);
    expect(done.pr.head).toBe(`errand/${made.id}-a${done.choice.n}`);
    const { client, close } = await temporalClient();
    try {
      const history = await client.workflow.getHandle(`task-${made.id}`).fetchHistory();
      expect(history.events!.filter((e) => e.startChildWorkflowExecutionInitiatedEventAttributes).length).toBe(2);
      const scheduled = history.events!.flatMap((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? []);
      expect(scheduled.filter((name) => name === 'openPullRequest')).toHaveLength(1);
    } finally {
      await close();
    }
    for (const a of done.attempts) await expectEachStepOnce(errand.api.url, a.taskId, 2);
  });
});

describe('a worker killed during an MCP call', () => {
  it('tells the model the outcome is unknown and never makes the call again', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'errand-fault-mcp-'));
    const everything = path.join(PROJECT_ROOT, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js');
    // The long operation says it only reads; the operator takes no tool of this server as read-only.
    const config = { mcpServers: { slow: { command: process.execPath, args: [everything, 'stdio'], tools: ['trigger-long-running-operation'], readOnlyTools: [] } } };
    writeFileSync(path.join(dir, 'mcp.json'), JSON.stringify(config));
    const errand = await startSplit({ ERRAND_MCP_CONFIG: path.join(dir, 'mcp.json') });
    const origin = makeOriginRepo(BUGGY_SUM);
    const script = model.script('[kill-mid-mcp]', [call('slow__trigger-long-running-operation', { duration: 30, steps: 30 }), FIX_SUM, FINISH], { indexBy: 'turn' });
    const id = await createTask(errand.api, { repo: origin, prompt: '[kill-mid-mcp] Fix sum.' });

    await eventually(async () => ((await readEvents(`${errand.api.url}/tasks/${id}/events`, { stopAfter: (m) => m.event === 'tool_called', timeoutMs: 5_000 })).messages.some((m) => m.event === 'tool_called') || undefined), 60_000, 'the MCP call');
    await errand.killWorker();
    await errand.startWorker();

    const task = await waitForStatus(errand.api, id, 'completed', 120_000);
    expect(task.step).toBe(3);
    const heard = script.requests.find((r) => turn(r) === 1)!;
    expect(lastToolResult(heard)).toMatch(/^error: the outcome of this slow__trigger-long-running-operation call is unknown \(.+\); it was not made again/);
    // One call, audited once: the new worker did not make it again.
    const audit = (await api(errand.api.url, 'GET', `/audit?task=${id}`)).body;
    expect((audit.entries ?? audit).filter((e: { action: string }) => e.action === 'mcp.call slow__trigger-long-running-operation')).toHaveLength(1);
    const temporal = await temporalClient();
    const history = await temporal.client.workflow.getHandle(`task-${id}`).fetchHistory().finally(() => temporal.close());
    const runs = history.events!.filter((e) => e.activityTaskStartedEventAttributes && history.events!.find((s) => Number(s.eventId) === Number(e.activityTaskStartedEventAttributes!.scheduledEventId))?.activityTaskScheduledEventAttributes?.retryPolicy?.maximumAttempts === 1);
    expect(runs.map((e) => e.activityTaskStartedEventAttributes!.attempt)).toEqual([1]);
  });
});

describe('admission across faults', () => {
  it('gives a terminated holder\'s slot to the next within a sweep, and leaks none when the worker is killed -9', async () => {
    const errand = await startSplit({ ERRAND_MAX_RUNNING_TASKS: '1', ERRAND_ADMISSION_SWEEP_SECONDS: '2' });
    const origin = makeOriginRepo(BUGGY_SUM);
    const started: string[] = [];
    const gates = { x1: gate(), x2: gate(), x3: gate() };
    const ids: Record<string, string> = {};
    const place = async (name: string) => (await api(errand.api.url, 'GET', `/tasks/${ids[name]}`)).body.queue?.position;
    for (const name of ['x1', 'x2', 'x3'] as const) {
      // By turn: a model call retried on a new worker is the same turn, held by the same gate.
      model.script(
        `[admit-${name}]`,
        [
          () => {
            if (!started.includes(name)) started.push(name);
            return { kind: 'later', after: gates[name].promise, reply: FIX_SUM };
          },
          FINISH,
        ],
        { indexBy: 'turn' },
      );
      ids[name] = await createTask(errand.api, { repo: origin, prompt: `[admit-${name}] Fix sum.` });
      if (name === 'x1') await eventually(async () => (started.includes('x1') ? true : undefined), 60_000, 'x1 to start');
      // The queue is in the order tasks ask for a lease, after their repository check: x3 asks
      // only once x2 has, or the two race.
      if (name === 'x2') await eventually(async () => ((await place('x2')) === 1 ? true : undefined), 30_000, 'x2 queued first');
    }
    await eventually(async () => ((await place('x3')) === 2 ? true : undefined), 30_000, 'x3 queued second');

    // Terminated, the holder cannot give its lease back: the sweep finds it closed.
    const { client, close } = await temporalClient();
    try {
      await client.workflow.getHandle(`task-${ids.x1}`).terminate('fault test: a holder that never gives its lease back');
    } finally {
      await close();
    }
    await eventually(async () => (started.includes('x2') ? true : undefined), 30_000, 'x2 to start after the sweep');
    // (The API reuses the queue it read for up to a second.)
    await eventually(async () => ((await place('x3')) === 1 ? true : undefined), 5_000, 'x3 first in the queue');

    // The worker dies while x2 holds the lease: x2 keeps it on the next worker, x3 keeps waiting.
    await errand.killWorker();
    await errand.startWorker();
    await new Promise((r) => setTimeout(r, 5_000)); // more than two sweeps
    expect(started).toEqual(['x1', 'x2']);
    // A fresh worker replays the admission workflow before it answers where x3 is.
    await eventually(async () => ((await place('x3')) === 1 ? true : undefined), 15_000, 'x3 still first in the queue');
    expect(started).toEqual(['x1', 'x2']);
    gates.x2.open();
    await waitForStatus(errand.api, ids.x2!, 'completed', 120_000);
    gates.x3.open();
    await waitForStatus(errand.api, ids.x3!, 'completed', 120_000);
    expect(started).toEqual(['x1', 'x2', 'x3']);
    await eventually(async () => {
      const now = (await api(errand.api.url, 'GET', '/admission')).body;
      return now.running.length === 0 && now.queued.length === 0 ? true : undefined;
    }, 10_000, 'every lease given back');
  });
});

describe('a worker too busy to answer', () => {
  it("gets GET /tasks/:id the state it gave a moment ago, marked, until a change made through the API", async () => {
    const errand = await startSplit();
    const origin = makeOriginRepo(BUGGY_SUM);
    const held = gate();
    const script = model.script('[frozen-worker]', [shell('echo one'), { kind: 'later', after: held.promise, reply: FIX_SUM }, FINISH], { indexBy: 'turn' });
    const id = await createTask(errand.api, { repo: origin, prompt: '[frozen-worker] One step.' });
    await waitForTurn(script, 1);
    const fresh = (await api(errand.api.url, 'GET', `/tasks/${id}`)).body;
    expect(fresh).toMatchObject({ status: 'running', step: 2 });
    expect(fresh.stateAsOf).toBeUndefined();

    // Stopped, not killed: a worker too busy to take the query.
    errand.worker.process.kill('SIGSTOP');
    try {
      const started = Date.now();
      const late = (await api(errand.api.url, 'GET', `/tasks/${id}`)).body;
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(late).toMatchObject({ status: 'running', step: 2, phase: 'working' });
      expect(Date.parse(late.stateAsOf)).toBeLessThanOrEqual(Date.now());
      // After a pause through the API, an earlier state would be wrong: the GET waits for the worker.
      expect((await api(errand.api.url, 'POST', `/tasks/${id}/pause`, {})).status).toBeLessThan(300);
      const after = (await api(errand.api.url, 'GET', `/tasks/${id}`)).body;
      expect(after.stateAsOf).toBeUndefined();
      expect(after.step).toBeUndefined();
    } finally {
      errand.worker.process.kill('SIGCONT');
    }
    const resumed = await eventually(async () => {
      const view = (await api(errand.api.url, 'GET', `/tasks/${id}`)).body;
      return view.paused ? view : undefined;
    }, 30_000, 'the pause to show');
    expect(resumed).toMatchObject({ step: 2 });
    expect(resumed.stateAsOf).toBeUndefined();
    await api(errand.api.url, 'POST', `/tasks/${id}/resume`, {});
    held.open();
    await waitForStatus(errand.api, id, 'completed', 120_000);
  });
});

describe('a restarted Temporal server', () => {
  let temporal: DevServer | undefined;
  afterEach(async () => {
    await temporal?.stop();
  });

  it('picks the task up where it was after the server stops and starts again on the same database', async () => {
    const port = await freePort();
    const dbFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'errand-temporal-')), 'temporal.db');
    const serve = () => startTemporalDevServer({ port, uiPort: 0, headless: true, dbFile, startTimeoutMs: 90_000 });
    temporal = await serve();
    const errand = await startErrand({ env: { ...modelEnv(), ERRAND_TEMPORAL_ADDRESS: temporal.address } });
    started.push(errand);
    const origin = makeOriginRepo(BUGGY_SUM);
    const inFlight = gate();
    const script = model.script(
      '[restart-temporal]',
      [shell('echo one >> steps.log'), { kind: 'later', after: inFlight.promise, reply: shell('echo two >> steps.log') }, shell('echo three >> steps.log'), FINISH],
      { indexBy: 'turn' },
    );
    const id = await createTask(errand, { repo: origin, prompt: '[restart-temporal] Log three steps.' });
    await waitForTurn(script, 1);

    await temporal.stop();
    await new Promise((r) => setTimeout(r, 2_000));
    temporal = await serve();
    inFlight.open();

    const task = await waitForStatus(errand, id, 'completed', 180_000);
    expect(task.step).toBe(4);
    expect(git(origin, 'show', `errand/${id}:steps.log`)).toBe('one\ntwo\nthree\n');
    await expectEachStepOnce(errand.url, id, 4);
  });
});

describe('schedules across a restart of everything', () => {
  let temporal: DevServer | undefined;
  afterEach(async () => {
    await temporal?.stop();
  });

  it('keeps a schedule, its pause and its note, and runs it after Temporal and Errand both restart', async () => {
    const port = await freePort();
    const dbFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'errand-temporal-')), 'temporal.db');
    const serve = () => startTemporalDevServer({ port, uiPort: 0, headless: true, dbFile, startTimeoutMs: 90_000 });
    temporal = await serve();
    const stateDir = mkdtempSync(path.join(os.tmpdir(), 'errand-state-'));
    const taskQueue = `restart-${Math.random().toString(36).slice(2, 10)}`;
    const start = () => startErrand({ stateDir, taskQueue, env: { ...modelEnv(), ERRAND_TEMPORAL_ADDRESS: temporal!.address } });
    let errand = await start();
    const origin = makeOriginRepo({ ...BUGGY_SUM, '.errand/playbooks/fix-sum.md': '---\nname: fix-sum\ntitle: "[restart-schedule] Make sum add"\noutcome: sum adds.\n---\nFix sum.\n' });
    model.script('[restart-schedule]', [call('write_file', { path: 'sum.js', content: 'exports.sum = (a, b) => a + b;\n' }), FINISH]);
    expect((await api(errand.url, 'POST', '/schedules', { id: 'nightly', repo: origin, playbook: 'fix-sum', cron: '0 2 * * *', timezone: 'America/New_York' })).status).toBe(201);
    await api(errand.url, 'POST', '/schedules/nightly/pause', { note: 'until the restart' });

    await errand.stop();
    await temporal.stop();
    temporal = await serve();
    errand = await start();
    started.push(errand);

    const after = await api(errand.url, 'GET', '/schedules/nightly');
    expect(after.body).toMatchObject({ id: 'nightly', cron: '0 2 * * *', timezone: 'America/New_York', paused: true, note: 'until the restart' });
    await api(errand.url, 'POST', '/schedules/nightly/unpause');
    await api(errand.url, 'POST', '/schedules/nightly/trigger');
    const ran = await eventually(async () => {
      const { body } = await api(errand.url, 'GET', '/schedules/nightly');
      return body.recentRuns[0]?.status === 'completed' ? body.recentRuns[0] : undefined;
    }, 120_000, 'the triggered run to complete');
    expect(git(origin, 'show', `errand/${ran.result.taskId}:sum.js`)).toContain('a + b');
  });
});

describe('a lost sandbox', () => {
  it('is replaced, the workspace restored from the checkpoint, and the model told; the branch has the edits from before and after', async () => {
    const errand = await startSplit({ ERRAND_CHECKPOINT_EVERY_STEPS: '1' });
    const origin = makeOriginRepo(BUGGY_SUM);
    const inFlight = gate();
    const script = model.script('[lose-sandbox]', [
      call('write_file', { path: 'before.txt', content: 'written before the loss\n' }),
      { kind: 'later', after: inFlight.promise, reply: call('write_file', { path: 'after.txt', content: 'lost with the sandbox\n' }) },
      (req) =>
        req.messages.some((m) => m.role === 'user' && m.content?.includes('The sandbox was lost and replaced'))
          ? call('shell', { command: 'cat before.txt && printf "written after the loss\\n" > after.txt' })
          : { kind: 'text', text: 'no note about the sandbox' },
      FINISH,
    ]);
    const id = await createTask(errand.api, { repo: origin, prompt: '[lose-sandbox] Write two files.' });
    await waitForTurn(script, 1);
    const first = path.join(errand.stateDir, 'sandboxes', id);
    expect(existsSync(first)).toBe(true);
    rmSync(first, { recursive: true, force: true }); // as an evicted pod or a cleaned-up node would
    inFlight.open();

    const task = await waitForStatus(errand.api, id, 'completed');
    expect(task.sandboxLosses).toBe(1);
    const note = script.requests[2]!.messages.filter((m) => m.role === 'user').at(-1)!.content!;
    expect(note).toContain('restored from the checkpoint taken after step 1');
    expect(note).toContain('Changes made after step 1 are gone');
    expect(script.requests[2]!.messages.at(-2)).toMatchObject({ role: 'tool', content: 'error: the sandbox was lost while this ran; see the note from Errand' });
    expect(git(origin, 'show', `errand/${id}:before.txt`)).toBe('written before the loss\n');
    expect(git(origin, 'show', `errand/${id}:after.txt`)).toBe('written after the loss\n');
    // Both sandboxes are gone at the end, and the orphaned sandboxd stopped by itself.
    await eventually(async () => (existsSync(path.join(errand.stateDir, 'sandboxes', `${id}-r1`)) ? undefined : true), 20_000, 'the replacement to be destroyed');
    await expectEachStepOnce(errand.api.url, id, 4);
  });
});

describe('a restarted API', () => {
  it('loses nothing: the task goes on, and an SSE client reconnects and resumes where it left off', async () => {
    const errand = await startSplit();
    const origin = makeOriginRepo(BUGGY_SUM);
    const steps: Step[] = Array.from({ length: 6 }, (_, i) => shell(`sleep 0.7; echo ${i + 1} >> steps.log`));
    const script = model.script('[restart-api]', [...steps, FINISH], { indexBy: 'turn' });
    const id = await createTask(errand.api, { repo: origin, prompt: '[restart-api] Log six steps slowly.' });

    // A client follows the stream; the API goes away under it after a few events.
    const following = readEvents(`${errand.api.url}/tasks/${id}/events`, { timeoutMs: 120_000 });
    await waitForTurn(script, 2);
    const api2 = await errand.restartApi();
    const before = (await following).messages;
    expect(before.at(-1)?.event).not.toBe('end'); // the stream was cut mid-task
    const after = (await readEvents(`${api2.url}/tasks/${id}/events`, { lastEventId: before.at(-1)!.id, timeoutMs: 120_000 })).messages;
    expect(after.at(-1)).toMatchObject({ event: 'end', data: { status: 'completed' } });

    const ids = [...before, ...after].filter((m) => m.event !== 'end').map((m) => Number(m.id));
    expect(ids).toEqual(ids.map((_, i) => i)); // contiguous: nothing missed, nothing twice
    const replay = (await readEvents(`${api2.url}/tasks/${id}/events`)).messages;
    expect(replay.map((m) => `${m.id}:${m.event}`)).toEqual([...before, ...after].map((m) => `${m.id}:${m.event}`));
    expect(git(origin, 'show', `errand/${id}:steps.log`)).toBe('1\n2\n3\n4\n5\n6\n');
  });
});

describe('many steering messages at once', () => {
  it('delivers twenty concurrent messages to the model exactly once each, in the order they were accepted', async () => {
    const errand = await startSplit();
    const origin = makeOriginRepo(BUGGY_SUM);
    const received = (req: ChatRequest) => req.messages.filter((m) => m.role === 'user' && m.content?.startsWith('Message from')).map((m) => m.content!);
    // Work slowly until all twenty have arrived, then write a file, then finish.
    const step: Step = (req) => {
      if (req.messages.some((m) => m.role === 'tool' && m.content?.startsWith('wrote'))) return FINISH;
      return received(req).length >= 20 ? call('write_file', { path: 'done.txt', content: 'all read\n' }) : shell('sleep 0.3');
    };
    const script = model.script('[twenty]', Array.from({ length: 80 }, () => step), { indexBy: 'turn' });
    const id = await createTask(errand.api, { repo: origin, prompt: '[twenty] Wait for the messages.' });
    await waitForTurn(script, 1);

    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, i) => api(errand.api.url, 'POST', `/tasks/${id}/messages`, { text: `note ${i + 1}`, from: `sender-${i + 1}` })),
    );
    expect(replies.map((r) => r.status)).toEqual(Array(20).fill(202));
    const seqs = replies.map((r) => r.body.seq as number);
    expect([...seqs].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));

    const task = await waitForStatus(errand.api, id, 'completed');
    expect(task.messages).toEqual({ accepted: 20, delivered: 20 });
    // In the model's last view of the conversation, each message once, in the order of acceptance.
    const final = received(script.requests.at(-1)!);
    const bySeq = new Map(replies.map((r, i) => [r.body.seq as number, `Message from sender-${i + 1} (#${r.body.seq}): note ${i + 1}`]));
    expect(final).toEqual(Array.from({ length: 20 }, (_, i) => bySeq.get(i + 1)));
  });
});

describe('a long task', () => {
  it('runs 1,000 steps across runs that continue as new, with no history near the limits and the same id throughout', async () => {
    const errand = await startSplit();
    const origin = makeOriginRepo(BUGGY_SUM);
    const STEPS = 1_000;
    const script = model.script('[thousand]', [
      ...Array.from({ length: STEPS - 1 }, (_, i) => (i === 500 ? call('write_file', { path: 'halfway.txt', content: 'step 501\n' }) : call('list_dir', {}))),
      call('write_file', { path: 'sum.js', content: 'exports.sum = (a, b) => a + b;\n' }),
      FINISH,
    ], { indexBy: 'turn' });
    const id = await createTask(errand.api, { repo: origin, prompt: '[thousand] A long task.', maxSteps: STEPS + 1 });

    // Mid-way, the API answers for the task by the same id, whichever run it is in.
    const mid = await eventually(async () => {
      const s = (await api(errand.api.url, 'GET', `/tasks/${id}`)).body;
      return s.continuedAsNew >= 2 ? s : undefined;
    }, 600_000, 'the second continue-as-new');
    expect(mid).toMatchObject({ id, status: 'running', phase: 'working' });

    const task = await waitForStatus(errand.api, id, 'completed', 600_000);
    expect(task.step).toBe(STEPS + 1);
    expect(task.continuedAsNew).toBeGreaterThanOrEqual(9);
    expect(script.requests.length).toBe(STEPS + 1);
    expect(git(origin, 'show', `errand/${id}:halfway.txt`)).toBe('step 501\n');

    const { client, close } = await temporalClient();
    try {
      const runs: string[] = [];
      for await (const run of client.workflow.list({ query: `WorkflowId = 'task-${id}'` })) runs.push(run.runId);
      expect(runs.length).toBe(task.continuedAsNew + 1);
      for (const runId of runs) {
        const history = await client.workflow.getHandle(`task-${id}`, runId).fetchHistory();
        const events = history.events ?? [];
        expect(events.length).toBeLessThan(5_000); // Temporal warns at 10,240 and stops at 51,200
      }
    } finally {
      await close();
    }
  });
});
