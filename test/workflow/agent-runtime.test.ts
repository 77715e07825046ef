// The agent runtime end to end, on the real Temporal server with Errand as a real process and
// the fixture model server: every tool and its refusals, repository setup, budgets, the
// claim-check that keeps history small, redaction, and the transcript and event endpoints.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { temporal } from '@temporalio/proto';
import { probeBubblewrap } from '../../apps/worker/confinement.js';
import { call, lastToolResult, type ChatRequest, FIX_SUM } from '../fixtures/model-server.js';
import { BUGGY_SUM, git, makeOriginRepo } from '../fixtures/repos.js';
import { api, eventually, findProcesses } from '../support/errand-process.js';
import { hostUid, PRINT_UID } from '../support/host-uid.js';
import { describeWithPart } from '../support/required-part.js';
import { readEvents } from '../support/sse.js';
import { createTask, waitForStatus } from '../support/tasks.js';
import { useErrand, useTemporal } from '../support/use.js';

const SECRET = 'hunter2-very-secret-value';
const MODEL_KEY = 'sk-fixture-key-0123456789abcdef';
const bubblewrap = await probeBubblewrap();

/** A package registry as the operator allows it (ERRAND_SANDBOX_EGRESS_ALLOW): on this host's loopback. */
let registry: http.Server;
let registryPort: number;

beforeAll(async () => {
  registry = http.createServer((req, res) => res.end(`registry serves ${req.url}`));
  await new Promise<void>((resolve) => registry.listen(0, '127.0.0.1', resolve));
  registryPort = (registry.address() as AddressInfo).port;
});

afterAll(() => {
  registry?.close();
});

const t = useErrand(() => ({
  ERRAND_SANDBOX_EGRESS_ALLOW: `127.0.0.1:${registryPort}`,
  ERRAND_MODEL_API_KEY: MODEL_KEY,
  // $1000 per million tokens: each fixture answer (120 tokens) costs $0.12, coder's or reviewer's.
  ERRAND_MODEL_PRICES: JSON.stringify({ 'fixture-coder': { input: 1000, output: 1000 }, 'fixture-reviewer': { input: 1000, output: 1000 } }),
  ERRAND_MODEL_CONTEXT_TOKENS: '60000',
  ERRAND_REDACT: SECRET,
  ERRAND_LOG_LEVEL: 'debug',
  // Passed into sandbox commands by the operator's allowlist; nothing else of ours is.
  NPM_CONFIG_REGISTRY: 'http://registry.internal/',
  ERRAND_SANDBOX_ENV: 'NPM_CONFIG_REGISTRY',
  // Confined where bubblewrap works (the confinement tests below insist on it).
  ERRAND_SANDBOX_CONFINEMENT: 'bwrap' in bubblewrap ? 'bubblewrap' : 'none',
}));

const temporalServer = useTemporal();

/** What the model saw as the result of its call in request `n` (0-based): the next request's last tool message. */
const resultOf = (requests: ChatRequest[], n: number) => lastToolResult(requests[n + 1]!);
const pullRequest = (number: number) => JSON.parse(readFileSync(path.join(t.errand.stateDir, 'forge', 'pulls', `${number}.json`), 'utf8'));

