// OpenTelemetry tracing end to end, on the real Temporal server: the API and a worker run in this
// process with the SDK's in-memory span exporter, a caller sends a task with its own
// `traceparent`, and the request, the workflow it started and that workflow's activities are
// all spans of the caller's trace, each under its parent. Then as an operator turns it on: a
// real `errand serve` with OTEL_EXPORTER_OTLP_ENDPOINT, exporting to a collector over OTLP/HTTP.
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { Client, Connection } from '@temporalio/client';
import { startApi, type RunningApi } from '../../apps/api/server.js';
import { loadConfig } from '../../apps/config.js';
import { createLogger } from '../../apps/logger.js';
import { startTracing, tracingClientInterceptors, type Tracing } from '../../apps/tracing.js';
import { startWorker, type RunningWorker } from '../../apps/worker/worker.js';
import { FINISH, FIX_SUM, ModelServer } from '../fixtures/model-server.js';
import { BUGGY_SUM, makeOriginRepo } from '../fixtures/repos.js';
import { api, eventually, startErrandWithModel, temporalAddress } from '../support/errand-process.js';

const exporter = new InMemorySpanExporter();
let model: ModelServer;
let tracing: Tracing;
let worker: RunningWorker;
let connection: Connection;
let server: RunningApi;
const stateDir = mkdtempSync(path.join(os.tmpdir(), 'errand-tracing-'));

beforeAll(async () => {
  model = new ModelServer();
  await model.start();
  const config = loadConfig({
    ERRAND_TEMPORAL_ADDRESS: temporalAddress(),
    ERRAND_TASK_QUEUE: `tracing-${Math.random().toString(36).slice(2, 10)}`,
    ERRAND_STATE_DIR: stateDir,
    ERRAND_MODEL_BASE_URL: model.url,
    ERRAND_MODEL: 'fixture-coder',
    ERRAND_REVIEWER_MODEL: 'fixture-reviewer',
    ERRAND_API_PORT: '0',
    ERRAND_WORKER_METRICS_PORT: '0',
    ERRAND_REAPER_INTERVAL_MINUTES: '0',
  });
  const log = createLogger('warn');
  tracing = startTracing('errand-test', exporter)!;
  worker = await startWorker(config, log, tracing);
  connection = await Connection.connect({ address: temporalAddress() });
  server = await startApi(config, new Client({ connection, interceptors: tracingClientInterceptors(tracing) }), log, tracing);
});

afterAll(async () => {
  await server?.close();
  await worker?.shutdown();
  await connection?.close();
  await tracing?.shutdown();
  await model?.stop();
  rmSync(stateDir, { recursive: true, force: true });
});

