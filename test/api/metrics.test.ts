// Prometheus metrics, scraped over real HTTP from a real `errand serve` while a task runs and
// after it ends: the API's /metrics (tasks started, running by phase, ended by status, request
// latency) and the worker's (activities, tool calls, model calls and tokens, sandbox starts, and
// the Temporal SDK's own worker metrics), counters moving as the task works.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { call, FINISH, gate } from '../fixtures/model-server.js';
import { BUGGY_SUM, makeOriginRepo } from '../fixtures/repos.js';
import { eventually, PROJECT_ROOT } from '../support/errand-process.js';
import { createTask, waitForStatus } from '../support/tasks.js';
import { useErrand } from '../support/use.js';

const t = useErrand();

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

    // While it runs: started, and running in a phase.
    const during = await eventually(async () => {
      const text = await scrape(`${t.errand.url}/metrics`);
      return sample(text, 'errand_tasks_running', { phase: 'working' }) >= 1 ? text : undefined;
    }, 30_000, 'the task to show as working');
    expect(sample(during, 'errand_tasks_started_total', { playbook: 'none' }) - sample(apiBefore, 'errand_tasks_started_total', { playbook: 'none' })).toBe(1);
    held.open();
    await waitForStatus(t.errand, id, 'completed');

    // Visibility learns of the end a moment after the task ends.
    const apiAfter = await eventually(async () => {
      const text = await scrape(`${t.errand.url}/metrics`);
      return sample(text, 'errand_tasks_running', { phase: 'working' }) === 0 && sample(text, 'errand_tasks_ended', { status: 'completed' }) >= 1 ? text : undefined;
    }, 30_000, 'visibility to show the task ended');
    expect(sample(apiAfter, 'errand_http_request_seconds_count', { method: 'POST', route: '/tasks', status: '201' })).toBeGreaterThanOrEqual(1);
    expect(sample(apiAfter, 'errand_http_request_seconds_count', { method: 'GET', route: '/tasks/:id', status: '200' })).toBeGreaterThanOrEqual(1);

    const workerAfter = await scrape(workerUrl!);
    const moved = (name: string, labels: Record<string, string>) => sample(workerAfter, name, labels) - sample(workerBefore, name, labels);
    expect(moved('errand_activity_seconds_count', { activity: 'modelTurn', outcome: 'ok' })).toBeGreaterThanOrEqual(3);
    expect(moved('errand_tool_call_seconds_count', { tool: 'read_file', outcome: 'ok' })).toBe(1);
    expect(moved('errand_tool_call_seconds_count', { tool: 'write_file', outcome: 'ok' })).toBe(1);
    expect(moved('errand_model_call_seconds_count', { model: 'fixture-coder', outcome: 'ok' })).toBeGreaterThanOrEqual(3);
    expect(moved('errand_model_tokens_total', { model: 'fixture-coder', kind: 'prompt' })).toBeGreaterThan(0);
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
  });
});
