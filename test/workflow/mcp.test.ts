// MCP servers as the agent's tools, with the reference servers published with the protocol
// (the "everything" test server and the memory server) over stdio and streamable HTTP, on the
// real Temporal server with Errand as a real process: the model is offered what the operator
// allows and the repository narrows, calls them through the workflow (read-only ones like the
// read tools, others at most once), a server that fails or crashes is a tool error and an event,
// a secret scoped to a server reaches it and nothing else, and the agent cannot reach it.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { probeBubblewrap } from '../../apps/worker/confinement.js';
import { call, FINISH, FIX_SUM, lastToolResult, type ChatRequest } from '../fixtures/model-server.js';
import { BUGGY_SUM, makeOriginRepo } from '../fixtures/repos.js';
import { api, eventually, findProcesses, PROJECT_ROOT } from '../support/errand-process.js';
import { freePort } from '../support/free-port.js';
import { readEvents } from '../support/sse.js';
import { createTask, waitForStatus } from '../support/tasks.js';
import { useErrand, useTemporal } from '../support/use.js';

const SERVER_SECRET = 'mcp-server-secret-6f1c2a9e';
const HEADER_SECRET = 'mcp-header-secret-0b7d41c3';
const SETUP_SECRET = 'setup-secret-5e2f90aa17';
const EVERYTHING = path.join(PROJECT_ROOT, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js');
const MEMORY = path.join(PROJECT_ROOT, 'node_modules/@modelcontextprotocol/server-memory/dist/index.js');
const bubblewrap = await probeBubblewrap();

let httpServer: ChildProcess;
let httpPort: number;
/** The same server speaking only the older HTTP+SSE transport (protocol 2024-11-05). */
let sseServer: ChildProcess;
let ssePort: number;
const dir = mkdtempSync(path.join(os.tmpdir(), 'errand-mcp-'));

beforeAll(async () => {
  httpPort = await freePort();
  httpServer = spawn(process.execPath, [EVERYTHING, 'streamableHttp'], { env: { PATH: process.env.PATH, PORT: String(httpPort) }, stdio: ['ignore', 'ignore', 'pipe'] });
  ssePort = await freePort();
  sseServer = spawn(process.execPath, [EVERYTHING, 'sse'], { env: { PATH: process.env.PATH, PORT: String(ssePort) }, stdio: ['ignore', 'ignore', 'pipe'] });
  await eventually(async () => (await fetch(`http://127.0.0.1:${httpPort}/mcp`, { method: 'POST' }).catch(() => undefined))?.status, 20_000, 'the streamable HTTP server');
  await eventually(async () => {
    const stream = new AbortController();
    const status = (await fetch(`http://127.0.0.1:${ssePort}/sse`, { signal: stream.signal }).catch(() => undefined))?.status;
    stream.abort();
    return status;
  }, 20_000, 'the SSE server');
});

afterAll(() => {
  httpServer?.kill();
  sseServer?.kill();
});

const t = useErrand(() => {
  writeFileSync(
    path.join(dir, 'secrets.json'),
    JSON.stringify({
      secrets: {
        SERVER_TOKEN: { value: SERVER_SECRET, scopes: ['mcp:everything'] },
        HEADER_TOKEN: { value: HEADER_SECRET, scopes: ['mcp:remote'] },
        SETUP_TOKEN: { file: 'setup-token', scopes: ['setup'] },
        ACME_ONLY: { value: 'acme-only-secret-value', scopes: ['setup', 'mcp:everything'], repos: ['acme/*'] },
      },
    }),
  );
  writeFileSync(path.join(dir, 'setup-token'), `${SETUP_SECRET}\n`); // as Kubernetes mounts a Secret
  writeFileSync(
    path.join(dir, 'mcp.json'),
    JSON.stringify({
      mcpServers: {
        everything: {
          type: 'stdio',
          command: process.execPath,
          args: [EVERYTHING, 'stdio'],
          env: { SERVER_TOKEN: '${SERVER_TOKEN}' },
          tools: ['echo', 'get-env', 'get-sum', 'trigger-long-running-operation'],
        },
        memory: { command: process.execPath, args: [MEMORY], env: { MEMORY_FILE_PATH: '${HOME}/memory.jsonl' }, tools: ['create_entities', 'read_graph'] },
        remote: { type: 'http', url: `http://127.0.0.1:${httpPort}/mcp`, headers: { Authorization: 'Bearer ${HEADER_TOKEN}' }, tools: ['echo'] },
        // Configured as `http`: streamable HTTP is refused, and the client falls back to SSE.
        legacy: { type: 'http', url: `http://127.0.0.1:${ssePort}/sse`, tools: ['echo'] },
        broken: { command: process.execPath, args: ['-e', 'console.error("no credentials for broken"); process.exit(3)'], tools: ['anything'] },
      },
    }),
  );
  return {
    ERRAND_MCP_CONFIG: path.join(dir, 'mcp.json'),
    ERRAND_SECRETS_FILE: path.join(dir, 'secrets.json'),
    ERRAND_SANDBOX_CONFINEMENT: 'bwrap' in bubblewrap ? 'bubblewrap' : 'none',
  };
});
const temporalServer = useTemporal();

/** Files under `dir` that hold `text` (transcripts, events, logs, the audit trail, the servers' own). */
function filesHolding(dir: string, text: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name))
    .filter((f) => readFileSync(f).includes(text));
}