describe('tools', () => {
  it('runs every tool in the sandbox and turns each refusal into a result the model can act on', async () => {
    const origin = makeOriginRepo({ ...BUGGY_SUM, 'dup.txt': 'same line\nsame line\n' });
    const marker = `errand-timeout-${Date.now()}`;
    const script = t.model.script('[tools]', [
      call('list_dir', {}),
      call('read_file', { path: 'sum.js', startLine: 1, endLine: 1 }),
      call('search', { pattern: 'a - b' }),
      call('edit_file', { path: 'sum.js', old: 'a * b', new: 'a + b' }),
      call('edit_file', { path: 'dup.txt', old: 'same line', new: 'other line' }),
      call('read_file', { path: '../sandbox.json' }),
      call('shell', { command: 'ln -s /etc escape && echo linked' }),
      call('read_file', { path: 'escape/hostname' }),
      call('write_file', { path: 'escape/evil.conf', content: 'x' }),
      call('shell', { command: `(exec -a ${marker} sleep 300) & echo started; sleep 300`, timeoutSeconds: 1 }),
      call('write_file', '{"path": "x.js", "content": '),
      call('delete_repository', { really: true }),
      call('edit_file', { path: 'sum.js', old: 'a - b', new: 'a + b' }),
      call('write_file', { path: 'notes/CHANGES.md', content: 'sum adds now\n' }),
      call('shell', { command: 'rm escape && npm test 2>&1 | tail -3' }),
      call('finish', { summary: 'sum adds now' }),
    ]);
    const id = await createTask(t.errand, { repo: origin, prompt: '[tools] Fix sum.' });
    const task = await waitForStatus(t.errand, id, 'completed');
    const r = script.requests;
    expect(r).toHaveLength(16);

    expect(resultOf(r, 0)).toContain('sum.js (');
    expect(resultOf(r, 0)).toContain('package.json (');
    expect(resultOf(r, 1)).toBe('1: exports.sum = (a, b) => a - b;');
    expect(resultOf(r, 2)).toContain('sum.js:1:exports.sum = (a, b) => a - b;');
    expect(resultOf(r, 3)).toBe('error: the text to replace was not found in sum.js; read the file and copy the text exactly');
    expect(resultOf(r, 4)).toBe('error: the text to replace occurs 2 times in dup.txt; include more surrounding lines so it matches once');
    expect(resultOf(r, 5)).toMatch(/^error: \.\.\/sandbox\.json: outside the workspace/);
    expect(resultOf(r, 6)).toContain('linked');
    expect(resultOf(r, 7)).toMatch(/^error: escape\/hostname: outside the workspace/);
    expect(resultOf(r, 8)).toMatch(/^error: escape\/evil\.conf: outside the workspace/);
    expect(resultOf(r, 9)).toMatch(/^timed out after 1s; the command and its children were killed/);
    expect(resultOf(r, 9)).toContain('started');
    expect(findProcesses(marker)).toEqual([]); // the background child died with its command
    expect(resultOf(r, 10)).toMatch(/^error: the arguments of write_file are not valid JSON/);
    expect(resultOf(r, 11)).toBe('error: unknown tool "delete_repository"; the tools are shell, read_file, list_dir, search, write_file, edit_file, finish');
    expect(resultOf(r, 12)).toBe('replaced 1 occurrence in sum.js');
    expect(resultOf(r, 13)).toBe('wrote 13 bytes to notes/CHANGES.md');
    expect(resultOf(r, 14)).toMatch(/^exit code 0/);
    expect(existsSync('/etc/evil.conf')).toBe(false);

    expect(task.test).toMatchObject({ command: 'npm test', passed: true });
    expect(git(origin, 'show', `errand/${id}:sum.js`)).toContain('a + b');
    expect(git(origin, 'show', `errand/${id}:notes/CHANGES.md`)).toBe('sum adds now\n');
    expect(git(origin, 'show', `errand/${id}:dup.txt`)).toBe('same line\nsame line\n');
    expect(git(origin, 'ls-tree', '--name-only', `errand/${id}`)).not.toContain('escape');
  });

  it('fails the task after five malformed tool calls in a row, quoting the last', async () => {
    const origin = makeOriginRepo(BUGGY_SUM);
    const script = t.model.script('[garbage]', [
      call('write_file', '{"path": '),
      call('no_such_tool', {}),
      call('read_file', { file: 'sum.js' }), // wrong argument name
      call('finish', { note: 'no summary' }),
      call('shell', 'not json at all'),
      FIX_SUM,
    ]);
    const id = await createTask(t.errand, { repo: origin, prompt: '[garbage] Fix sum.' });
    const task = await waitForStatus(t.errand, id, 'failed');
    expect(task.error).toContain('the model sent 5 malformed tool calls in a row');
    expect(task.error).toContain('not valid JSON');
    expect(script.requests).toHaveLength(5);
    // Each error reached the model as a result it could correct.
    expect(resultOf(script.requests, 2)).toContain('bad arguments for read_file');
    expect(resultOf(script.requests, 3)).toBe('error: finish needs {"summary": "<what you changed and why>"}');
  });
});

