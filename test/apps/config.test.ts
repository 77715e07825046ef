import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../apps/config.js';

describe('loadConfig', () => {
  it('has working defaults with no environment', () => {
    const c = loadConfig({});
    expect(c.api.port).toBe(3000);
    expect(c.temporal).toMatchObject({ address: '127.0.0.1:7233', namespace: 'default', taskQueue: 'errand' });
    expect(c.model).toBeUndefined();
    expect(c.systemSchedules).toEqual({ 'sandbox-reaper': 10, 'environment-refresh': 30 });
  });

  it("turns the environment refresh off with the cache, and reads which repositories it refreshes", () => {
    expect(loadConfig({ ERRAND_ENVIRONMENT_CACHE: 'off', ERRAND_ENVIRONMENT_REFRESH_MINUTES: '15' }).systemSchedules['environment-refresh']).toBe(0);
    expect(loadConfig({ ERRAND_ENVIRONMENT_REFRESH_REPOS: '3', ERRAND_ENVIRONMENT_REFRESH_WITHIN_HOURS: '2' }).environmentRefresh).toEqual({ maxRepos: 3, usedWithinMs: 7_200_000 });
    expect(() => loadConfig({ ERRAND_ENVIRONMENT_REFRESH_MINUTES: '-1' })).toThrow(/ERRAND_ENVIRONMENT_REFRESH_MINUTES/);
  });

  it('names the variable when a value is bad', () => {
    expect(() => loadConfig({ ERRAND_API_PORT: 'eighty' })).toThrow(/ERRAND_API_PORT/);
    expect(() => loadConfig({ ERRAND_MODEL_BASE_URL: 'not a url', ERRAND_MODEL: 'm' })).toThrow(/ERRAND_MODEL_BASE_URL/);
    expect(() => loadConfig({ ERRAND_STORE: 's3' })).toThrow(/ERRAND_S3_BUCKET: required with ERRAND_STORE=s3/);
    expect(() => loadConfig({ ERRAND_STORE: 'gcs' })).toThrow(/ERRAND_STORE/);
  });

  it('asks for both model variables when only one is set', () => {
    expect(() => loadConfig({ ERRAND_MODEL: 'gpt' })).toThrow(/set both ERRAND_MODEL_BASE_URL and ERRAND_MODEL/);
  });

  it('reads budgets, the price of the configured model and the sandbox policy', () => {
    const c = loadConfig({
      ERRAND_MODEL_BASE_URL: 'http://m/v1',
      ERRAND_MODEL: 'gpt-4.1',
      ERRAND_MODEL_API_KEY: 'sk-configured-key',
      ERRAND_MODEL_PRICES: '{"gpt-4.1": {"input": 2, "output": 8}, "other": {"input": 1, "output": 1}}',
      ERRAND_MAX_TOKENS: '500000',
      ERRAND_MAX_COST_USD: '2.5',
      ERRAND_SANDBOX_NETWORK: 'off',
      ERRAND_SANDBOX_ENV: 'HTTPS_PROXY, NPM_CONFIG_REGISTRY',
      ERRAND_REDACT: 'one-secret,another-secret',
    });
    expect(c.model).toMatchObject({ contextTokens: 128_000, price: { input: 2, output: 8 } });
    expect(c.defaults).toEqual({ budget: { maxSteps: 50, maxTokens: 500_000, maxCostUsd: 2.5, maxWallClockMinutes: undefined }, network: 'off', checkpointEverySteps: 5, maxReviewRounds: 2, awaitFeedbackMinutes: 0 });
    expect(c.reviewer).toMatchObject({ baseUrl: 'http://m/v1', model: 'gpt-4.1', apiKey: 'sk-configured-key', price: { input: 2, output: 8 } });
    expect(c.sandbox).toMatchObject({ provider: 'local', confinement: 'auto', envAllowlist: ['HTTPS_PROXY', 'NPM_CONFIG_REGISTRY'], hide: [] });
    expect(c.secrets).toEqual(['sk-configured-key', 'one-secret', 'another-secret']);
  });

  it('explains a bad price table or policy', () => {
    expect(() => loadConfig({ ERRAND_MODEL_PRICES: '{gpt: 1}' })).toThrow(/ERRAND_MODEL_PRICES: must be JSON/);
    expect(() => loadConfig({ ERRAND_MODEL_PRICES: '{"gpt": {"input": "cheap"}}' })).toThrow(/ERRAND_MODEL_PRICES/);
    expect(() => loadConfig({ ERRAND_SANDBOX_NETWORK: 'sometimes' })).toThrow(/ERRAND_SANDBOX_NETWORK/);
    expect(() => loadConfig({ ERRAND_MAX_COST_USD: '-1' })).toThrow(/ERRAND_MAX_COST_USD/);
  });

  it('reads the Kubernetes sandbox settings, egress lists included', () => {
    const c = loadConfig({
      ERRAND_SANDBOX_PROVIDER: 'kubernetes',
      ERRAND_K8S_EGRESS_ALLOWLIST: '10.0.0.0/8',
      ERRAND_K8S_WORKER_LABELS: 'app=errand,tier=worker',
    });
    expect(c.sandbox.provider).toBe('kubernetes');
    expect(c.sandbox.kubernetes.egress).toEqual({ allowlist: [{ cidr: '10.0.0.0/8' }] });
    expect(c.sandbox.kubernetes.worker.labels).toEqual({ app: 'errand', tier: 'worker' });
    expect(() => loadConfig({ ERRAND_K8S_EGRESS_ALLOWLIST: 'github.com:443' })).toThrow(/ERRAND_K8S_EGRESS_ALLOWLIST: "github.com:443" is not cidr\[:port\]/);
    expect(() => loadConfig({ ERRAND_SANDBOX_PROVIDER: 'docker' })).toThrow(/ERRAND_SANDBOX_PROVIDER/);
  });

  it("reads the local sandbox's user and egress rules, and names the variable of a bad one", () => {
    const c = loadConfig({ ERRAND_SANDBOX_USER: '2000:3000', ERRAND_SANDBOX_EGRESS_ALLOW: 'npm.internal:443, 10.1.0.0/16, [fd00::1]:4873', ERRAND_SANDBOX_EGRESS_DENY: '203.0.113.0/24:22' });
    expect(c.sandbox.user).toEqual({ uid: 2000, gid: 3000 });
    expect(c.sandbox.egress).toEqual({
      allow: [{ host: 'npm.internal', port: 443 }, { host: '10.1.0.0', prefix: 16 }, { host: 'fd00::1', port: 4873 }],
      deny: [{ host: '203.0.113.0', prefix: 24, port: 22 }],
    });
    expect(loadConfig({}).sandbox.user).toEqual({ uid: 65534, gid: 65534 });
    expect(() => loadConfig({ ERRAND_SANDBOX_USER: '0' })).toThrow(/ERRAND_SANDBOX_USER: "0" is not uid\[:gid\] of an unprivileged user/);
    expect(() => loadConfig({ ERRAND_SANDBOX_EGRESS_ALLOW: 'http://npm.internal/' })).toThrow(/ERRAND_SANDBOX_EGRESS_ALLOW: "http:\/\/npm.internal\/" is not host\[:port\] or cidr\[:port\]/);
  });
});

