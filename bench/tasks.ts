// The bench's units of work: a task through Errand's API (created, then waited for, with the
// times its model saw), and the same work done directly (the baseline: the same model calls and
// sandboxd requests one after another, no workflow in between).
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULT_REPO_LIMITS, pushFromSandbox } from '../activities/git/transfer.js';
import { prepareWorkspace } from '../activities/git/workspace.js';
import type { LocalSandboxProvider } from '../activities/sandbox/local.js';
import { SandboxdClient } from '../activities/sandbox/sandboxd-client.js';
import { call, REVIEWER_MODEL, type ModelServer, type Step, FIX_SUM, FINISH } from '../test/fixtures/model-server.js';
import { BUGGY_SUM, makeOriginRepo } from '../test/fixtures/repos.js';
import type { Client } from '@temporalio/client';
import { api, eventually, GiveUp, temporalClient, type ErrandProcess } from '../test/support/errand-process.js';
import { taskWorkflowId } from '../workflows/names.js';

export interface Figures {
  /** Task created → the model's first request. */
  start: number;
  /** Mean time from one model request to the next: a model call and a tool call. */
  step: number;
  /** The model's last request (finish) → the task closed: tests, review, push, pull request. */
  finish: number;
}
export interface Timing extends Figures {
  id: string;
  postedAt: number;
  firstAt: number;
  lastAt: number;
  closedAt: number;
  steps: number;
}

let client: Promise<Client> | undefined;
/** One Temporal client for the bench's waits, closed by `closeTemporal`. */
export const temporal = () => (client ??= temporalClient().then(({ client: c }) => c));
export async function closeTemporal(): Promise<void> {
  const closing = client;
  client = undefined;
  await (await closing)?.connection.close();
}

let counter = 0;
/** A script of `steps` list_dir calls, then the fix and finish, under a marker of its own; each answer after `latencyMs`. */
function scriptFor(model: ModelServer, steps: number, latencyMs = 0) {
  const marker = `[bench-${++counter}]`;
  const replies = [...Array.from({ length: steps }, () => call('list_dir', {})), FIX_SUM, FINISH];
  const slow = (reply: (typeof replies)[number]): Step => (latencyMs ? () => ({ kind: 'later', after: sleep(latencyMs), reply }) : reply);
  return { marker, script: model.script(marker, replies.map(slow), { indexBy: 'turn' }) };
}

/** Creates a task through the API; the returned function (which knows the task's id) waits for it and reads its timings. */
export async function runTask(model: ModelServer, errand: ErrandProcess, steps: number, latencyMs = 0): Promise<(() => Promise<Timing>) & { id: string }> {
  const { marker, script } = scriptFor(model, steps, latencyMs);
  const origin = makeOriginRepo(BUGGY_SUM);
  const postedAt = Date.now();
  const res = await api(errand.url, 'POST', '/tasks', { repo: origin, prompt: `${marker} Fix sum.`, maxSteps: steps + 10 });
  if (res.status !== 201) throw new Error(`POST /tasks answered ${res.status}: ${JSON.stringify(res.body)}`);
  const id = res.body.id as string;
  const wait = async () => {
    // Told by Temporal when it ends (a long poll), then read once through the API: two hundred
    // waiting tasks polling GET every 100 ms made the bench itself a large part of the load.
    await (await temporal()).workflow.getHandle(taskWorkflowId(id)).result().catch(() => undefined);
    const task = (await api(errand.url, 'GET', `/tasks/${id}`)).body;
    if (task.status !== 'completed') throw new GiveUp(`task ${id} ended ${task.status}: ${task.error ?? ''}`);
    rmSync(path.dirname(origin), { recursive: true, force: true });
    const at = script.receivedAt;
    const [firstAt, lastAt] = [at[0]!, at.at(-1)!];
    const closedAt = Date.parse(task.closedAt);
    return { id, postedAt, firstAt, lastAt, closedAt, steps: at.length, start: firstAt - postedAt, step: (lastAt - firstAt) / (at.length - 1), finish: closedAt - lastAt };
  };
  return Object.assign(wait, { id });
}

/** Runs `n` tasks at once and waits for them all. */
export async function runTogether(model: ModelServer, errand: ErrandProcess, n: number, steps: number, latencyMs = 0): Promise<Timing[]> {
  const waits = await Promise.all(Array.from({ length: n }, () => runTask(model, errand, steps, latencyMs)));
  return Promise.all(waits.map((w) => w()));
}

