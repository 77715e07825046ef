// Prometheus metrics, scraped over real HTTP from a real `errand serve` while a task runs and
// after it ends: the API's /metrics (running by phase, ended by status, request latency, webhook
// deliveries) and the worker's (tasks started and ended, queue wait, activities, tool calls,
// the coder's and the reviewer's calls, tokens and cost, sandbox starts, and the Temporal SDK's
// own worker metrics), counters moving as the task works.
import { createHmac, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { call, FINISH, gate } from '../fixtures/model-server.js';
import { BUGGY_SUM, makeOriginRepo } from '../fixtures/repos.js';
import { eventually, PROJECT_ROOT } from '../support/errand-process.js';
import { createTask, waitForStatus } from '../support/tasks.js';
import { useErrand } from '../support/use.js';

const WEBHOOK_SECRET = 'metrics-webhook-secret';
const t = useErrand({
  // Priced, so cost moves; a limit on running tasks, so the task asks for a slot and its wait is measured.
  ERRAND_MODEL_PRICES: JSON.stringify({ 'fixture-coder': { input: 1, output: 1 }, 'fixture-reviewer': { input: 1, output: 1 } }),
  ERRAND_MAX_RUNNING_TASKS: '5',
  ERRAND_GITHUB_WEBHOOK_SECRET: WEBHOOK_SECRET,
});

/** A signed GitHub delivery Errand has nothing to do for (a ping). */
async function ping(): Promise<void> {
  const body = JSON.stringify({ zen: 'Keep it logically awesome.', hook_id: 1 });
  const res = await fetch(`${t.errand.url}/webhooks/github`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-github-event': 'ping',
      'x-github-delivery': randomUUID(),
      'x-hub-signature-256': `sha256=${createHmac('sha256', WEBHOOK_SECRET).update(body).digest('hex')}`,
    },
    body,
  });
  expect(res.status).toBeLessThan(300);
}

/** The metric families a scrape declares, with their types. */
const types = (text: string) => new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!]));

