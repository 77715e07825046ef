// Control of a running task through the API, on the real Temporal server: steering messages
// (an update), pause and resume (signals), cancellation by someone, the plan gate,
// checkpoints on the task branch, and idempotent task creation.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { call, gate, lastToolResult, type ChatRequest, FIX_SUM, FINISH } from '../fixtures/model-server.js';
import { BUGGY_SUM, git, makeOriginRepo } from '../fixtures/repos.js';
import { api, eventually, PROJECT_ROOT } from '../support/errand-process.js';
import { useErrand } from '../support/use.js';
import { createTask, waitForStatus } from '../support/tasks.js';

const t = useErrand({ ERRAND_CHECKPOINT_EVERY_STEPS: '2' });

const userMessages = (req: ChatRequest) => req.messages.filter((m) => m.role === 'user').map((m) => m.content ?? '');
const state = async (id: string) => (await api(t.errand.url, 'GET', `/tasks/${id}`)).body;
const waitForPhase = (id: string, phase: string) =>
  eventually(async () => ((await state(id)).phase === phase ? state(id) : undefined), 60_000, `task ${id} to be ${phase}`);

describe('steering', () => {
  it('accepts a message while the agent works and hands it to the model before its next call', async () => {
    const origin = makeOriginRepo(BUGGY_SUM);
    const inFlight = gate();
    const script = t.model.script('[steer]', [
      { kind: 'later', after: inFlight.promise, reply: FIX_SUM },
      (req) => (userMessages(req).some((m) => m.includes('also add a comment')) ? call('edit_file', { path: 'sum.js', old: 'exports', new: '// adds\nexports' }) : FINISH),
      FINISH,
    ]);
    const id = await createTask(t.errand, { repo: origin, prompt: '[steer] Fix sum.' });
    await eventually(async () => (script.requests.length === 1 ? true : undefined), 30_000, 'the first model call');

    const sent = await api(t.errand.url, 'POST', `/tasks/${id}/messages`, { text: 'also add a comment saying what sum does', from: 'alice' });
    expect(sent).toMatchObject({ status: 202, body: { id, seq: 1, beforeStep: 2 } });
    inFlight.open();

    const task = await waitForStatus(t.errand, id, 'completed');
    // The model read it after the tool result of step 1, exactly once.
    expect(script.requests[1]!.messages.at(-1)).toEqual({ role: 'user', content: 'Message from alice (#1): also add a comment saying what sum does' });
    expect(lastToolResult(script.requests[1]!)).toBe('wrote 31 bytes to sum.js');
    expect(task.messages).toEqual({ accepted: 1, delivered: 1 });
    expect(git(origin, 'show', `errand/${id}:sum.js`)).toBe('// adds\nexports.sum = (a, b) => a + b;\n');

    const late = await api(t.errand.url, 'POST', `/tasks/${id}/messages`, { text: 'one more thing' });
    expect(late.status).toBe(409);
    expect(late.body.detail).toBe(`task ${id} is already completed; only running tasks can be sent messages`);
  });

  it('answers 400 for an empty message and 404 for an unknown task', async () => {
    const empty = await api(t.errand.url, 'POST', '/tasks/0000deadbeef/messages', { text: '  ' });
    expect(empty.status).toBe(400);
    expect(empty.body.detail).toContain('text: required');
    const unknown = await api(t.errand.url, 'POST', '/tasks/0000deadbeef/messages', { text: 'hello' });
    expect(unknown.status).toBe(404);
  });

  it('does not let the agent finish past a message that arrived during its last call', async () => {
    const origin = makeOriginRepo(BUGGY_SUM);
    const inFlight = gate();
    const script = t.model.script('[steer-late]', [
      FIX_SUM,
      { kind: 'later', after: inFlight.promise, reply: FINISH },
      (req) => (lastToolResult(req).startsWith('not accepted: new messages arrived') ? call('write_file', { path: 'NOTES.md', content: 'noted\n' }) : FINISH),
      FINISH,
    ]);
    const id = await createTask(t.errand, { repo: origin, prompt: '[steer-late] Fix sum.' });
    await eventually(async () => (script.requests.length === 2 ? true : undefined), 30_000, 'the finishing call');
    expect((await api(t.errand.url, 'POST', `/tasks/${id}/messages`, { text: 'write NOTES.md too' })).status).toBe(202);
    inFlight.open();
    await waitForStatus(t.errand, id, 'completed');
    expect(script.requests).toHaveLength(4);
    expect(git(origin, 'show', `errand/${id}:NOTES.md`)).toBe('noted\n');
  });
});

