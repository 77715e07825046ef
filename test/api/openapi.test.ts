// The API's contract: /openapi.json is a valid OpenAPI 3.1 document of every route, built from
// the schemas the API validates with; every status a caller meets is in it; /docs browses it.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { Validator } from '@seriousme/openapi-schema-validator';
import { METHOD_METADATA } from '@nestjs/common/constants.js';
import { CONTROLLERS } from '../../apps/api/server.js';
import { BUGGY_SUM, makeOriginRepo } from '../fixtures/repos.js';
import { useErrandApi, useTemporal } from '../support/use.js';

const t = useErrandApi({ ERRAND_MODEL_BASE_URL: 'http://127.0.0.1:9', ERRAND_MODEL: 'fixture' });
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

    // Every handler Nest routes (the same controller list the server mounts) is in the document.
    const handlers = CONTROLLERS.flatMap((c) => Object.getOwnPropertyNames(c.prototype).filter((name) => Reflect.getMetadata(METHOD_METADATA, (c.prototype as unknown as Record<string, object>)[name]!) !== undefined).map((name) => `${c.name}.${name}`));
    const operations = Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ path, method, op })));
    expect(operations).toHaveLength(handlers.length);
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
      const method = init?.method ?? 'GET';
      const res = await fetch(`${t.errand.url}${url}`, init);
      const body = await res.text();
      if (res.status === 201) created = (JSON.parse(body) as { id: string }).id;
      const found = operationFor(doc, method, url);
      const response = found?.operation.responses[String(res.status)];
      const type = (res.headers.get('content-type') ?? '').split(';')[0]!;
      const documentedTypes = Object.keys(response?.content ?? {});
      if (!found || !response || (documentedTypes.length && !documentedTypes.includes(type) && !documentedTypes.includes('application/octet-stream'))) {
        undocumented.push(`${method} ${url} -> ${res.status} ${type} (documented: ${found ? `${found.template} ${Object.keys(found.operation.responses).join(',')}` : 'no route'}; ${documentedTypes.join(',')})`);
      }
    }
    if (created) await temporal.client.workflow.getHandle(`task-${created}`).terminate('test cleanup');
    expect(undocumented).toEqual([]);
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
