// The API's contract: /openapi.json is a valid OpenAPI 3.1 document of every route Nest mounts,
// built from the schemas the API validates with; every status a caller meets is in it, on a
// server with API tokens too, the body parser's 413 and the daily budget's 429 included; /docs
// browses it.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { Validator } from '@seriousme/openapi-schema-validator';
import { RequestMethod } from '@nestjs/common';
import { ROUTE_ARGS_METADATA } from '@nestjs/common/constants.js';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum.js';
import { routeOf } from '../../apps/api/openapi/document.js';
import { CONTROLLERS } from '../../apps/api/server.js';
import { BUGGY_SUM, makeOriginRepo } from '../fixtures/repos.js';
import { startErrand } from '../support/errand-process.js';
import { writeTokensFile } from '../support/tokens-file.js';
import { useErrandApi, useTemporal } from '../support/use.js';

// At debug level Nest logs each route it mounts: the list the document is held to.
const t = useErrandApi({ ERRAND_MODEL_BASE_URL: 'http://127.0.0.1:9', ERRAND_MODEL: 'fixture', ERRAND_LOG_LEVEL: 'debug' });
const temporal = useTemporal();

type Operation = { summary?: string; parameters?: unknown[]; requestBody?: unknown; responses: Record<string, { content?: Record<string, unknown> }> };
type Document = { openapi: string; paths: Record<string, Record<string, Operation>> };

async function documentOf(url: string): Promise<Document> {
  const res = await fetch(`${url}/openapi.json`);
  expect(res.status).toBe(200);
  return (await res.json()) as Document;
}

/** The documented operation a concrete request lands on (/tasks/abc -> /tasks/{id}). */
function operationFor(doc: Document, method: string, url: string): { template: string; operation: Operation } | undefined {
  const { pathname } = new URL(url, 'http://x');
  for (const [template, operations] of Object.entries(doc.paths)) {
    const pattern = new RegExp(`^${template.replace(/\{\w+\}/g, '[^/]+')}$`);
    const operation = operations[method.toLowerCase()];
    if (pattern.test(pathname) && operation) return { template, operation };
  }
  return undefined;
}

/** The routes Nest mounted, from its own log lines ("Mapped {/tasks/:id, GET} route"), as `GET /tasks/{id}`. */
function mountedRoutes(output: string): string[] {
  return [...new Set([...output.matchAll(/Mapped \{(\S+), (\w+)\} route/g)].map(([, route, method]) => `${method} ${route!.replace(/:(\w+)/g, '{$1}')}`))].sort();
}

/** The document's operations, as `GET /tasks/{id}`. */
const operationsOf = (doc: Document) => Object.entries(doc.paths).flatMap(([route, ops]) => Object.keys(ops).map((method) => `${method.toUpperCase()} ${route}`)).sort();

/** A request to a route template, its parameters filled in (a task id's shape for `{id}`). */
const concrete = (template: string) => template.replace('{id}', '0000deadbeef').replace(/\{\w+\}/g, 'test');

/** Sends a request; `undocumented` says how its answer strays from what the document declares for it. */
async function send(base: string, doc: Document, url: string, init?: RequestInit): Promise<{ status: number; body: string; undocumented?: string }> {
  const method = init?.method ?? 'GET';
  const res = await fetch(`${base}${url}`, init);
  const body = await res.text();
  const found = operationFor(doc, method, url);
  const response = found?.operation.responses[String(res.status)];
  const type = (res.headers.get('content-type') ?? '').split(';')[0]!;
  const documentedTypes = Object.keys(response?.content ?? {});
  if (found && response && (!documentedTypes.length || documentedTypes.includes(type) || documentedTypes.includes('application/octet-stream'))) return { status: res.status, body };
  return { status: res.status, body, undocumented: `${method} ${url} -> ${res.status} ${type} (documented: ${found ? `${found.template} ${Object.keys(found.operation.responses).join(',')}` : 'no route'}; ${documentedTypes.join(',')})` };
}