describe('pause and resume', () => {
  it('stops between steps without calling the model, keeps the sandbox, and goes on when resumed', async () => {
    const origin = makeOriginRepo(BUGGY_SUM);
    const inFlight = gate();
    const script = t.model.script('[pause]', [{ kind: 'later', after: inFlight.promise, reply: FIX_SUM }, call('shell', { command: 'cat sum.js' }), FINISH]);
    const id = await createTask(t.errand, { repo: origin, prompt: '[pause] Fix sum.' });
    await eventually(async () => (script.requests.length === 1 ? true : undefined), 30_000, 'the first model call');

    expect(await api(t.errand.url, 'POST', `/tasks/${id}/pause`, { by: 'bob' })).toMatchObject({ status: 202 });
    inFlight.open(); // the step in flight completes; the next one waits
    const paused = await waitForPhase(id, 'paused');
    expect(paused.paused).toEqual({ since: expect.any(String), by: 'bob' });
    expect(paused.lastAction).toBe('paused by bob');
    const tokens = paused.tokens;
    await new Promise((r) => setTimeout(r, 2_500));
    expect(script.requests).toHaveLength(1); // no model call while paused
    expect((await state(id)).tokens).toEqual(tokens);
    expect(existsSync(path.join(t.errand.stateDir, 'sandboxes', id, 'workspace', 'sum.js'))).toBe(true);
    // Steering still works while paused: the message waits for the next step.
    expect((await api(t.errand.url, 'POST', `/tasks/${id}/messages`, { text: 'keep going' })).body).toMatchObject({ seq: 1, beforeStep: 2 });

    expect((await api(t.errand.url, 'POST', `/tasks/${id}/resume`)).status).toBe(202);
    const task = await waitForStatus(t.errand, id, 'completed');
    expect(task.paused).toBeUndefined();
    expect(script.requests).toHaveLength(3);
    expect(userMessages(script.requests[1]!)).toContain('Message from the requester (#1): keep going');
  });
});

describe('cancel', () => {
  it('keeps the work so far on the branch, destroys the sandbox and says who cancelled', async () => {
    const origin = makeOriginRepo(BUGGY_SUM);
    const script = t.model.script('[cancel-by]', [FIX_SUM, call('shell', { command: 'sleep 300', timeoutSeconds: 600 }), FINISH]);
    const id = await createTask(t.errand, { repo: origin, prompt: '[cancel-by] Fix sum.' });
    await eventually(async () => (script.requests.length === 2 ? true : undefined), 30_000, 'the long command');
    expect(await api(t.errand.url, 'POST', `/tasks/${id}/cancel`, { by: 'carol' })).toMatchObject({ status: 202, body: { status: 'cancelling' } });
    const task = await waitForStatus(t.errand, id, 'cancelled');
    expect(task).toMatchObject({ phase: 'cancelled', cancelledBy: 'carol', lastAction: 'cancelled by carol' });
    expect(git(origin, 'show', `errand/${id}:sum.js`)).toContain('a + b');
    await eventually(async () => (existsSync(path.join(t.errand.stateDir, 'sandboxes', id)) ? undefined : true), 20_000, 'the sandbox to be removed');
  });
});

