// schemathesis fuzzes a live Errand API from its own OpenAPI document (/openapi.json): no 5xx,
// no response the document does not describe (status, content type, body, headers), no
// request outside the schema accepted, authentication enforced, no crash. Its settings are in
// test/fuzz/schemathesis.toml; a failure prints schemathesis' report, with a curl command that
// reproduces each finding.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { stringify } from 'yaml';
import { hashToken, newToken } from '../../apps/api/auth/api-tokens.js';
import { PROJECT_ROOT } from '../../apps/cli/temporal-cli.js';
import { useErrandApi } from '../support/use.js';
import { ensureSchemathesis } from '../support/schemathesis-setup.js';

const TOKEN = newToken();
const TOKENS_FILE = path.join(mkdtempSync(path.join(os.tmpdir(), 'errand-fuzz-')), 'tokens.yaml');
writeFileSync(TOKENS_FILE, stringify({ tokens: [{ name: 'fuzzer', sha256: hashToken(TOKEN), scopes: ['admin'] }] }));
/** The run's cap: it takes well under a minute here. */
const CAP_MS = 5 * 60_000;

const t = useErrandApi({ ERRAND_MODEL_BASE_URL: 'http://127.0.0.1:9', ERRAND_MODEL: 'fixture', ERRAND_API_TOKENS_FILE: TOKENS_FILE });

describe('the API under schemathesis', () => {
  it('gives no server error and no answer its OpenAPI document does not describe', async () => {
    const st = await ensureSchemathesis();
    // One worker: with two, Hypothesis' cache of lambda sources raced between threads once
    // ("AST constructor recursion depth mismatch", a runtime error of the tool, not a finding).
    const args = ['--no-color', '--config-file', path.join(PROJECT_ROOT, 'test', 'fuzz', 'schemathesis.toml'), 'run', `${t.errand.url}/openapi.json`, '--workers', '1', '--phases', 'examples,coverage,fuzzing'];
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
  });
});