describe('the OpenAPI document', () => {
  it('is valid OpenAPI 3.1 and names every route Nest serves, with a summary, its success and its problems', async () => {
    const doc = await documentOf(t.errand.url);
    const validator = new Validator();
    const result = await validator.validate(doc as never);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(doc.openapi).toBe('3.1.0');
    // This server has no API tokens: no route says it wants one.
    expect(JSON.stringify(doc)).not.toContain('"security"');

    // Every route Nest mounted is in the document, and nothing else: a difference is named.
    const mounted = mountedRoutes(t.errand.output());
    expect(mounted.length).toBeGreaterThan(20);
    expect(operationsOf(doc)).toEqual(mounted);
    const operations = Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ path, method, op })));
    for (const { path, method, op } of operations) {
      const where = `${method.toUpperCase()} ${path}`;
      expect({ where, summary: op.summary }).toEqual({ where, summary: expect.any(String) });
      expect({ where, ok: Object.keys(op.responses).some((s) => /^2\d\d$/.test(s)) }).toEqual({ where, ok: true });
      for (const status of ['500', '503']) expect({ where, problem: Object.keys(op.responses[status]?.content ?? {}) }).toEqual({ where, problem: ['application/problem+json'] });
      if (op.parameters?.length || op.requestBody) expect({ where, invalid: Boolean(op.responses['400']) }).toEqual({ where, invalid: true });
    }
    // The request schemas are the ones the API validates with: a strict body refuses unknown fields.
    const create = doc.paths['/tasks']!.post!.requestBody as { content: { 'application/json': { schema: { properties: Record<string, unknown>; additionalProperties?: unknown } } } };
    expect(Object.keys(create.content['application/json'].schema.properties)).toEqual(expect.arrayContaining(['repo', 'prompt', 'baseBranch', 'maxSteps', 'playbook', 'params']));
    expect(create.content['application/json'].schema.additionalProperties).toBe(false);
  });

  it('documents every status and content type a caller meets', async () => {
    const doc = await documentOf(t.errand.url);
    const origin = makeOriginRepo(BUGGY_SUM);
    const key = `openapi-${Date.now()}`;
    const json = (body: unknown, headers: Record<string, string> = {}) => ({ method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    const requests: [string, RequestInit?][] = [
      ['/tasks', json({ repo: origin, prompt: 'Fix sum.' }, { 'idempotency-key': key })],
      ['/tasks', json({ repo: origin, prompt: 'Something else.' }, { 'idempotency-key': key })],
      ['/tasks', json({ repo: origin })],
      ['/tasks', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ repo: origin, prompt: 'x'.repeat(2_000_000) }) }],
      ['/tasks'],
      ['/tasks?status=sleeping'],
      ['/tasks/0000deadbeef'],
      ['/tasks/NOT_AN_ID'],
      ['/tasks/0000deadbeef/transcript'],
      ['/tasks/0000deadbeef/logs/test'],
      ['/tasks/0000deadbeef/logs/other'],
      ['/tasks/0000deadbeef/cancel', json({})],
      ['/tasks/0000deadbeef/messages', json({ text: '' })],
      ['/schedules'],
      ['/schedules/none-such'],
      ['/playbooks'],
      ['/playbooks?repo=' + encodeURIComponent(origin)],
      ['/health/live'],
      ['/health/ready'],
      ['/openapi.json'],
      ['/docs'],
      ['/docs/swagger-ui.css'],
      ['/docs/secrets.txt'],
      ['/problems/invalid-input'],
      ['/problems/none-such'],
      ['/webhooks/github', json({ zen: 'hi' })],
    ];
    const undocumented: string[] = [];
    let created: string | undefined;
    for (const [url, init] of requests) {
      const answer = await send(t.errand.url, doc, url, init);
      if (answer.status === 201) created = (JSON.parse(answer.body) as { id: string }).id;
      if (answer.undocumented) undocumented.push(answer.undocumented);
    }
    if (created) await temporal.client.workflow.getHandle(`task-${created}`).terminate('test cleanup');
    expect(undocumented).toEqual([]);
  });

  it('declares 413 on every route that takes a body: the JSON parser refuses one over 1 MB before any handler', async () => {
    const doc = await documentOf(t.errand.url);
    // The handlers that read a body, by Nest's metadata of their arguments (whatever validates it).
    // The webhook's body is read by server.ts's raw parser with the same 1 MB limit; the route declares that 413 itself.
    const bodyRoutes = CONTROLLERS.flatMap((controller) =>
      Object.getOwnPropertyNames(controller.prototype).flatMap((name) => {
        const args = Object.keys(Reflect.getMetadata(ROUTE_ARGS_METADATA, controller, name) ?? {});
        const route = routeOf(controller, name);
        return route && args.some((key) => Number(key.split(':')[0]) === RouteParamtypes.BODY) ? [route] : [];
      }),
    );
    expect(bodyRoutes.length).toBeGreaterThan(8);
    const tooLarge = JSON.stringify({ text: 'x'.repeat(1_100_000) });
    const answers: { route: string; status: number; undocumented?: string }[] = [];
    for (const { method, path: template } of bodyRoutes) {
      const { status, undocumented } = await send(t.errand.url, doc, concrete(template), { method: RequestMethod[method], headers: { 'content-type': 'application/json' }, body: tooLarge });
      answers.push({ route: `${RequestMethod[method]} ${template}`, status, undocumented });
    }
    expect(answers).toEqual(answers.map(({ route }) => ({ route, status: 413, undocumented: undefined })));
  });

  it('declares 429 on every route that starts a task, since its requester may be over the daily budget', async () => {
    // Each goes through TaskStarting.start, which refuses a requester over ERRAND_DAILY_BUDGET_USD
    // (test/workflow/admission.test.ts and github.test.ts meet those 429s on a live server).
    // POST /schedules/{id}/trigger starts none itself: the schedule's run starts its task inside
    // Temporal, and the budget does not refuse scheduled runs. Slack's events start tasks too, but
    // Slack hears 200 whatever happens: a requester over budget is told so in the thread.
    const startsTasks = ['POST /tasks', 'POST /webhooks/github'];
    const doc = await documentOf(t.errand.url);
    // With the Retry-After header it always carries (when the budget resets).
    const declared = (route: string) => {
      const [method, template] = route.split(' ') as [string, string];
      const tooMany = doc.paths[template]?.[method.toLowerCase()]?.responses['429'] as { headers?: Record<string, unknown> } | undefined;
      return Boolean(tooMany?.headers?.['Retry-After']);
    };
    expect(startsTasks.map((route) => ({ route, declared: declared(route) }))).toEqual(startsTasks.map((route) => ({ route, declared: true })));
  });

  it('declares what a server with API tokens answers a caller without a token, or without the scope', async () => {
    // Two tokens that each lack the scope the other's routes need: with them and with no token at
    // all, every guarded route answers 401, and each that needs a scope 403.
    const { file, tokens } = writeTokensFile({ reader: { name: 'reader', scopes: ['tasks:read'] }, scheduler: { name: 'scheduler', scopes: ['schedules:write'] } });
    const guarded = await startErrand({ command: 'api', env: { ERRAND_MODEL_BASE_URL: 'http://127.0.0.1:9', ERRAND_MODEL: 'fixture', ERRAND_API_TOKENS_FILE: file } });
    try {
      const doc = await documentOf(guarded.url);
      const met = new Set<number>();
      const undocumented: string[] = [];
      for (const route of mountedRoutes(t.errand.output())) {
        const [method, template] = route.split(' ') as [string, string];
        for (const token of [undefined, tokens.reader, tokens.scheduler]) {
          const headers = { ...(token && { authorization: `Bearer ${token}` }), ...(method !== 'GET' && { 'content-type': 'application/json' }) };
          const answer = await send(guarded.url, doc, concrete(template), { method, headers, body: method === 'GET' ? undefined : '{}' });
          met.add(answer.status);
          if (answer.undocumented) undocumented.push(answer.undocumented);
        }
      }
      expect(undocumented).toEqual([]);
      expect([...met]).toEqual(expect.arrayContaining([401, 403]));
    } finally {
      await guarded.stop();
    }
  });

  it('is browsable at /docs with Swagger UI served from this server', async () => {
    const page = await fetch(`${t.errand.url}/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).toContain("url: '/openapi.json'");
    const assets = html.match(/\/docs\/[\w.-]+\.(js|css|png)/g) ?? [];
    expect(assets).toHaveLength(4);
    // The files themselves, byte for byte as swagger-ui-dist ships them.
    const dist = path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
    for (const asset of assets) {
      const res = await fetch(`${t.errand.url}${asset}`);
      const body = Buffer.from(await res.arrayBuffer());
      expect({ asset, status: res.status, type: res.headers.get('content-type')?.split(';')[0], same: body.equals(readFileSync(path.join(dist, path.basename(asset)))) }).toEqual({
        asset,
        status: 200,
        type: { js: 'text/javascript', css: 'text/css', png: 'image/png' }[asset.split('.').pop()!],
        same: true,
      });
    }
  });
});