describe('tracing', () => {
  it('makes one trace of the caller\'s request, the workflow it starts and every activity, each under its parent', async () => {
    const traceId = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
    const callerSpan = '00f067aa0ba902b7';
    model.script('[traced]', [FIX_SUM, FINISH]);
    const res = await fetch(`${server.url}/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: `00-${traceId}-${callerSpan}-01` },
      body: JSON.stringify({ repo: makeOriginRepo(BUGGY_SUM), prompt: '[traced] Fix sum.' }),
    });
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as { id: string };
    await eventually(async () => ((await api(server.url, 'GET', `/tasks/${id}`)).body.status === 'completed' ? true : undefined), 120_000, 'the task to complete');

    const ours = () => exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
    // Workflow spans reach the exporter through a sink, after the activation that ended them.
    const spans = await eventually(async () => (ours().some((s) => s.name === 'RunWorkflow:codingTask') ? ours() : undefined), 10_000, 'the workflow span');
    const byId = new Map(spans.map((s) => [s.spanContext().spanId, s]));
    const names = spans.map((s) => s.name);
    const request = spans.find((s) => s.name === 'POST /tasks')!;
    expect(request).toBeDefined();
    expect(request.parentSpanId).toBe(callerSpan);
    expect(request.attributes).toMatchObject({ 'http.route': '/tasks', 'http.response.status_code': 201 });
    for (const name of ['StartWorkflow:codingTask', 'RunWorkflow:codingTask', 'RunActivity:checkRepository', 'RunActivity:provisionSandbox', 'RunActivity:modelTurn', 'RunActivity:runTool', 'RunActivity:runTests', 'RunActivity:openPullRequest']) {
      expect(names).toContain(name);
    }
    // Every span leads up to the request, and from there to the caller.
    const ancestry = (span: ReadableSpan): string[] => {
      const parent = span.parentSpanId ? byId.get(span.parentSpanId) : undefined;
      return parent ? [parent.name, ...ancestry(parent)] : [];
    };
    for (const span of spans.filter((s) => s !== request)) expect({ span: span.name, up: ancestry(span) }).toEqual({ span: span.name, up: expect.arrayContaining(['POST /tasks']) });
    expect(ancestry(spans.find((s) => s.name === 'RunActivity:modelTurn')!)).toEqual(expect.arrayContaining(['RunWorkflow:codingTask', 'StartWorkflow:codingTask', 'POST /tasks']));
    // A request without a caller's trace starts its own.
    const got = exporter.getFinishedSpans().filter((s) => s.name === 'GET /tasks/:id');
    expect(got.length).toBeGreaterThan(0);
    expect(got.every((s) => s.spanContext().traceId !== traceId)).toBe(true);
  });
});

describe('tracing from the environment', () => {
  it('exports the request, the workflow and its activities over OTLP/HTTP from `errand serve` when OTEL_EXPORTER_OTLP_ENDPOINT is set', async () => {
    // A collector that keeps each span it is sent (OTLP/HTTP, JSON: the exporter's default).
    const received: { service: string; traceId: string; name: string }[] = [];
    const collector = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.url === '/v1/traces') {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as OtlpTraces;
          for (const rs of body.resourceSpans ?? []) {
            const service = rs.resource?.attributes?.find((a) => a.key === 'service.name')?.value?.stringValue ?? '';
            for (const span of (rs.scopeSpans ?? []).flatMap((ss) => ss.spans ?? [])) received.push({ service, traceId: hex(span.traceId), name: span.name });
          }
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    const { model, errand } = await startErrandWithModel({
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(collector.address() as AddressInfo).port}`,
      // Sent every 200 ms instead of 5 s, so the test need not wait.
      OTEL_BSP_SCHEDULE_DELAY: '200',
    });
    try {
      const traceId = 'f0e1d2c3b4a5968778695a4b3c2d1e0f';
      model.script('[exported]', [FIX_SUM, FINISH]);
      const res = await fetch(`${errand.url}/tasks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
        body: JSON.stringify({ repo: makeOriginRepo(BUGGY_SUM), prompt: '[exported] Fix sum.' }),
      });
      expect(res.status).toBe(201);
      const { id } = (await res.json()) as { id: string };
      await eventually(async () => ((await api(errand.url, 'GET', `/tasks/${id}`)).body.status === 'completed' ? true : undefined), 120_000, 'the task to complete');
      const ours = await eventually(async () => {
        const spans = received.filter((s) => s.traceId === traceId);
        return spans.some((s) => s.name === 'RunWorkflow:codingTask') && spans.some((s) => s.name === 'RunActivity:openPullRequest') ? spans : undefined;
      }, 20_000, 'the spans to be exported');
      expect(ours).toEqual(expect.arrayContaining([
        { service: 'errand-api', traceId, name: 'POST /tasks' },
        { service: 'errand-api', traceId, name: 'StartWorkflow:codingTask' },
        { service: 'errand-worker', traceId, name: 'RunWorkflow:codingTask' },
        { service: 'errand-worker', traceId, name: 'RunActivity:modelTurn' },
        { service: 'errand-worker', traceId, name: 'RunActivity:openPullRequest' },
      ]));
    } finally {
      await errand.stop();
      await model.stop();
      collector.close();
    }
  });
});

/** The parts of an OTLP/HTTP JSON export this test reads. */
interface OtlpTraces {
  resourceSpans?: {
    resource?: { attributes?: { key: string; value?: { stringValue?: string } }[] };
    scopeSpans?: { spans?: { traceId: string; name: string }[] }[];
  }[];
}

/** A trace id as OTLP JSON carries it (hex, or base64 from older exporters), in hex. */
const hex = (id: string) => (/^[0-9a-f]{32}$/i.test(id) ? id.toLowerCase() : Buffer.from(id, 'base64').toString('hex'));