describe('repository setup', () => {
  it('puts AGENTS.md into the system prompt and runs .errand/setup.sh before the agent starts', async () => {
    const origin = makeOriginRepo({
      ...BUGGY_SUM,
      '.gitignore': 'deps/\n',
      'AGENTS.md': '# Agents\nUse two-space indentation. (house-rule-7)\n',
      'CLAUDE.md': 'ignored: AGENTS.md comes first\n',
      '.errand/setup.sh': 'mkdir -p deps && echo "installed" > deps/ready && echo "setup finished"\n',
    });
    const script = t.model.script('[setup-ok]', [
      call('shell', { command: 'cat deps/ready' }),
      FIX_SUM,
      call('finish', { summary: 'fixed' }),
    ]);
    const id = await createTask(t.errand, { repo: origin, prompt: '[setup-ok] Fix sum.' });
    const task = await waitForStatus(t.errand, id, 'completed');
    expect(task.instructionsFrom).toBe('AGENTS.md');
    const system = script.requests[0]!.messages[0]!.content!;
    expect(system).toContain('house-rule-7');
    expect(system).not.toContain('AGENTS.md comes first');
    expect(resultOf(script.requests, 0)).toContain('installed');
    const events = (await readEvents(`${t.errand.url}/tasks/${id}/events`)).messages;
    const setup = events.find((e) => e.event === 'setup_finished')!.data;
    expect(readFileSync(path.join(t.errand.stateDir, 'artifacts', setup.setupLogKey), 'utf8')).toContain('setup finished');
    expect(git(origin, 'ls-tree', '-r', '--name-only', `errand/${id}`)).not.toContain('deps/ready');
  });

  it("runs the task's own setup script instead of the repository's", async () => {
    const origin = makeOriginRepo({ ...BUGGY_SUM, '.gitignore': '.from-task\n', '.errand/setup.sh': 'exit 1\n' });
    const script = t.model.script('[setup-task]', [call('shell', { command: 'cat .from-task' }), FIX_SUM, call('finish', { summary: 'fixed' })]);
    const id = await createTask(t.errand, { repo: origin, prompt: '[setup-task] Fix sum.', setupScript: 'echo given-with-the-task > .from-task' });
    await waitForStatus(t.errand, id, 'completed');
    expect(resultOf(script.requests, 0)).toContain('given-with-the-task');
  });

  it('stops the task when the setup script fails, with the end of its log as the reason', async () => {
    const origin = makeOriginRepo({
      ...BUGGY_SUM,
      '.errand/setup.sh': 'echo "resolving dependencies"\necho "npm ERR! 404 left-pad@9.9.9 is not in the registry" >&2\nexit 3\n',
    });
    const script = t.model.script('[setup-fail]', [FIX_SUM]);
    const id = await createTask(t.errand, { repo: origin, prompt: '[setup-fail] Fix sum.' });
    const task = await waitForStatus(t.errand, id, 'failed');
    expect(task.phase).toBe('failed');
    expect(task.error).toContain('the setup script exited with 3');
    expect(task.error).toContain('resolving dependencies');
    expect(task.error).toContain('left-pad@9.9.9 is not in the registry');
    expect(script.requests).toHaveLength(0); // the agent never started
    await eventually(async () => (existsSync(path.join(t.errand.stateDir, 'sandboxes', id)) ? undefined : true), 20_000, 'the sandbox to be removed');
  });
});

describe('budgets', () => {
  // The agent edits at step 1 and never finishes: only a budget can stop it.
  const neverFinishes = () => [FIX_SUM, ...Array.from({ length: 20 }, () => call('shell', { command: 'sleep 1.5; git status --short' }))];

  it.each([
    ['maxSteps', { maxSteps: 3 }, 3, 'stopped after 3 steps (maxSteps 3)'],
    ['maxTokens', { maxTokens: 300 }, 3, 'stopped after 360 tokens (maxTokens 300)'],
    ['maxCostUsd', { maxCostUsd: 0.2 }, 2, 'stopped after $0.2400 (maxCostUsd $0.2)'],
    ['maxWallClockMinutes', { maxWallClockMinutes: 0.05 }, undefined, ' s (maxWallClockMinutes 0.05)'],
  ])('%s stops the agent, and the work so far is published as a draft PR marked incomplete', async (name, budget, calls, note) => {
    const origin = makeOriginRepo(BUGGY_SUM);
    const marker = `[budget-${name}]`;
    const script = t.model.script(marker, neverFinishes());
    const reviews = t.model.reviews(marker);
    const id = await createTask(t.errand, { repo: origin, prompt: `${marker} Fix sum.`, ...budget });
    const task = await waitForStatus(t.errand, id, 'completed');
    expect(task.stoppedBy).toBe(name);
    if (calls !== undefined) expect(script.requests).toHaveLength(calls);
    else expect(script.requests.length).toBeGreaterThanOrEqual(2); // 3 s is two or three 1.5 s steps
    // The work so far is still reviewed once (no rounds: the budget is spent), and that counts too.
    expect(reviews.requests).toHaveLength(1);
    const modelCalls = script.requests.length + reviews.requests.length;
    expect(task.tokens.prompt + task.tokens.completion).toBe(120 * modelCalls);
    expect(task.costUsd).toBeCloseTo(0.12 * modelCalls, 6);
    expect(task.pr).toMatchObject({ draft: true, title: `[incomplete] ${marker} Fix sum.` });
    const pr = pullRequest(task.pr.number);
    expect(pr.body).toContain('**Incomplete**');
    expect(pr.body).toContain(note);
    expect(task.test.passed).toBe(true); // the tests still ran on the work so far
    expect(git(origin, 'show', `errand/${id}:sum.js`)).toContain('a + b');
  });
});