describe('plan approval', () => {
  it('plans with read-only tools, waits for approval (revised by a message), then does the work', async () => {
    const origin = makeOriginRepo(BUGGY_SUM);
    const script = t.model.script('[plan]', [
      call('read_file', { path: 'sum.js' }),
      call('write_file', { path: 'sum.js', content: 'too early' }),
      call('submit_plan', { plan: 'Change - to + in sum.js.' }),
      call('submit_plan', { plan: 'Change - to + in sum.js, then run npm test.' }),
      FIX_SUM,
      FINISH,
    ]);
    const id = await createTask(t.errand, { repo: origin, prompt: '[plan] Fix sum.', requirePlanApproval: true });
    const first = await waitForPhase(id, 'awaiting_approval');
    expect(first.plan).toBe('Change - to + in sum.js.');
    const offered = (script.requests[0] as unknown as { tools: { function: { name: string } }[] }).tools.map((t) => t.function.name);
    expect(offered).toEqual(['read_file', 'list_dir', 'search', 'submit_plan']);
    expect(lastToolResult(script.requests[2]!)).toBe('error: "write_file" cannot be used until your plan is approved; the tools are read_file, list_dir, search, submit_plan');

    // A message revises the plan instead of approving it.
    expect((await api(t.errand.url, 'POST', `/tasks/${id}/messages`, { text: 'mention the tests' })).status).toBe(202);
    const revised = await eventually(async () => {
      const s = await state(id);
      return s.phase === 'awaiting_approval' && s.plan !== first.plan ? s : undefined;
    }, 30_000, 'the revised plan');
    expect(revised.plan).toBe('Change - to + in sum.js, then run npm test.');
    expect(git(origin, 'branch', '--list', `errand/${id}`)).toBe(''); // nothing changed, nothing pushed

    expect(await api(t.errand.url, 'POST', `/tasks/${id}/approve`, { by: 'dana' })).toMatchObject({ status: 200, body: { approvedBy: 'dana' } });
    const task = await waitForStatus(t.errand, id, 'completed');
    expect(task.planApprovedBy).toBe('dana');
    expect(userMessages(script.requests[4]!).at(-1)).toBe('[errand] Your plan was approved by dana. Carry it out now: you may edit files and run commands.');
    const offeredAfter = (script.requests[4] as unknown as { tools: { function: { name: string } }[] }).tools.map((t) => t.function.name);
    expect(offeredAfter).toContain('write_file');
    const pr = JSON.parse(readFileSync(path.join(t.errand.stateDir, 'forge', 'pulls', `${task.pr.number}.json`), 'utf8'));
    expect(pr.body).toContain('## Plan (approved by dana)\nChange - to + in sum.js, then run npm test.');

    const again = await api(t.errand.url, 'POST', `/tasks/${id}/approve`);
    expect(again.status).toBe(409);
  });

  it('refuses approval of a task that is not waiting for it', async () => {
    const origin = makeOriginRepo(BUGGY_SUM);
    const inFlight = gate();
    t.model.script('[no-plan]', [{ kind: 'later', after: inFlight.promise, reply: FIX_SUM }, FINISH]);
    const id = await createTask(t.errand, { repo: origin, prompt: '[no-plan] Fix sum.' });
    await waitForPhase(id, 'working');
    const res = await api(t.errand.url, 'POST', `/tasks/${id}/approve`);
    expect(res).toMatchObject({ status: 409, body: { detail: 'task is working; only a task awaiting approval of its plan can be approved' } });
    inFlight.open();
    await waitForStatus(t.errand, id, 'completed');
  });
});

describe('checkpoints', () => {
  it('pushes the work in progress every N steps and squashes it into one commit in the PR', async () => {
    const origin = makeOriginRepo(BUGGY_SUM);
    const atStep3 = gate();
    const script = t.model.script('[checkpoint]', [
      FIX_SUM,
      call('write_file', { path: 'a.txt', content: 'a\n' }),
      { kind: 'later', after: atStep3.promise, reply: call('write_file', { path: 'b.txt', content: 'b\n' }) },
      FINISH,
    ]);
    const id = await createTask(t.errand, { repo: origin, prompt: '[checkpoint] Fix sum.' });
    await eventually(async () => (script.requests.length === 3 ? true : undefined), 30_000, 'step 3');
    // After step 2 (ERRAND_CHECKPOINT_EVERY_STEPS=2) the branch holds both edits as work in progress.
    const wip = await eventually(async () => (await state(id)).checkpoint, 10_000, 'a checkpoint');
    expect(wip.step).toBe(2);
    expect(git(origin, 'log', '-1', '--format=%s', `errand/${id}`).trim()).toBe('errand: work in progress after step 2');
    expect(git(origin, 'show', `errand/${id}:a.txt`)).toBe('a\n');
    atStep3.open();
    await waitForStatus(t.errand, id, 'completed');
    expect(git(origin, 'rev-list', '--count', `main..errand/${id}`).trim()).toBe('1');
    expect(git(origin, 'log', '-1', '--format=%s', `errand/${id}`).trim()).toBe('[checkpoint] Fix sum.');
    expect(git(origin, 'show', `errand/${id}:b.txt`)).toBe('b\n');
  });
});