/** Every payload's text under `value` (inputs, results, markers), for looking through a history. */
function payloadsIn(value: object): string[] {
  if ('data' in value && value.data instanceof Uint8Array) return [Buffer.from(value.data).toString('utf8')];
  return Object.values(value).flatMap((v) => (v && typeof v === 'object' ? payloadsIn(v) : []));
}
const resultOf = (requests: ChatRequest[], n: number) => lastToolResult(requests[n + 1]!);
const toolNames = (req: ChatRequest) => (req.tools as { function: { name: string } }[]).map((d) => d.function.name);

describe('MCP servers', () => {
  it('offers the allowed tools, narrowed by the repository, and calls them through the workflow', async () => {
    const origin = makeOriginRepo({
      ...BUGGY_SUM,
      // Narrows everything to three tools, asks for one the operator does not allow it and for a server nobody configured.
      '.errand/mcp.json': JSON.stringify({
        mcpServers: { everything: { tools: ['echo', 'get-env', 'trigger-long-running-operation', 'get-tiny-image'] }, memory: {}, remote: {}, legacy: {}, broken: {}, shell: { command: 'bash' } },
      }),
    });
    const script = t.model.script('[mcp-tools]', [
      call('everything__echo', { message: 'hello over stdio' }),
      call('everything__get-env', {}),
      call('memory__create_entities', { entities: [{ name: 'errand', entityType: 'service', observations: ['opens pull requests'] }] }),
      call('memory__read_graph', {}),
      call('remote__echo', { message: 'hello over http' }),
      call('everything__get-sum', { a: 1, b: 2 }),
      call('legacy__echo', { message: 'hello over sse' }),
      FIX_SUM,
      FINISH,
    ]);
    const id = await createTask(t.errand, { repo: origin, prompt: '[mcp-tools] Fix sum.' });
    await waitForStatus(t.errand, id, 'completed');
    const r = script.requests;

    const offered = toolNames(r[0]!);
    expect(offered).toEqual(expect.arrayContaining(['shell', 'everything__echo', 'everything__get-env', 'everything__trigger-long-running-operation', 'memory__create_entities', 'memory__read_graph', 'remote__echo']));
    expect(offered).not.toContain('everything__get-sum'); // the repository narrowed it away
    expect(offered).not.toContain('everything__get-tiny-image'); // never allowed by the operator
    expect(offered.filter((n) => n.startsWith('broken__') || n.startsWith('shell__'))).toEqual([]);

    expect(resultOf(r, 0)).toBe('Echo: hello over stdio');
    // The server got its secret; the model sees it redacted, and nothing of the worker's environment.
    expect(resultOf(r, 1)).toContain('"SERVER_TOKEN": "[REDACTED]"');
    expect(resultOf(r, 1)).not.toContain(SERVER_SECRET);
    expect(resultOf(r, 1)).not.toMatch(/ERRAND_|TEMPORAL/);
    expect(resultOf(r, 2)).toContain('"name": "errand"');
    expect(resultOf(r, 3)).toContain('opens pull requests');
    expect(resultOf(r, 4)).toBe('Echo: hello over http');
    expect(resultOf(r, 5)).toContain('unknown tool "everything__get-sum"');
    expect(resultOf(r, 6)).toBe('Echo: hello over sse');

    const events = (await readEvents(`${t.errand.url}/tasks/${id}/events`)).messages.map((m) => m.data);
    const tools = events.find((e) => e.type === 'mcp_tools');
    expect(tools.tools).toContainEqual({ name: 'everything__echo', readOnly: true, description: expect.stringMatching(/^\[MCP server everything\] Echoes back the input/) });
    expect(tools.tools).toContainEqual(expect.objectContaining({ name: 'memory__create_entities', readOnly: false }));
    expect(events).toContainEqual(expect.objectContaining({ type: 'mcp_server_failed', server: 'broken', why: expect.stringContaining('no credentials for broken') }));
    expect(events.filter((e) => e.type === 'mcp_server_refused').map((e) => e.why)).toEqual(
      expect.arrayContaining([
        expect.stringContaining('names the server "shell", which the operator does not allow'),
        expect.stringContaining('asks "everything" for get-tiny-image, beyond what the operator allows'),
      ]),
    );
    expect(events.filter((e) => e.type === 'tool_called').map((e) => e.tool)).toContain('memory__create_entities');

    // Read-only calls ran like the read tools (local activities); the one that writes as an activity tried once.
    const history = await temporalServer.client.workflow.getHandle(`task-${id}`).fetchHistory();
    const scheduled = history.events!.flatMap((e) => (e.activityTaskScheduledEventAttributes?.activityType?.name === 'runTool' ? [e.activityTaskScheduledEventAttributes] : []));
    const callsOf = (a: (typeof scheduled)[number]) => (a.input?.payloads ?? []).map((p) => Buffer.from(p.data ?? []).toString('utf8')).join('\n');
    expect(scheduled.filter((a) => callsOf(a).includes('memory__create_entities'))).toHaveLength(1);
    expect(scheduled.find((a) => callsOf(a).includes('memory__create_entities'))!.retryPolicy!.maximumAttempts).toBe(1);
    expect(scheduled.filter((a) => /everything__echo|everything__get-env|memory__read_graph/.test(callsOf(a)))).toEqual([]);
    expect(scheduled.length).toBeGreaterThan(0);
    const stored = history.events!.flatMap((e) => Object.values(e).flatMap((attrs) => (attrs && typeof attrs === 'object' ? payloadsIn(attrs) : []))).join('\n');
    expect(stored).toContain('memory__create_entities');
    expect(stored).not.toContain(SERVER_SECRET);
    expect(filesHolding(t.errand.stateDir, SERVER_SECRET)).toEqual([]);

    // Audited: which server, which tool, which task.
    const audit = await api(t.errand.url, 'GET', `/audit?task=${id}`);
    expect(audit.body.entries ?? audit.body).toEqual(expect.arrayContaining([expect.objectContaining({ actor: 'agent', via: 'agent', action: 'mcp.call memory__create_entities', from: 'mcp:memory/create_entities', taskId: id })]));
  });

  /** SIGKILLs `pid`; false when it was gone already. */
  const killedNow = (pid: number) => {
    try {
      process.kill(pid, 'SIGKILL');
      return true;
    } catch {
      return false;
    }
  };

  it('turns a server that crashes mid-call into a tool error, and starts it again for the next call', async () => {
    const origin = makeOriginRepo(BUGGY_SUM);
    const killed: number[] = [];
    const script = t.model.script('[mcp-crash]', [
      call('everything__echo', { message: 'before' }),
      () => {
        // While the long call runs, its server dies.
        // The server runs as bubblewrap and its child: killing one may take the other first (ESRCH).
        setTimeout(() => killed.push(...findProcesses(EVERYTHING).filter((pid) => pid !== httpServer.pid && killedNow(pid))), 2_000);
        return call('everything__trigger-long-running-operation', { duration: 20, steps: 20 });
      },
      call('everything__echo', { message: 'after' }),
      FIX_SUM,
      FINISH,
    ]);
    const id = await createTask(t.errand, { repo: origin, prompt: '[mcp-crash] Fix sum.' });
    await waitForStatus(t.errand, id, 'completed');
    expect(killed.length).toBeGreaterThan(0);
    expect(resultOf(script.requests, 1)).toMatch(/^error: everything__trigger-long-running-operation did not answer \(.*\); the call failed/);
    expect(resultOf(script.requests, 2)).toBe('Echo: after');
  });

  it('keeps a remote server out of reach of commands allowed the network', async () => {
    const origin = makeOriginRepo(BUGGY_SUM);
    const script = t.model.script('[mcp-socket]', [
      // Through the sandbox's egress proxy, as an HTTP client configured with it would ask; then around it.
      call('shell', {
        command: `(exec 3<>/dev/tcp/127.0.0.1/3128 && printf 'POST http://127.0.0.1:${httpPort}/mcp HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\nContent-Length: 0\\r\\nConnection: close\\r\\n\\r\\n' >&3 && head -c 200 <&3; echo) 2>&1; (exec 3<>/dev/tcp/127.0.0.1/${httpPort} && echo CONNECTED) 2>&1 | tail -1`,
      }),
      FIX_SUM,
      FINISH,
    ]);
    const id = await createTask(t.errand, { repo: origin, prompt: '[mcp-socket] Fix sum.', network: 'on' });
    await waitForStatus(t.errand, id, 'completed');
    // Through the egress proxy: refused (this host's loopback); around it: nothing listens there.
    const seen = resultOf(script.requests, 0);
    expect(seen).toMatch(/403 Forbidden[\s\S]*refused: 127\.0\.0\.1:\d+/);
    expect(seen).toMatch(/Connection refused/);
    expect(seen).not.toContain('CONNECTED');
  });

  it('keeps the servers out of the agent\'s reach: their processes, their environment, their files', async () => {
    const origin = makeOriginRepo(BUGGY_SUM);
    const script = t.model.script('[mcp-reach]', [
      call('everything__echo', { message: 'start it' }),
      call('shell', { command: `cat /proc/*/environ 2>/dev/null | tr '\\0' '\\n' | grep -c SERVER_TOKEN; ps -eo args 2>/dev/null | grep -c 'server-every[t]hing'; ls ${t.errand.stateDir}/mcp 2>&1; env | grep -c TOKEN` }),
      FIX_SUM,
      FINISH,
    ]);
    const id = await createTask(t.errand, { repo: origin, prompt: '[mcp-reach] Fix sum.' });
    await waitForStatus(t.errand, id, 'completed');
    const seen = resultOf(script.requests, 1);
    expect(seen).not.toContain(SERVER_SECRET);
    // No environment holds the token, no process of the server is visible, its directory is not there.
    expect(seen.split('--- stdout ---\n')[1]!.split('\n').slice(0, 2)).toEqual(['0', '0']);
    expect(seen).not.toMatch(/memory|everything/);
  });
});

