// schemathesis fuzzes a live Errand API from its own OpenAPI document (/openapi.json): no 5xx,
// no response the document does not describe (status, content type, body, headers), no
// request outside the schema accepted, authentication enforced, no crash. Its settings are in
// test/fuzz/schemathesis.toml; a failure prints schemathesis' report, with a curl command that
// reproduces each finding.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { PROJECT_ROOT } from '../../apps/cli/temporal-cli.js';
import { BUGGY_SUM, makeOriginRepo } from '../fixtures/repos.js';
import { writeTokensFile } from '../support/tokens-file.js';
import { useErrandApi } from '../support/use.js';
import { ensureSchemathesis } from '../support/schemathesis-setup.js';

const { file: TOKENS_FILE, tokens: { fuzzer: TOKEN } } = writeTokensFile({ fuzzer: { name: 'fuzzer', scopes: ['admin'] } });
/**
 * The run's cap. It takes two to four minutes here: with no worker in this lane, a task's
 * messages and state wait out the API's deadlines (5 s) before it answers without them.
 */
const CAP_MS = 8 * 60_000;

const t = useErrandApi({ ERRAND_MODEL_BASE_URL: 'http://127.0.0.1:9', ERRAND_MODEL: 'fixture', ERRAND_API_TOKENS_FILE: TOKENS_FILE });

describe('the API under schemathesis', () => {
  it('gives no server error and no answer its OpenAPI document does not describe', async () => {
    const st = await ensureSchemathesis();
    // What exists, for a share of the requests to name (schemathesis.toml's dictionaries).
    const repo = makeOriginRepo(BUGGY_SUM);
    const seed = async (route: string, body: unknown) => {
      const res = await fetch(`${t.errand.url}${route}`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      expect({ route, status: res.status }).toEqual({ route, status: 201 });
      return ((await res.json()) as { id: string }).id;
    };
    const task = await seed('/tasks', { repo, prompt: 'seeded for the fuzzer' });
    const schedule = await seed('/schedules', { id: 'fuzz-seeded', repo, playbook: 'dependency-bump', cron: '0 6 * * MON' });
    const dicts = path.join(PROJECT_ROOT, '.tools', 'fuzz');
    mkdirSync(dicts, { recursive: true });
    for (const [name, value] of [['task', task], ['schedule', schedule], ['repo', repo]]) writeFileSync(path.join(dicts, `${name}.dict`), `${JSON.stringify(value)}\n`);
    const har = path.join(path.dirname(TOKENS_FILE), 'run.har');
    // One worker: with two, Hypothesis' cache of lambda sources raced between threads once
    // ("AST constructor recursion depth mismatch", a runtime error of the tool, not a finding).
    const args = ['--no-color', '--config-file', path.join(PROJECT_ROOT, 'test', 'fuzz', 'schemathesis.toml'), 'run', `${t.errand.url}/openapi.json`, '--workers', '1', '--phases', 'examples,coverage,fuzzing', '--report', 'har', '--report-har-path', har];
    const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve) => {
      const child = spawn(st, args, { env: { ...process.env, ERRAND_FUZZ_TOKEN: TOKEN, SCHEMATHESIS_HOOKS: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (b: Buffer) => (output += b.toString()));
      child.stderr.on('data', (b: Buffer) => (output += b.toString()));
      const cap = setTimeout(() => {
        output += `\n[killed: the run outlasted its ${CAP_MS / 1000} s cap]\n`;
        child.kill('SIGKILL');
      }, CAP_MS);
      child.on('close', (code) => {
        clearTimeout(cap);
        resolve({ code, output });
      });
    });
    const generated = Number(/(\d+) generated/.exec(output)?.[1] ?? 0);
    if (code !== 0) console.error(output);
    expect({ code, findings: output.match(/^\s*❌ .*$/gm) ?? [] }).toEqual({ code: 0, findings: [] });
    // It really ran: hundreds of requests, every operation of the document.
    expect(generated).toBeGreaterThan(200);
    expect(output).toMatch(/Tested: (\d+)\b/);
    expect(/Selected: (\d+)\/(\d+)/.exec(output)?.[1]).toBe(/Tested: (\d+)/.exec(output)?.[1]);
    // And deep: what exists was read and changed, not only ids that answer 404.
    const entries = (JSON.parse(readFileSync(har, 'utf8')) as { log: { entries: { request: { method: string; url: string }; response: { status: number } }[] } }).log.entries;
    const answered = (method: string, pathname: RegExp) =>
      new Set(entries.filter((e) => e.request.method === method && pathname.test(new URL(e.request.url).pathname)).map((e) => e.response.status));
    expect(answered('GET', new RegExp(`^/tasks/${task}$`))).toContain(200);
    expect(answered('GET', /^\/schedules\/fuzz-seeded$/)).toContain(200);
    expect(answered('GET', /^\/playbooks$/)).toContain(200);
    expect([...answered('POST', new RegExp(`^/tasks/${task}/(pause|resume|cancel)$`))].some((s) => s === 202 || s === 409)).toBe(true);
  });
});