describe('history stays small', () => {
  it('keeps a transcript larger than Temporal’s 2 MB payload limit out of history, and the prompt inside the window', async () => {
    const origin = makeOriginRepo(BUGGY_SUM);
    // Each file is larger than the 256 KB any one history event may hold.
    const chunk = (i: number) => `// generated file ${i}\n${'x'.repeat(127)}\n`.repeat(2048);
    const steps = Array.from({ length: 12 }, (_, i) => call('write_file', { path: `gen/file-${i}.js`, content: chunk(i) }));
    const script = t.model.script('[large]', [...steps, call('finish', { summary: 'generated twelve files' })]);
    const id = await createTask(t.errand, { repo: origin, prompt: '[large] Generate the files.' });
    await waitForStatus(t.errand, id, 'completed');

    const transcript = await api(t.errand.url, 'GET', `/tasks/${id}/transcript`);
    expect(transcript.status).toBe(200);
    expect(transcript.body.steps).toBe(13);
    expect(JSON.stringify(transcript.body).length).toBeGreaterThan(3 * 1024 * 1024);
    // The transcript keeps the full arguments of every call, the first included.
    const first = transcript.body.messages.find((m: any) => m.tool_calls?.[0]?.function.name === 'write_file');
    expect(JSON.parse(first.tool_calls[0].function.arguments).content).toBe(chunk(0));

    const history = await temporalServer.client.workflow.getHandle(`task-${id}`).fetchHistory();
    const sizes = (history.events ?? []).map((e) => temporal.api.history.v1.HistoryEvent.encode(e).finish().length);
    expect(sizes.length).toBeGreaterThan(40);
    expect(Math.max(...sizes)).toBeLessThan(256 * 1024);
    expect(sizes.reduce((a, b) => a + b, 0)).toBeLessThan(1024 * 1024);

    // Every request fit the 60,000-token window: old arguments were elided, the newest kept.
    const last = script.requests.at(-1)!;
    expect(JSON.stringify(last.messages).length / 4).toBeLessThan(60_000);
    expect(JSON.stringify(last.messages)).toContain('elided to fit the context window');
    expect(git(origin, 'show', `errand/${id}:gen/file-11.js`)).toBe(chunk(11));
  });
});

