// Errand as a platform team deploys it: two workers and two API processes on a Temporal cluster
// (PostgreSQL, several shards; `npm run test:cluster`) and one S3 bucket, sharing nothing else:
// each process has a state directory of its own, so a sandbox lives with the worker that made
// it, as on a node of its own. GitHub is the stand-in of test/fixtures/github-server.ts.
// Asserted: tasks spread over both workers, and one worker killed -9 mid-task leaves its tasks to
// the other with no step lost or done twice; an SSE client on the replica that did not start a
// task sees every event in order, and resumes on the other with Last-Event-ID; one webhook
// delivery sent to both replicas, and one Idempotency-Key sent to both, each start one task;
// admission limits and daily budgets hold across replicas; schedules are made and fire once.
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type { Client } from '@temporalio/client';
import { GitHubStandIn } from '../fixtures/github-server.js';
import { call, FINISH, FIX_SUM, gate, lastToolResult, ModelServer, type ChatRequest, type Reply } from '../fixtures/model-server.js';
import { BUGGY_SUM, git } from '../fixtures/repos.js';
import { api, eventually, startErrand, temporalClient, type ErrandProcess } from '../support/errand-process.js';
import { describeWithPart } from '../support/required-part.js';
import { s3StorageEnv, startS3Server, versitygwPart, type S3Server } from '../support/s3-server.js';
import { readEvents, type SseMessage } from '../support/sse.js';
import { waitForStatus } from '../support/tasks.js';

const require = createRequire(import.meta.url);
const examples = require('@octokit/webhooks-examples') as { name: string; examples: Record<string, any>[] }[];
const WEBHOOK_SECRET = 'replicas-webhook-secret';
const unique = (what: string) => `${what}-${randomBytes(3).toString('hex')}`;