/** The value of one sample (`name{labels}`), 0 when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const [, inner = ''] = /^[^{ ]+(?:\{(.*)\})? /.exec(line) ?? [];
    if (want.every((w) => inner.split(',').includes(w))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}

const scrape = async (url: string) => {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return res.text();
};

describe('metrics', () => {
  it('move on the API and on the worker while a task runs, with bounded labels', async () => {
    const workerUrl = /"url":"([^"]+\/metrics)"/.exec(t.errand.output())?.[1];
    expect(workerUrl).toBeDefined();
    const [apiBefore, workerBefore] = [await scrape(`${t.errand.url}/metrics`), await scrape(workerUrl!)];

    const origin = makeOriginRepo(BUGGY_SUM);
    const held = gate();
    t.model.script('[metrics]', [call('read_file', { path: 'sum.js' }), { kind: 'later', after: held.promise, reply: call('write_file', { path: 'sum.js', content: 'exports.sum = (a, b) => a + b;\n' }) }, FINISH]);
    const id = await createTask(t.errand, { repo: origin, prompt: '[metrics] Fix sum.' });

    // While it runs: running in a phase (the API, from visibility), started and working (the worker).
    await eventually(async () => {
      const text = await scrape(`${t.errand.url}/metrics`);
      return sample(text, 'errand_tasks_running', { phase: 'working' }) >= 1 ? text : undefined;
    }, 30_000, 'the task to show as working');
    // The worker, once the step before the held one has read its file.
    const readFiles = (text: string) => sample(text, 'errand_tool_call_seconds_count', { tool: 'read_file', outcome: 'ok' });
    const workerDuring = await eventually(async () => {
      const text = await scrape(workerUrl!);
      return readFiles(text) - readFiles(workerBefore) === 1 ? text : undefined;
    }, 30_000, 'the read_file call to be counted');
    const movedDuring = (name: string, labels: Record<string, string> = {}) => sample(workerDuring, name, labels) - sample(workerBefore, name, labels);
    expect(movedDuring('errand_tasks_started_total', { playbook: 'none' })).toBe(1);
    expect(movedDuring('errand_task_queue_seconds_count')).toBe(1);
    expect(movedDuring('errand_tasks_ended_total', { outcome: 'completed', playbook: 'none' })).toBe(0);
    await ping();
    held.open();
    await waitForStatus(t.errand, id, 'completed');

    // Visibility learns of the end a moment after the task ends. The gauges count the whole
    // namespace, which other test files' tasks share: no exact count of running ones holds here.
    const apiAfter = await eventually(async () => {
      const text = await scrape(`${t.errand.url}/metrics`);
      return sample(text, 'errand_tasks_ended', { status: 'completed' }) >= 1 ? text : undefined;
    }, 30_000, 'visibility to show the task ended');
    expect(sample(apiAfter, 'errand_http_request_seconds_count', { method: 'POST', route: '/tasks', status: '201' })).toBeGreaterThanOrEqual(1);
    expect(sample(apiAfter, 'errand_http_request_seconds_count', { method: 'GET', route: '/tasks/:id', status: '200' })).toBeGreaterThanOrEqual(1);
    expect(sample(apiAfter, 'errand_webhook_deliveries_total', { event: 'ping' }) - sample(apiBefore, 'errand_webhook_deliveries_total', { event: 'ping' })).toBe(1);

    const workerAfter = await scrape(workerUrl!);
    const moved = (name: string, labels: Record<string, string>) => sample(workerAfter, name, labels) - sample(workerBefore, name, labels);
    expect(moved('errand_activity_seconds_count', { activity: 'modelTurn', outcome: 'ok' })).toBeGreaterThanOrEqual(3);
    expect(moved('errand_tool_call_seconds_count', { tool: 'read_file', outcome: 'ok' })).toBe(1);
    expect(moved('errand_tool_call_seconds_count', { tool: 'write_file', outcome: 'ok' })).toBe(1);
    expect(moved('errand_model_call_seconds_count', { model: 'fixture-coder', outcome: 'ok' })).toBeGreaterThanOrEqual(3);
    expect(moved('errand_model_tokens_total', { model: 'fixture-coder', kind: 'prompt' })).toBeGreaterThan(0);
    expect(moved('errand_model_cost_usd_total', { model: 'fixture-coder' })).toBeGreaterThan(0);
    // The review agent's calls, under the reviewer's model.
    expect(moved('errand_model_call_seconds_count', { model: 'fixture-reviewer', outcome: 'ok' })).toBeGreaterThanOrEqual(1);
    expect(moved('errand_model_tokens_total', { model: 'fixture-reviewer', kind: 'completion' })).toBeGreaterThan(0);
    expect(moved('errand_model_cost_usd_total', { model: 'fixture-reviewer' })).toBeGreaterThan(0);
    expect(moved('errand_sandbox_provision_seconds_count', { provider: 'local', outcome: 'ok' })).toBe(1);
    expect(moved('errand_activity_queue_seconds_count', { activity: 'provisionSandbox' })).toBe(1);
    // From the workflow itself (sinks): its steps, and its end with its outcome.
    expect(moved('errand_step_seconds_count', {})).toBeGreaterThanOrEqual(3);
    expect(moved('errand_tasks_ended_total', { outcome: 'completed', playbook: 'none' })).toBe(1);
    // The Temporal SDK's own worker metrics come through the same scrape.
    expect(workerAfter).toMatch(/^temporal_\w+/m);
    // No task id, sandbox id or path in any label.
    for (const text of [apiAfter, workerAfter]) expect(text).not.toContain(id);
    // Every Errand metric the chart's dashboard and alerts read is one these scrapes serve.
    const chart = ['dashboards/errand.json', 'templates/prometheusrule.yaml'].map((f) => readFileSync(path.join(PROJECT_ROOT, 'helm', 'errand', f), 'utf8')).join('\n');
    const read = new Set([...chart.matchAll(/\b(errand_[a-z_]+?)(_bucket|_count|_sum)?\b/g)].map((m) => m[1]!));
    expect(read.size).toBeGreaterThan(8);
    for (const name of read) expect({ name, served: `${apiAfter}\n${workerAfter}`.includes(`# HELP ${name} `) }).toEqual({ name, served: true });
    // rate() and increase() only of counters and histograms: of a gauge that falls (ended tasks
    // leaving Temporal's retention) they read every fall as a counter reset, and alerts misfire.
    const served = new Map([...types(apiAfter), ...types(workerAfter)]);
    const rated = [...chart.matchAll(/\b(?:rate|increase|irate)\((errand_[a-z_]+?)(?:_bucket|_count|_sum)?\b/g)].map((m) => m[1]!);
    expect(rated.length).toBeGreaterThan(8);
    for (const name of rated) expect({ name, type: served.get(name) }).toEqual({ name, type: expect.stringMatching(/^(counter|histogram)$/) });
  });
});