describe('redaction', () => {
  it('keeps configured secrets out of the transcript, events, history, the model and the logs', async () => {
    const origin = makeOriginRepo({ ...BUGGY_SUM, 'deploy.env': `DB_PASSWORD=${SECRET}\nMODEL_KEY=${MODEL_KEY}\n` });
    const script = t.model.script('[redact]', [
      call('read_file', { path: 'deploy.env' }),
      call('shell', { command: 'grep -c PASSWORD deploy.env; cat deploy.env' }),
      FIX_SUM,
      call('write_file', { path: 'notes.txt', content: `the password is ${SECRET}\n` }),
      call('finish', { summary: `fixed sum; note the password ${SECRET} in deploy.env` }),
    ]);
    const id = await createTask(t.errand, { repo: origin, prompt: '[redact] Fix sum.' });
    const task = await waitForStatus(t.errand, id, 'completed');

    expect(resultOf(script.requests, 0)).toContain('DB_PASSWORD=[REDACTED]');
    expect(resultOf(script.requests, 1)).toContain('MODEL_KEY=[REDACTED]');
    const transcript = JSON.stringify((await api(t.errand.url, 'GET', `/tasks/${id}/transcript`)).body);
    const events = readFileSync(path.join(t.errand.stateDir, 'artifacts', 'tasks', id, 'events.jsonl'), 'utf8');
    const history = await historyText(id);
    for (const [where, text] of Object.entries({ transcript, events, history, logs: t.errand.output(), summary: task.summary })) {
      expect({ where, leaked: text.includes(SECRET) || text.includes(MODEL_KEY) }).toEqual({ where, leaked: false });
    }
    expect(transcript).toContain('[REDACTED]');
    // A secret in the model's own arguments never reaches the sandbox, and the model hears why.
    expect(resultOf(script.requests, 3)).toContain('your arguments held something that looks like a secret');
    expect(git(origin, 'show', `errand/${id}:notes.txt`)).toBe('the password is [REDACTED]\n');
    expect(task.summary).toBe('fixed sum; note the password [REDACTED] in deploy.env');
  });

  it('keeps a secret out in the forms a command makes of it, and never pushes one spelled in names', async () => {
    const origin = makeOriginRepo({ ...BUGGY_SUM, 'deploy.env': `DB_PASSWORD=${SECRET}\n` });
    const encode = [
      'cut -d= -f2 deploy.env | rev',
      'base64 deploy.env',
      'cut -c2- deploy.env | base64 -w 8',
      'xxd -p deploy.env',
      'od -An -tx1 deploy.env',
      `cut -d= -f2 deploy.env | sed 's/./&\\xe2\\x80\\x8b/g'`,
      'cut -d= -f2 deploy.env | fold -w1',
    ];
    const script = t.model.script('[redact-encoded]', [
      call('shell', { command: encode.join('; echo; ') }),
      // Two halves no check can see as a secret, joined by the shell into names.
      call('write_file', { path: 'a', content: SECRET.slice(0, 8) }),
      call('write_file', { path: 'b', content: SECRET.slice(8) }),
      call('shell', { command: 'touch "leak-$(cat a b).txt" && mkdir "dir-$(cat a b)" && touch "dir-$(cat a b)/f.txt" && rm a b && ls' }),
      FIX_SUM,
      call('finish', { summary: 'fixed sum' }),
    ]);
    const id = await createTask(t.errand, { repo: origin, prompt: '[redact-encoded] Fix sum.' });
    const task = await waitForStatus(t.errand, id, 'failed');

    const reversed = [...SECRET].reverse().join('');
    const hex = Buffer.from(SECRET).toString('hex');
    const seen = resultOf(script.requests, 0);
    expect(seen.match(/\[REDACTED\]/g)!.length).toBeGreaterThanOrEqual(encode.length);
    for (const form of [SECRET, reversed, hex, Buffer.from(`DB_PASSWORD=${SECRET}`).toString('base64').slice(0, 30)]) expect(seen).not.toContain(form);
    expect(resultOf(script.requests, 3)).toContain('leak-[REDACTED].txt');
    expect(task.error).toMatch(/the change adds what looks like a secret \(configured secret in (dir|leak)-\[REDACTED\]/);
    // Nothing spelled it anywhere: not the task, its transcript, events or history, nor the branch.
    const shown = {
      task: JSON.stringify(task),
      transcript: JSON.stringify((await api(t.errand.url, 'GET', `/tasks/${id}/transcript`)).body),
      events: readFileSync(path.join(t.errand.stateDir, 'artifacts', 'tasks', id, 'events.jsonl'), 'utf8'),
      history: await historyText(id),
      logs: t.errand.output(),
    };
    for (const [where, text] of Object.entries(shown)) {
      const bare = text.replace(/\s|\u200b|\\n|\\u200b/g, '');
      expect({ where, leaked: [SECRET, reversed, hex].some((f) => bare.includes(f)) }).toEqual({ where, leaked: false });
    }
    const pushed = (() => {
      try {
        return git(origin, 'ls-tree', '-r', '--name-only', `errand/${id}`);
      } catch {
        return '';
      }
    })();
    expect(pushed).not.toContain(SECRET);
  });

  it('redacts every string a model answers with: tool-call ids, tool names, and the review', async () => {
    const origin = makeOriginRepo(BUGGY_SUM);
    t.model.script('[redact-all]', [
      { kind: 'tools', calls: [{ id: `call_${SECRET}`, name: 'read_file', args: { path: 'sum.js' } }] },
      call(`shell_${SECRET}`, { command: 'true' }),
      FIX_SUM,
      call('finish', { summary: 'fixed' }),
    ]);
    t.model.reviews('[redact-all]', [
      call('submit_review', {
        verdict: 'request_changes',
        summary: `rotate ${SECRET} first`,
        comments: [{ file: `config/${SECRET}.env`, line: 1, severity: 'blocking', body: `this leaks ${MODEL_KEY}` }],
      }),
    ]);
    const id = await createTask(t.errand, { repo: origin, prompt: '[redact-all] Fix sum.', maxReviewRounds: 0 });
    const task = await waitForStatus(t.errand, id, 'completed');
    expect(task.review.unresolved).toEqual([{ file: 'config/[REDACTED].env', line: 1, severity: 'blocking', body: 'this leaks [REDACTED]' }]);
    const shown = {
      task: JSON.stringify(task),
      pr: JSON.stringify(pullRequest(task.pr.number)),
      transcript: JSON.stringify((await api(t.errand.url, 'GET', `/tasks/${id}/transcript`)).body),
      events: readFileSync(path.join(t.errand.stateDir, 'artifacts', 'tasks', id, 'events.jsonl'), 'utf8'),
      review: readFileSync(path.join(t.errand.stateDir, 'artifacts', 'tasks', id, 'review', 'round-1.json'), 'utf8'),
      history: await historyText(id),
      logs: t.errand.output(),
    };
    for (const [where, text] of Object.entries(shown)) {
      expect({ where, leaked: text.includes(SECRET) || text.includes(MODEL_KEY) }).toEqual({ where, leaked: false });
    }
    expect(shown.pr).toContain('this leaks [REDACTED]');
    expect(shown.history.includes('call_[REDACTED]')).toBe(true);
  });
});

/** The workflow's whole history as text, payloads decoded. */
async function historyText(id: string): Promise<string> {
  // Payloads arrive as base64 (or bytes): decoded, so a secret in one would show.
  return JSON.stringify(await temporalServer.client.workflow.getHandle(`task-${id}`).fetchHistory(), (k, v) =>
    v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : k === 'data' && typeof v === 'string' ? Buffer.from(v, 'base64').toString('utf8') : v,
  );
}

describe('events and transcript', () => {
  it('streams events live over SSE, replays them for a late client, and resumes after Last-Event-ID', async () => {
    const origin = makeOriginRepo(BUGGY_SUM);
    t.model.script('[sse]', [call('shell', { command: 'sleep 2; echo slow step done' }), FIX_SUM, call('finish', { summary: 'fixed' })]);
    const id = await createTask(t.errand, { repo: origin, prompt: '[sse] Fix sum.' });

    const live = await readEvents(`${t.errand.url}/tasks/${id}/events`, { timeoutMs: 90_000 });
    expect(live.status).toBe(200);
    expect(live.contentType).toContain('text/event-stream');
    const end = live.messages.at(-1)!;
    expect(end).toMatchObject({ event: 'end', data: { status: 'completed' } });
    const events = live.messages.slice(0, -1);
    expect(events.map((m) => Number(m.id))).toEqual(events.map((_, i) => i));
    const types = events.map((m) => m.event);
    for (const type of ['sandbox_provisioned', 'workspace_ready', 'setup_finished', 'step_started', 'model_answered', 'tool_called', 'tool_result', 'budget_used', 'checkpoint', 'pr_opened', 'tests_finished', 'review_started', 'review_finished', 'branch_published', 'pr_updated']) {
      expect(types).toContain(type);
    }
    expect(types.indexOf('step_started')).toBeLessThan(types.indexOf('tool_called'));
    const slow = events.find((m) => m.event === 'tool_result' && m.data.step === 1)!;
    expect(slow.data.output).toContain('slow step done');
    const budget = events.filter((m) => m.event === 'budget_used').at(-1)!;
    expect(budget.data).toMatchObject({ step: 3, tokens: 360 });

    const replay = await readEvents(`${t.errand.url}/tasks/${id}/events`);
    expect(replay.messages.map((m) => [m.id, m.event])).toEqual(live.messages.map((m) => [m.id, m.event]));

    const resumed = await readEvents(`${t.errand.url}/tasks/${id}/events`, { lastEventId: '4' });
    expect(resumed.messages[0]!.id).toBe('5');
    expect(resumed.messages.map((m) => m.event)).toEqual(live.messages.slice(5).map((m) => m.event));

    const transcript = await api(t.errand.url, 'GET', `/tasks/${id}/transcript`);
    expect(transcript.body.messages.map((m: any) => `${m.step}:${m.role}`)).toEqual([
      '0:system', '0:user', '1:assistant', '2:tool', '2:assistant', '3:tool', '3:assistant',
    ]);
  });

  it('answers 404 for the transcript and events of an unknown task', async () => {
    expect((await api(t.errand.url, 'GET', '/tasks/0000deadbeef/transcript')).status).toBe(404);
    const events = await readEvents(`${t.errand.url}/tasks/0000deadbeef/events`);
    expect(events.status).toBe(404);
  });
});

describeWithBubblewrap('confined local sandbox', () => {
  const probe = (port: number) => `(exec 3<>/dev/tcp/127.0.0.1/${port}) 2>/dev/null && echo NETWORK-REACHED || echo NETWORK-BLOCKED`;
  const modelPort = () => Number(new URL(t.model.url).port);

  it('keeps a command off the network and away from everything outside the workspace', async () => {
    const origin = makeOriginRepo({ ...BUGGY_SUM, 'link-out': { symlink: path.join(os.tmpdir(), `planted-through-repo-link-${Date.now()}`) } });
    const outside = path.join(path.dirname(origin), 'planted-by-agent.txt');
    const projectFile = path.join(process.cwd(), `planted-${Date.now()}.txt`);
    const agentLinkTarget = path.join(os.tmpdir(), `planted-through-agent-link-${Date.now()}`);
    const script = t.model.script('[confined]', [
      call('shell', { command: `${probe(modelPort())}; echo "niceness $(nice)"` }),
      call('shell', { command: `echo pwned > ${outside}; echo pwned > ${projectFile}; touch ${origin}/planted; echo tried` }),
      call('shell', { command: `ls ${path.join(t.errand.stateDir, 'sandboxes')}; ls ${path.join(t.errand.stateDir, 'artifacts')} 2>&1; cat ../sandbox.json 2>&1; env` }),
      call('shell', { command: `echo scratch > /tmp/scratch && cat /tmp/scratch && ${PRINT_UID}` }),
      // Links to host paths that do not exist yet: one committed in the repository, one made by the agent.
      call('write_file', { path: 'link-out', content: 'planted' }),
      call('shell', { command: `ln -s ${agentLinkTarget} my-link && cat /etc/shadow` }),
      call('write_file', { path: 'my-link', content: 'planted' }),
      call('shell', { command: 'rm my-link link-out' }),
      FIX_SUM,
      call('finish', { summary: 'fixed' }),
    ]);
    const id = await createTask(t.errand, { repo: origin, prompt: '[confined] Fix sum.', network: 'off' });
    await waitForStatus(t.errand, id, 'completed');
    const r = script.requests;
    expect(resultOf(r, 0)).toContain('NETWORK-BLOCKED');
    // Below the worker, Temporal and the API in CPU priority: a busy machine serves them first.
    expect(resultOf(r, 0)).toContain('niceness 10');
    expect(resultOf(r, 1)).toMatch(/Read-only file system|Permission denied|No such file or directory/);
    expect(existsSync(outside)).toBe(false);
    expect(existsSync(projectFile)).toBe(false);
    expect(existsSync(path.join(origin, 'planted'))).toBe(false);
    // Errand's state is hidden (artifacts, other sandboxes, this sandbox's token); the environment is clean.
    const [sandboxes, artifacts, token] = resultOf(r, 2).split('--- stdout ---\n')[1]!.split('\n');
    expect(sandboxes).toBe(id);
    expect(artifacts).toContain('No such file or directory');
    expect(token).toBe('cat: ../sandbox.json: No such file or directory');
    expect(resultOf(r, 2)).not.toContain('ERRAND_');
    expect(resultOf(r, 2)).not.toContain(MODEL_KEY);
    expect(resultOf(r, 2)).toContain('NPM_CONFIG_REGISTRY=http://registry.internal/');
    const [, scratchOut] = resultOf(r, 3).split('--- stdout ---\n');
    expect(scratchOut).toMatch(/^scratch\n/);
    expect(hostUid(scratchOut!.split('--- stderr ---')[0]!.replace(/^scratch\n/, ''))).not.toBe(0); // not root on the host
    expect(existsSync('/tmp/scratch')).toBe(false); // a private /tmp
    expect(resultOf(r, 4)).toBe('error: link-out: outside the workspace; use a path inside it');
    expect(resultOf(r, 5)).toContain('Permission denied');
    expect(resultOf(r, 6)).toBe('error: my-link: outside the workspace; use a path inside it');
    expect(existsSync(agentLinkTarget)).toBe(false);
    expect(readdirSync(os.tmpdir()).filter((f) => f.startsWith('planted-through-'))).toEqual([]);
    // Errand's own fetch and push still reached the origin.
    expect(git(origin, 'show', `errand/${id}:sum.js`)).toContain('a + b');
  });

  /** Bash that asks the sandbox's egress proxy for `url` (plain HTTP) and prints the start of the answer. */
  const viaProxy = (url: string) =>
    `(exec 3<>/dev/tcp/127.0.0.1/3128 && printf 'GET ${url} HTTP/1.1\\r\\nHost: ${new URL(url).host}\\r\\nConnection: close\\r\\n\\r\\n' >&3 && head -c 300 <&3; echo) 2>&1`;
  /** Bash that asks the proxy for a tunnel to `authority` and prints the answer (a refusal ends it). */
  const tunnel = (authority: string) => `(exec 3<>/dev/tcp/127.0.0.1/3128 && printf 'CONNECT ${authority} HTTP/1.1\\r\\nHost: ${authority}\\r\\n\\r\\n' >&3 && head -c 300 <&3; echo) 2>&1`;

  it("lets commands out through the egress proxy when the task's policy allows it, never to Errand's own endpoints", async () => {
    const origin = makeOriginRepo(BUGGY_SUM);
    const apiPort = new URL(t.errand.url).port;
    const temporal = process.env.ERRAND_TEST_TEMPORAL_ADDRESS!;
    const script = t.model.script('[network-on]', [
      call('shell', { command: `${probe(modelPort())}; echo "proxy: $HTTPS_PROXY"` }),
      call('shell', { command: viaProxy(`http://127.0.0.1:${registryPort}/left-pad`) }),
      call('shell', { command: viaProxy(`http://127.0.0.1:${apiPort}/tasks`) }),
      call('shell', { command: viaProxy(`http://127.0.0.1:${modelPort()}/v1/models`) }),
      call('shell', { command: tunnel(temporal) }),
      call('shell', { command: viaProxy('http://169.254.169.254/latest/meta-data/') }),
      FIX_SUM,
      call('finish', { summary: 'fixed' }),
    ]);
    const id = await createTask(t.errand, { repo: origin, prompt: '[network-on] Fix sum.', network: 'on' });
    await waitForStatus(t.errand, id, 'completed');
    const r = script.requests;
    // Not the host's network: the model endpoint on the host's loopback is not there at all.
    expect(resultOf(r, 0)).toContain('NETWORK-BLOCKED');
    expect(resultOf(r, 0)).toContain('proxy: http://127.0.0.1:3128');
    expect(resultOf(r, 1)).toMatch(/HTTP\/1\.1 200 OK[\s\S]*registry serves \/left-pad/);
    expect(resultOf(r, 2)).toMatch(/HTTP\/1\.1 403 Forbidden[\s\S]*refused: 127\.0\.0\.1:\d+ \(127\.0\.0\.1\) is/);
    expect(resultOf(r, 2)).not.toContain('"taskId"'); // no task listed
    expect(resultOf(r, 3)).toMatch(/403 Forbidden[\s\S]*one of Errand's own endpoints/);
    expect(resultOf(r, 4)).toMatch(/403 Forbidden[\s\S]*one of Errand's own endpoints/);
    expect(resultOf(r, 5)).toMatch(/403 Forbidden[\s\S]*link-local \(where cloud metadata and its credentials live\)/);
  });

  it('lets the setup script out through the proxy under the default policy, but not the agent', async () => {
    const reach = `${probe(modelPort())}; ${viaProxy(`http://127.0.0.1:${registryPort}/setup-dep`)}`;
    const origin = makeOriginRepo({ ...BUGGY_SUM, '.gitignore': 'setup.out\n', '.errand/setup.sh': `{ ${reach}; } > setup.out\n` });
    const script = t.model.script('[network-setup]', [call('shell', { command: `cat setup.out; echo AGENT:; ${reach}` }), FIX_SUM, call('finish', { summary: 'fixed' })]);
    const id = await createTask(t.errand, { repo: origin, prompt: '[network-setup] Fix sum.' });
    await waitForStatus(t.errand, id, 'completed');
    const [setup, agent] = resultOf(script.requests, 0).split('AGENT:');
    expect(setup).toMatch(/NETWORK-BLOCKED[\s\S]*registry serves \/setup-dep/);
    expect(agent).toMatch(/NETWORK-BLOCKED[\s\S]*3128: Connection refused/); // no proxy for the agent
    expect(agent).not.toContain('registry serves');
  });
});

function describeWithBubblewrap(title: string, body: () => void) {
  describeWithPart({ name: 'bubblewrap', missing: 'reason' in bubblewrap ? bubblewrap.reason : undefined, install: 'run `npm run setup` as root, or apt-get install bubblewrap' }, title, body);
}