describeWithPart(versitygwPart, 'two workers and two APIs on one bucket', () => {
  let s3: S3Server;
  let model: ModelServer;
  let github: GitHubStandIn;
  let temporal: { client: Client; close: () => Promise<void> };
  const taskQueue = unique('replicas');
  let workers: ErrandProcess[] = [];
  let apis: ErrandProcess[] = [];
  const processes = () => [...workers, ...apis];
  let env: Record<string, string> = {};

  beforeAll(async () => {
    s3 = await startS3Server('errand-replicas');
    model = new ModelServer();
    await model.start();
    github = new GitHubStandIn();
    await github.start();
    temporal = await temporalClient();
    // Every process of a deployment has the same configuration.
    env = {
      ...s3StorageEnv(s3, 'errand'),
      ERRAND_MODEL_BASE_URL: model.url,
      ERRAND_MODEL: 'fixture-coder',
      ERRAND_FORGE: 'github',
      ERRAND_GITHUB_TOKEN: github.token,
      ERRAND_GITHUB_API_URL: github.url,
      ERRAND_GITHUB_GIT_URL: github.gitUrl,
      ERRAND_GITHUB_WEBHOOK_SECRET: WEBHOOK_SECRET,
      ERRAND_GITHUB_BOT_LOGIN: 'errand-bot',
      ERRAND_CHECKPOINT_EVERY_STEPS: '1',
      ERRAND_MAX_RUNNING_TASKS: '3',
      ERRAND_ADMISSION_SWEEP_SECONDS: '2',
      // $0.12 a model call (100 + 20 tokens at $1,000 a million): two calls spend a budget of $0.20.
      ERRAND_MODEL_PRICES: JSON.stringify({ 'fixture-coder': { input: 1000, output: 1000 } }),
      ERRAND_DAILY_BUDGET_USD: '0.2',
      ERRAND_REAPER_INTERVAL_MINUTES: '5',
    };
    workers = await Promise.all([0, 1].map(() => startErrand({ command: 'worker', taskQueue, env })));
    apis = await Promise.all([0, 1].map(() => startErrand({ command: 'api', taskQueue, env })));
  });

  afterAll(async () => {
    await Promise.all(processes().map((p) => p.stop().catch(() => undefined)));
    await temporal?.client.schedule.getHandle(`errand-sandbox-reaper-${taskQueue}`).delete().catch(() => undefined);
    await temporal?.close();
    await github?.stop();
    await model?.stop();
    await s3?.stop();
  });

  /** A repository of the GitHub stand-in, made for one test. */
  const addRepo = (what: string, opts: Parameters<GitHubStandIn['addRepo']>[2] = {}) => {
    const full = `octo/${unique(what)}`;
    github.addRepo(full, BUGGY_SUM, opts);
    return full;
  };
  /** POST /tasks on one replica. */
  const create = async (on: ErrandProcess, body: Record<string, unknown>) => {
    const res = await api(on.url, 'POST', '/tasks', body);
    expect(res).toMatchObject({ status: 201 });
    return res.body.id as string;
  };
  /** The workers (by pid) that ran anything of a task, from its Temporal history. */
  const workersOf = async (id: string) => {
    const history = await temporal.client.workflow.getHandle(`task-${id}`).fetchHistory();
    const identities = history.events!.flatMap((e) => [e.activityTaskStartedEventAttributes?.identity, e.workflowTaskStartedEventAttributes?.identity]);
    return new Set(identities.filter((i): i is string => !!i).map((i) => Number(i.split('@')[0])));
  };
  const assistantSteps = async (on: ErrandProcess, id: string) =>
    ((await api(on.url, 'GET', `/tasks/${id}/transcript`)).body.messages as { role: string; step: number }[]).filter((m) => m.role === 'assistant').map((m) => m.step);

  it('spreads tasks over both workers, and a worker killed -9 mid-task leaves them to the other, nothing lost or doubled', async () => {
    const inFlight = gate();
    const tasks = await Promise.all(
      ['a', 'b', 'c'].map(async (name, i) => {
        const marker = `[rep-kill-${name}]`;
        const log = call('shell', { command: `echo ${name} >> steps.log` });
        // As a model would: told its command's sandbox was lost, it runs it again.
        const next = (req: ChatRequest): Reply => (lastToolResult(req).includes('sandbox was lost') ? log : JSON.stringify(req.messages).includes('write_file') ? FINISH : FIX_SUM);
        const script = model.script(marker, [{ kind: 'later', after: inFlight.promise, reply: log }, next, next, next], { indexBy: 'turn' });
        const repo = addRepo(`kill-${name}`);
        // Started through either replica.
        const id = await create(apis[i % 2]!, { repo, prompt: `${marker} Log your name, then fix sum.`, requester: unique('killer') });
        return { name, repo, id, script, lost: 0 };
      }),
    );
    // Each task's first model call is in flight on some worker: the one holding most is killed.
    const holders = await eventually(async () => {
      const held = await Promise.all(tasks.map(async (t) => (await temporal.client.workflow.getHandle(`task-${t.id}`).describe()).raw.pendingActivities?.find((a) => a.activityType?.name === 'modelTurn')?.lastWorkerIdentity));
      return held.every(Boolean) && tasks.every((t) => t.script.requests.length > 0) ? held.map((h) => Number(h!.split('@')[0])) : undefined;
    }, 90_000, 'every task in its first model call');
    const victim = workers.find((w) => w.process.pid === [...holders].sort((x, y) => holders.filter((h) => h === y).length - holders.filter((h) => h === x).length)[0])!;
    const survivor = workers.find((w) => w !== victim)!;
    // A sandbox lives with the worker that made it (not always the one now asking the model).
    const sandboxOnVictim = tasks.map((t) => existsSync(path.join(victim.stateDir, 'sandboxes', t.id)));
    victim.process.kill('SIGKILL');
    await new Promise((r) => victim.process.once('exit', r));
    inFlight.open();

    for (const t of tasks) {
      const done = await waitForStatus(apis[1]!, t.id, 'completed', 240_000);
      expect(done).toMatchObject({ pr: { number: expect.any(Number) } });
      // The name logged once: not twice by a step retried, nor lost with the sandbox that went with its worker.
      expect(git(github.bareRepo('octo', t.repo.split('/')[1]!), 'show', `errand/${t.id}:steps.log`)).toBe(`${t.name}\n`);
      // Each step once, in order; one more (the command run again) where the sandbox was lost.
      const events = (await readEvents(`${apis[0]!.url}/tasks/${t.id}/events`)).messages;
      const lost = events.filter((e) => e.event === 'sandbox_lost').length;
      expect(await assistantSteps(apis[0]!, t.id)).toEqual(lost ? [1, 2, 3, 4] : [1, 2, 3]);
      expect(done.step).toBe(lost ? 4 : 3);
      t.lost = lost;
    }
    const ranOn = await Promise.all(tasks.map((t) => workersOf(t.id)));
    const everyWorker = new Set(ranOn.flatMap((s) => [...s]));
    expect([...everyWorker].sort()).toEqual(workers.map((w) => w.process.pid).sort());
    // Whatever was in flight on the killed worker was finished by the other.
    // A sandbox that went with the killed worker was made again (once) on the other, and whatever
    // was in flight on the killed worker was finished by the other.
    for (const [i, t] of tasks.entries()) {
      expect(t.lost).toBe(sandboxOnVictim[i] ? 1 : 0);
      if (t.lost || holders[i] === victim.process.pid) expect(ranOn[i]).toContain(survivor.process.pid);
    }
    // The survivor goes on alone from here; a fresh worker takes the victim's place.
    workers = [survivor, await startErrand({ command: 'worker', taskQueue, env })];
  });

  it("streams a task's events from the replica that did not start it, in order, and resumes on the other with Last-Event-ID", async () => {
    const [starter, other] = apis as [ErrandProcess, ErrandProcess];
    const marker = '[rep-sse]';
    model.script(marker, [call('shell', { command: 'echo one >> steps.log' }), FIX_SUM, FINISH]);
    const id = await create(starter, { repo: addRepo('sse'), prompt: `${marker} Fix sum.`, requester: unique('watcher') });
    // Connected while the task runs: the events arrive as they are written, not after the end.
    const live = await readEvents(`${other.url}/tasks/${id}/events`, { timeoutMs: 120_000 });
    expect(live.status).toBe(200);
    const shown = (messages: SseMessage[]) => messages.filter((m) => m.event !== 'end').map((m) => [m.id, m.event]);
    const seen = shown(live.messages);
    expect(seen.map(([seq]) => Number(seq))).toEqual(seen.map((_, i) => i));
    expect(seen.map(([, event]) => event)).toEqual(expect.arrayContaining(['sandbox_provisioned', 'step_started', 'checkpoint', 'tests_finished', 'pr_opened']));
    expect(live.messages.at(-1)!.event).toBe('end');
    expect(shown((await readEvents(`${starter.url}/tasks/${id}/events`)).messages)).toEqual(seen);
    const resumed = await readEvents(`${starter.url}/tasks/${id}/events`, { lastEventId: '6' });
    expect(shown(resumed.messages)).toEqual(seen.slice(7));
  });

  it('starts one task for one webhook delivery sent to both replicas, and for one Idempotency-Key sent to both', async () => {
    const repo = addRepo('hook', { collaborators: { Codertocat: 'admin' } });
    const payload = structuredClone(examples.find((e) => e.name === 'issues')!.examples.find((e) => e.action === 'labeled')!);
    payload.repository.full_name = repo;
    payload.label.name = 'errand';
    payload.issue.title = '[rep-hook] The sum test fails';
    payload.issue.updated_at = new Date().toISOString();
    model.script('[rep-hook]', [FIX_SUM, FINISH]);
    const body = JSON.stringify(payload);
    const delivery = randomUUID();
    const answers = await Promise.all(
      apis.map(async (on) => {
        const res = await fetch(`${on.url}/webhooks/github`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-github-event': 'issues', 'x-github-delivery': delivery, 'x-hub-signature-256': `sha256=${createHmac('sha256', WEBHOOK_SECRET).update(body).digest('hex')}` },
          body,
        });
        return (await res.json()) as { status: string; taskId?: string };
      }),
    );
    expect(answers.map((a) => a.status).sort()).toEqual(['duplicate', 'task_started']);
    const hookTask = answers.find((a) => a.taskId)!.taskId!;
    await waitForStatus(apis[0]!, hookTask, 'completed');
    expect((await api(apis[1]!.url, 'GET', `/tasks?repo=${encodeURIComponent(repo)}`)).body.tasks.map((t: { id: string }) => t.id)).toEqual([hookTask]);
    expect(github.comments.filter((c) => c.repo === repo.split('/')[1] && c.number === payload.issue.number)).toHaveLength(1);

    model.script('[rep-key]', [FIX_SUM, FINISH]);
    const keyed = { repo: addRepo('key'), prompt: '[rep-key] Fix sum.', requester: unique('retrier') };
    const key = randomUUID();
    const posts = await Promise.all(
      apis.map(async (on) => {
        const res = await fetch(`${on.url}/tasks`, { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': key }, body: JSON.stringify(keyed) });
        return { status: res.status, replayed: res.headers.get('idempotent-replayed'), id: ((await res.json()) as { id: string }).id };
      }),
    );
    expect(posts.map((p) => p.status)).toEqual([201, 201]);
    expect(posts[0]!.id).toBe(posts[1]!.id);
    expect(posts.map((p) => p.replayed).sort()).toEqual(['true', null].sort());
    await waitForStatus(apis[1]!, posts[0]!.id, 'completed');
    const runs = [];
    for await (const run of temporal.client.workflow.list({ query: `WorkflowId = 'task-${posts[0]!.id}'` })) runs.push(run);
    expect(runs).toHaveLength(1);
  });

  it('holds the running-task limit and the daily budget across replicas', async () => {
    // The limit is 3: four tasks started through both replicas, one waits, and both replicas say so.
    const gates = ['a', 'b', 'c', 'd'].map(() => gate());
    const started: string[] = [];
    const ids = await Promise.all(
      ['a', 'b', 'c', 'd'].map(async (name, i) => {
        model.script(`[rep-adm-${name}]`, [
          () => {
            if (!started.includes(name)) started.push(name);
            return { kind: 'later', after: gates[i]!.promise, reply: FIX_SUM };
          },
          FINISH,
        ]);
        return create(apis[i % 2]!, { repo: addRepo(`adm-${name}`), prompt: `[rep-adm-${name}] Fix sum.`, requester: unique('admitted') });
      }),
    );
    await eventually(async () => (started.length === 3 ? true : undefined), 90_000, 'three tasks running');
    const views = async () => Promise.all(apis.map(async (on) => Promise.all(ids.map(async (id) => (await api(on.url, 'GET', `/tasks/${id}`)).body))));
    const queued = await eventually(async () => {
      const seen = await views();
      const waiting = seen.map((vs) => vs.filter((v) => v.phase === 'queued').map((v) => [v.id, v.queue?.position]));
      return waiting[0]!.length === 1 && JSON.stringify(waiting[0]) === JSON.stringify(waiting[1]) ? waiting[0]! : undefined;
    }, 30_000, 'one task queued, seen alike by both replicas');
    expect(queued).toEqual([[expect.any(String), 1]]);
    // Still three after a while: no replica or worker lets a fourth by.
    await new Promise((r) => setTimeout(r, 3_000));
    expect(started).toHaveLength(3);
    const waiting = ids.indexOf(queued[0]![0] as string);
    gates[ids.findIndex((_, i) => i !== waiting)]!.open();
    await eventually(async () => (started.length === 4 ? true : undefined), 60_000, 'the queued task to start');
    for (const g of gates) g.open();
    for (const id of ids) await waitForStatus(apis[0]!, id, 'completed', 120_000);

    // A requester that spent its budget through one replica is refused by the other.
    const spender = unique('spender');
    model.script('[rep-spend]', [FIX_SUM, FINISH]);
    const spent = await create(apis[0]!, { repo: addRepo('spend'), prompt: '[rep-spend] Fix sum.', requester: spender });
    await waitForStatus(apis[0]!, spent, 'completed');
    await eventually(async () => (((await api(apis[1]!.url, 'GET', '/admission')).body.spent?.byRequester?.[spender] ?? 0) > 0.2 ? true : undefined), 30_000, 'the spending to count');
    const refused = await api(apis[1]!.url, 'POST', '/tasks', { repo: addRepo('spend-again'), prompt: '[rep-spend] Fix sum again.', requester: spender });
    expect(refused).toMatchObject({ status: 429, body: { detail: expect.stringContaining(`${spender} has spent`) } });
  });

  it('makes each schedule once and fires it once, whichever replicas and workers are up', async () => {
    // Both workers keep the sandbox reaper's schedule: one schedule, listed alike by both replicas.
    for (const on of apis) {
      const listed = (await api(on.url, 'GET', '/schedules')).body.schedules as { id: string }[];
      expect(listed.filter((s) => s.id === 'sandbox-reaper')).toHaveLength(1);
    }
    const full = `octo/${unique('sched')}`;
    github.addRepo(full, { ...BUGGY_SUM, '.errand/playbooks/fix-sum.md': '---\nname: fix-sum\ntitle: "[rep-sched] Make sum add"\noutcome: sum(2, 3) is 5.\n---\nFix sum.js.\n' });
    model.script('[rep-sched]', [FIX_SUM, FINISH]);
    const id = unique('every-minute');
    expect(await api(apis[0]!.url, 'POST', '/schedules', { id, repo: full, playbook: 'fix-sum', cron: '* * * * *', requester: unique('scheduler') })).toMatchObject({ status: 201 });
    try {
      const first = await eventually(async () => {
        const { body } = await api(apis[1]!.url, 'GET', `/schedules/${id}`);
        return body.recentRuns?.length && body.recentRuns.at(-1).status !== 'running' ? body : undefined;
      }, 150_000, 'the first run to end');
      await api(apis[1]!.url, 'POST', `/schedules/${id}/pause`, { note: 'enough' });
      const { body } = await api(apis[0]!.url, 'GET', `/schedules/${id}`);
      // One task per run (one run per minute at most), each its own.
      const taskIds = (body.recentRuns as { result?: { taskId: string } }[]).map((r) => r.result?.taskId).filter(Boolean);
      expect(first.recentRuns.at(-1)).toMatchObject({ status: 'completed', result: { outcome: 'pull_request' } });
      expect(new Set(taskIds).size).toBe(taskIds.length);
      const listed = (await api(apis[1]!.url, 'GET', `/tasks?repo=${encodeURIComponent(full)}`)).body.tasks as { id: string }[];
      expect(listed.map((t) => t.id).sort()).toEqual([...taskIds].sort());
      const fired = body.recentRuns.map((r: { scheduledAt?: string; startedAt?: string }) => r.scheduledAt ?? r.startedAt);
      expect(new Set(fired).size).toBe(fired.length);
    } finally {
      await api(apis[0]!.url, 'DELETE', `/schedules/${id}`);
    }
  });
});