/** The same work without Errand: the model calls and sandboxd requests made directly. */
export async function direct(model: ModelServer, sandboxes: LocalSandboxProvider, steps: number): Promise<Figures> {
  const { marker } = scriptFor(model, steps);
  const origin = makeOriginRepo(BUGGY_SUM);
  const sandboxId = `bench-${counter}`;
  const chat = async (modelName: string, messages: unknown[]) => {
    const res = await fetch(`${model.url}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: modelName, messages }) });
    if (!res.ok) throw new Error(`fixture model answered ${res.status}`);
    return (await res.json()) as { choices: { message: unknown }[] };
  };
  const exec = async (sandbox: SandboxdClient, cmd: string, extra: object = {}) => {
    const r = await sandbox.exec({ cmd, timeoutMs: 120_000, ...extra });
    if (r.exitCode !== 0) throw new Error(`${cmd}: ${r.stderr}`);
  };

  let t = Date.now();
  await sandboxes.provision({ taskId: sandboxId, sandboxId, allowNetwork: false });
  const sandbox = new SandboxdClient(sandboxId, await sandboxes.endpoint(sandboxId));
  const remote = { url: origin, env: {} };
  await prepareWorkspace(sandbox, { remote, baseBranch: 'main', branch: `errand/${sandboxId}`, limits: DEFAULT_REPO_LIMITS });
  const start = Date.now() - t;

  const messages: unknown[] = [
    { role: 'system', content: 'bench' },
    { role: 'user', content: `${marker} Fix sum.` },
  ];
  t = Date.now();
  for (let i = 0; i < steps; i++) {
    messages.push((await chat('fixture-coder', messages)).choices[0]!.message);
    const listing = await sandbox.list({ path: '.' });
    messages.push({ role: 'tool', tool_call_id: `call_${i}`, content: JSON.stringify(listing) });
  }
  const step = (Date.now() - t) / steps;

  t = Date.now();
  await sandbox.writeFile({ path: 'sum.js', content: 'exports.sum = (a, b) => a + b;\n' });
  await exec(sandbox, 'npm test');
  await exec(sandbox, 'git add -A && git -c user.name=bench -c user.email=bench@localhost commit -qm "Fix sum" && git diff HEAD~1');
  await chat(REVIEWER_MODEL, [{ role: 'user', content: `${marker} review` }]);
  // Errand pushes from the worker, never from the sandbox (the forge token stays out of it).
  const baseSha = execFileSync('git', ['-C', origin, 'rev-parse', 'main'], { encoding: 'utf8' }).trim();
  await pushFromSandbox(sandbox, { branch: `errand/${sandboxId}`, baseSha, remote, limits: DEFAULT_REPO_LIMITS, vet: () => undefined });
  const finish = Date.now() - t;
  await sandboxes.destroy(sandboxId);
  rmSync(path.dirname(origin), { recursive: true, force: true });
  return { start, step, finish };
}

/**
 * `n` tasks submitted at once, each request sent twice with the same Idempotency-Key (a client
 * retrying), as a burst of users would: each request's latency. The tasks are then cancelled and
 * waited out, so they do not weigh on what is measured next.
 */
export async function submitBurst(model: ModelServer, errand: ErrandProcess, n: number): Promise<{ latencies: number[]; failed: number }> {
  const { marker } = scriptFor(model, 0);
  const origin = makeOriginRepo(BUGGY_SUM);
  const latencies: number[] = [];
  let failed = 0;
  const post = async (key: string) => {
    const t = Date.now();
    const res = await fetch(`${errand.url}/tasks`, { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': key }, body: JSON.stringify({ repo: origin, prompt: `${marker} Fix sum.` }) });
    const body = (await res.json()) as { id?: string };
    latencies.push(Date.now() - t);
    if (res.status !== 201 && res.status !== 200) failed++;
    return body.id;
  };
  const ids = await Promise.all(Array.from({ length: n }, (_, i) => `bench-burst-${counter}-${i}`).flatMap((key) => [post(key), post(key)]));
  const unique = [...new Set(ids.filter((id): id is string => Boolean(id)))];
  await Promise.all(unique.map((id) => api(errand.url, 'POST', `/tasks/${id}/cancel`, {}).catch(() => undefined)));
  await eventually(async () => {
    const views = await Promise.all(unique.map((id) => api(errand.url, 'GET', `/tasks/${id}`)));
    return views.every((v) => v.body.status !== 'running') ? true : undefined;
  }, 600_000, 'the burst of tasks to be cancelled');
  rmSync(path.dirname(origin), { recursive: true, force: true });
  return { latencies, failed: failed + (n - unique.length) };
}