describe('secrets', () => {
  it('gives a setup secret to the setup script alone: never to the agent\'s commands, the store or the API', async () => {
    const origin = makeOriginRepo({
      ...BUGGY_SUM,
      // Uses the token (as an install from a private registry would), keeps proof it had it, echoes it to its log.
      '.errand/setup.sh': 'printf %s "$SETUP_TOKEN" | sha256sum > .setup-saw\necho "token is $SETUP_TOKEN"\n',
      '.gitignore': '.setup-saw\n',
    });
    const script = t.model.script('[setup-secret]', [
      call('shell', { command: "cat .setup-saw; env | grep -c '^SETUP_TOKEN='; cat /proc/*/environ 2>/dev/null | tr '\\0' '\\n' | grep -c '^SETUP_TOKEN='; grep -rlsF setup-secret- . $HOME /tmp | wc -l" }),
      FIX_SUM,
      FINISH,
    ]);
    const id = await createTask(t.errand, { repo: origin, prompt: '[setup-secret] Fix sum.' });
    await waitForStatus(t.errand, id, 'completed');
    const [saw, inEnv, inProc, inFiles] = resultOf(script.requests, 0).split('--- stdout ---\n')[1]!.split('\n');
    expect(saw!.split(' ')[0]).toBe(createHash('sha256').update(SETUP_SECRET).digest('hex'));
    expect([inEnv, inProc, inFiles]).toEqual(['0', '0', '0']);
    const log = await api(t.errand.url, 'GET', `/tasks/${id}/logs/setup`);
    expect(log.body).toContain('token is [REDACTED]');
    expect(filesHolding(t.errand.stateDir, SETUP_SECRET)).toEqual([]);
  });

  it('stops a task whose setup leaves a secret in a file the agent could read', async () => {
    const origin = makeOriginRepo({ ...BUGGY_SUM, '.errand/setup.sh': 'echo "//registry.example/:_authToken=$SETUP_TOKEN" > .npmrc\n' });
    const script = t.model.script('[setup-leak]', [FIX_SUM, FINISH]);
    const id = await createTask(t.errand, { repo: origin, prompt: '[setup-leak] Fix sum.' });
    const task = await waitForStatus(t.errand, id, 'failed');
    expect(task.error).toContain('the setup script left a secret where the agent could read it (SETUP_TOKEN in .npmrc)');
    expect(script.requests).toEqual([]); // the agent never started
  });

  it('lists a repository\'s secrets by name and scope, never a value', async () => {
    const origin = makeOriginRepo(BUGGY_SUM);
    const res = await api(t.errand.url, 'GET', `/repos/${encodeURIComponent(origin)}/secrets`);
    expect(res.status).toBe(200);
    expect(res.body.secrets).toEqual([
      { name: 'SERVER_TOKEN', scopes: ['mcp:everything'] },
      { name: 'HEADER_TOKEN', scopes: ['mcp:remote'] },
      { name: 'SETUP_TOKEN', scopes: ['setup'] },
    ]); // ACME_ONLY is for acme/* only
    expect(JSON.stringify(res.body)).not.toMatch(/secret-|value/);
    expect((await api(t.errand.url, 'GET', '/repos/%20/secrets')).status).toBe(400);
  });
});