describe('idempotency', () => {
  it('returns the same task for the same Idempotency-Key, and refuses the key for another request', async () => {
    const origin = makeOriginRepo(BUGGY_SUM);
    t.model.script('[idem]', [FIX_SUM, FINISH]);
    const key = `key-${Date.now()}`;
    const post = (body: unknown) =>
      fetch(`${t.errand.url}/tasks`, { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': key }, body: JSON.stringify(body) });
    const body = { repo: origin, prompt: '[idem] Fix sum.' };
    const [a, b] = await Promise.all([post(body), post(body)]);
    const [first, second] = [(await a.json()) as any, (await b.json()) as any];
    expect([a.status, b.status]).toEqual([201, 201]);
    expect(second.id).toBe(first.id);
    expect([a.headers.get('idempotent-replayed'), b.headers.get('idempotent-replayed')].sort()).toEqual(['true', null].sort());
    await waitForStatus(t.errand, first.id, 'completed');
    // After the task ended, the key still names it, never a second task.
    const later = await post(body);
    expect(later.status).toBe(201);
    expect(((await later.json()) as any).id).toBe(first.id);
    // Even when the repository can no longer be read (once the API's 2 s memory of reaching it
    // has passed): the request started its task already. A new key is refused.
    renameSync(origin, `${origin}.moved`);
    await new Promise((r) => setTimeout(r, 2_100));
    const moved = await post(body);
    const fresh = await fetch(`${t.errand.url}/tasks`, { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': `${key}-new` }, body: JSON.stringify(body) });
    renameSync(`${origin}.moved`, origin);
    expect(moved.status).toBe(201);
    expect(((await moved.json()) as any).id).toBe(first.id);
    expect(fresh.status).toBe(400);

    const other = await post({ ...body, prompt: '[idem] Something else.' });
    expect(other.status).toBe(422);
    expect(((await other.json()) as any).detail).toContain('Idempotency-Key was already used for a different request');
    const bad = await fetch(`${t.errand.url}/tasks`, { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': 'has spaces' }, body: JSON.stringify(body) });
    expect(bad.status).toBe(400);
  });
});

describe('errand task (CLI)', () => {
  const cli = (...args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, ['--import', 'tsx', 'apps/cli/main.ts', 'task', ...args], { cwd: PROJECT_ROOT, env: { ...process.env, ERRAND_API_URL: t.errand.url } }, (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });

  it('creates, steers, pauses, resumes and cancels a task from a shell', async () => {
    const origin = makeOriginRepo(BUGGY_SUM);
    const inFlight = gate();
    t.model.script('[cli]', [{ kind: 'later', after: inFlight.promise, reply: FIX_SUM }, call('shell', { command: 'sleep 300', timeoutSeconds: 600 }), FINISH]);
    const created = await cli('create', '--repo', origin, '--prompt', '[cli] Fix sum.', '--max-steps', '10', '--idempotency-key', `cli-${Date.now()}`);
    expect(created).toMatchObject({ code: 0 });
    const id = JSON.parse(created.stdout).id as string;
    expect(JSON.parse(created.stdout).budget.maxSteps).toBe(10);

    expect(JSON.parse((await cli('message', id, 'use', 'the', 'plus', 'operator', '--from', 'erin')).stdout)).toMatchObject({ seq: 1 });
    expect((await cli('pause', id, '--by', 'erin')).code).toBe(0);
    inFlight.open();
    await waitForPhase(id, 'paused');
    expect(JSON.parse((await cli('show', id)).stdout)).toMatchObject({ phase: 'paused', paused: { by: 'erin' } });
    expect((await cli('resume', id)).code).toBe(0);
    await waitForPhase(id, 'working');
    expect((await cli('cancel', id, '--by', 'erin')).code).toBe(0);
    await waitForStatus(t.errand, id, 'cancelled');

    const events = (await cli('events', id)).stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(events.map((e) => e.type)).toContain('tool_called');
    expect(events.at(-1)).toEqual({ status: 'cancelled' });

    const refused = await cli('approve', id);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`errand: 409: task ${id} is already cancelled`);
    const unreachable = await cli('show', id, '--api', 'http://127.0.0.1:9');
    expect(unreachable).toMatchObject({ code: 1, stderr: expect.stringContaining('cannot reach the Errand API at http://127.0.0.1:9') });
  });
});