describe('MCP servers and secrets', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'errand-config-'));
  const file = (name: string, content: unknown) => {
    writeFileSync(path.join(dir, name), typeof content === 'string' ? content : JSON.stringify(content));
    return path.join(dir, name);
  };

  it('reads both files, and adds every secret to what is redacted', () => {
    const c = loadConfig({
      ERRAND_MCP_CONFIG: file('mcp.json', { mcpServers: { docs: { type: 'http', url: 'https://docs.example/mcp', headers: { Authorization: 'Bearer ${DOCS}' }, tools: ['search'] } } }),
      ERRAND_SECRETS_FILE: file('secrets.json', { secrets: { DOCS: { env: 'DOCS_TOKEN_FROM_ENV', scopes: ['mcp:docs'] }, NPM: { file: 'npm-token', scopes: ['setup'], repos: ['acme/*'] } } }),
      DOCS_TOKEN_FROM_ENV: 'docs-token-value',
      ...(file('npm-token', 'npm-token-value\n') && {}),
    });
    expect(c.mcp!.mcpServers.docs).toMatchObject({ type: 'http', tools: ['search'] });
    expect(c.scopedSecrets).toEqual([
      { name: 'DOCS', value: 'docs-token-value', scopes: ['mcp:docs'] },
      { name: 'NPM', value: 'npm-token-value', scopes: ['setup'], repos: ['acme/*'] },
    ]);
    expect(c.secrets).toEqual(expect.arrayContaining(['docs-token-value', 'npm-token-value']));
  });

  it('names the variable, the file and what to fix', () => {
    expect(() => loadConfig({ ERRAND_MCP_CONFIG: file('no-tools.json', { mcpServers: { docs: { type: 'http', url: 'https://d/mcp' } } }) })).toThrow(/ERRAND_MCP_CONFIG: .*no-tools\.json:[\s\S]*tools/);
    expect(() => loadConfig({ ERRAND_MCP_CONFIG: file('bad.json', '{ not json') })).toThrow(/ERRAND_MCP_CONFIG: .*bad\.json: .*JSON/);
    expect(() => loadConfig({ ERRAND_MCP_CONFIG: path.join(dir, 'missing.json') })).toThrow(/ERRAND_MCP_CONFIG: .*missing\.json: ENOENT/);
    expect(() => loadConfig({ ERRAND_SECRETS_FILE: file('s1.json', { secrets: { T: { value: 'x', env: 'Y', scopes: ['setup'] } } }) })).toThrow(/ERRAND_SECRETS_FILE: [\s\S]*exactly one of value, file or env/);
    expect(() => loadConfig({ ERRAND_SECRETS_FILE: file('s2.json', { secrets: { T: { value: 'x', scopes: ['agent'] } } }) })).toThrow(/a scope is `setup` or `mcp:<server>`/);
    expect(() => loadConfig({ ERRAND_SECRETS_FILE: file('s3.json', { secrets: { T: { env: 'UNSET_VARIABLE_X', scopes: ['setup'] } } }) })).toThrow(/secret T: the worker's environment has no UNSET_VARIABLE_X/);
  });
});

describe('errand setup', () => {
  it('says what is wrong with the configuration before it builds or installs anything', async () => {
    const { execFile } = await import('node:child_process');
    const { PROJECT_ROOT } = await import('../support/errand-process.js');
    // The Temporal CLI "missing" (a path that is not there): had setup begun, it would say so or build one.
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, TMPDIR: process.env.TMPDIR, TEMPORAL_CLI: '/nonexistent/temporal', ERRAND_API_PORT: 'eighty' };
    const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve) => {
      const child = execFile(process.execPath, ['--import', 'tsx', 'apps/cli/main.ts', 'setup'], { cwd: PROJECT_ROOT, env }, (_err, stdout, stderr) => resolve({ code: child.exitCode, output: stdout + stderr }));
    });
    expect(code).toBe(1);
    expect(output).toContain('ERRAND_API_PORT');
    expect(output).not.toMatch(/Temporal CLI|building|bubblewrap|nonexistent/);
  });
});
