// A task end to end on a real Temporal server: Errand runs as a real process (worker + API),
// the model is the scripted OpenAI-compatible fixture server, the repo is a real bare git repo.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { call, fail, FIX_SUM, lastToolResult } from '../fixtures/model-server.js';
import { BUGGY_SUM, explodingRepo, git, makeOriginRepo } from '../fixtures/repos.js';
import { api, eventually, findProcesses, isRunning, temporalClient } from '../support/errand-process.js';
import { useErrand } from '../support/use.js';
import { createTask as createTaskVia, waitForStatus as waitFor } from '../support/tasks.js';

const t = useErrand({ ERRAND_MODEL_API_KEY: 'sk-test', ERRAND_MODEL_MAX_RETRY_AFTER_SECONDS: '4', ERRAND_NARRATE: 'true' });

const createTask = (repo: string, prompt: string) => createTaskVia(t.errand, { repo, prompt });
const waitForStatus = (id: string, status: string, timeoutMs?: number) => waitFor(t.errand, id, status, timeoutMs);

const sandboxDir = (id: string) => path.join(t.errand.stateDir, 'sandboxes', id);

describe('codingTask', () => {
  it('fixes a failing test and opens a pull request with the fix', async () => {
    const origin = makeOriginRepo(BUGGY_SUM);
    const script = t.model.script('[happy]', [
      call('read_file', { path: 'sum.js' }),
      (req) =>
        lastToolResult(req).includes('a - b')
          ? call('write_file', { path: 'sum.js', content: 'exports.sum = (a, b) => a + b;\n' })
          : { kind: 'text', text: `the file did not hold what I expected: ${lastToolResult(req)}` },
      call('shell', { command: 'npm test' }),
      (req) =>
        lastToolResult(req).startsWith('exit code 0')
          ? call('finish', { summary: 'sum subtracted; it now adds, so the test passes.' })
          : { kind: 'text', text: 'tests still fail' },
    ]);
    const id = await createTask(origin, '[happy] The sum test fails; fix sum.');

    const task = await waitForStatus(id, 'completed');
    expect(task.phase).toBe('completed');
    expect(task.test).toMatchObject({ command: 'npm test', passed: true, exitCode: 0 });
    expect(task.pr).toMatchObject({ number: expect.any(Number), base: 'main', head: `errand/${id}` });
    expect(task.summary).toContain('now adds');
    expect(script.requests).toHaveLength(4);
    // The model saw the system prompt with the detected test command, and the task prompt.
    expect(script.requests[0]!.messages[0]!.content).toContain('npm test');

    // The branch on the origin holds the fix; main is untouched.
    expect(git(origin, 'show', `errand/${id}:sum.js`)).toContain('a + b');
    expect(git(origin, 'show', 'main:sum.js')).toContain('a - b');

    // Its test log is there; it had no setup script, and the API says so, in JSON like every error.
    const testLog = await fetch(`${t.errand.url}/tasks/${id}/logs/test`);
    expect(testLog.headers.get('content-type')).toContain('text/plain');
    expect(await testLog.text()).toContain('$ npm test');
    const setupLog = await fetch(`${t.errand.url}/tasks/${id}/logs/setup`);
    expect(setupLog.status).toBe(404);
    expect(setupLog.headers.get('content-type')).toContain('application/problem+json');
    expect(((await setupLog.json()) as { detail: string }).detail).toBe(
      `task ${id} has no setup log: it ran no setup script (its repository has no .errand/setup.sh and the task gave no setupScript)`,
    );
    // The change it published, as the diff the PR shows.
    const diff = await fetch(`${t.errand.url}/tasks/${id}/diff`);
    expect(diff.headers.get('content-type')).toContain('text/x-diff');
    expect(await diff.text()).toMatch(/^diff --git a\/sum\.js b\/sum\.js\n[\s\S]*-exports\.sum = \(a, b\) => a - b;\n\+exports\.sum = \(a, b\) => a \+ b;/);
    expect(t.errand.output()).not.toMatch(/content-type/i);
    // And the terminal said what happened, in words.
    await eventually(async () => (t.errand.output().includes(`errand: task ${id} completed: PR #${task.pr.number}`) ? true : undefined), 10_000, 'the completed line');
    expect(t.errand.output()).toContain(`errand: task ${id} started on ${origin}`);
    expect(t.errand.output()).toContain(`errand: task ${id} opened draft PR #${task.pr.number}`);

    // The PR record on the local forge carries the diff, the summary and the test result.
    const pr = JSON.parse(readFileSync(path.join(t.errand.stateDir, 'forge', 'pulls', `${task.pr.number}.json`), 'utf8'));
    expect(pr).toMatchObject({ repo: origin, base: 'main', head: `errand/${id}`, state: 'open' });
    expect(pr.diff).toContain('-exports.sum = (a, b) => a - b;');
    expect(pr.diff).toContain('+exports.sum = (a, b) => a + b;');
    expect(pr.body).toContain('`npm test` passed');
    expect(pr.body).toContain('now adds');

    expect(existsSync(sandboxDir(id))).toBe(false);

    // Listed through Temporal visibility, filterable by repo and status.
    const listed = await eventually(async () => {
      const res = await api(t.errand.url, 'GET', `/tasks?repo=${encodeURIComponent(origin)}&status=completed`);
      return res.body.tasks.find((t: { id: string }) => t.id === id);
    }, 30_000, 'the task in GET /tasks');
    // With what it cost and its PR, read from visibility (no worker asked).
    expect(listed).toMatchObject({ repo: origin, status: 'completed', phase: 'completed', costUsd: task.costUsd, pr: { number: task.pr.number, url: task.pr.url } });

    // Each change of phase is written to visibility once (each write is a history event and a
    // visibility update in Temporal, under every task): never the same phase, or memo, twice in a row.
    const { client, close } = await temporalClient();
    try {
      const events = (await client.workflow.getHandle(`task-${id}`).fetchHistory()).events ?? [];
      const decode = (p: { data?: Uint8Array | null }) => JSON.parse(Buffer.from(p.data!).toString());
      const phases = events.flatMap((e) => {
        const phase = e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields?.ErrandPhase;
        return phase ? [decode(phase)] : [];
      });
      expect(phases).toEqual(['preparing', 'working', 'testing', 'reviewing', 'publishing', 'completed']);
      const memos = events.flatMap((e) => (e.workflowPropertiesModifiedEventAttributes ? [JSON.stringify(e.workflowPropertiesModifiedEventAttributes.upsertedMemo)] : []));
      expect(memos.length).toBeGreaterThan(0);
      expect(memos.filter((m, i) => m === memos[i - 1])).toEqual([]);
      // The read_file ran inside a workflow task (a local activity, recorded as a marker); the
      // write and the command are activities of their own.
      expect(events.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity')).toHaveLength(1);
      expect(events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'runTool')).toHaveLength(2);
    } finally {
      await close();
    }
  });

  it('is cancelled mid-loop: the running command is killed, no sandbox is left, and its PR says so and carries the work', async () => {
    const origin = makeOriginRepo(BUGGY_SUM);
    const marker = `errand-cancel-${Date.now()}`;
    t.model.script('[cancel]', [FIX_SUM, call('shell', { command: `exec -a ${marker} sleep 300`, timeoutSeconds: 600 }), fail(500, 'should not be called')]);
    const id = await createTask(origin, '[cancel] Do something slow.');

    const [pid] = await eventually(async () => (findProcesses(marker).length ? findProcesses(marker) : undefined), 60_000, 'the command to start');
    expect(existsSync(sandboxDir(id))).toBe(true);
    const cancel = await api(t.errand.url, 'POST', `/tasks/${id}/cancel`);
    expect(cancel.status).toBe(202);

    const task = await waitForStatus(id, 'cancelled');
    expect(task.phase).toBe('cancelled');
    // Who cancelled it, as far as a server without tokens can say.
    expect(task.lastAction).toBe('cancelled by an API caller (this server asks for no token, so it cannot say who)');
    // The draft PR opened at the first checkpoint no longer says Errand is working on it: it says
    // how the task ended, and carries the work (the fix, on the branch and in its diff).
    const pr = JSON.parse(readFileSync(path.join(t.errand.stateDir, 'forge', 'pulls', `${task.pr.number}.json`), 'utf8'));
    expect(pr).toMatchObject({ draft: true, title: '[cancelled] [cancel] Do something slow.' });
    expect(pr.body).toMatch(/^> \*\*Cancelled\*\*: cancelled by an API caller \(this server asks for no token, so it cannot say who\)\. Errand stopped at step 2; this branch holds the work so far/);
    expect(pr.body).not.toContain('Work in progress');
    expect(pr.diff).toContain('+exports.sum = (a, b) => a + b;');
    expect(git(origin, 'show', `errand/${id}:sum.js`)).toContain('a + b');
    await eventually(async () => (existsSync(sandboxDir(id)) ? undefined : true), 20_000, 'the sandbox to be removed');
    await eventually(async () => (isRunning(pid!) ? undefined : true), 20_000, `the command (pid ${pid}) to be killed`);

    const again = await api(t.errand.url, 'POST', `/tasks/${id}/cancel`);
    expect(again.status).toBe(409);
  });

  it('fails before anything is checked out or published when the repository explodes into a million files', async () => {
    // ~10 KB of git objects; checked out, 1,000,000 empty files in 111,111 directories.
    const origin = explodingRepo(BUGGY_SUM, 6);
    const script = t.model.script('[boom]', [call('finish', { summary: 'should not be asked' })]);
    const id = await createTask(origin, '[boom] Fix sum.');
    const task = await waitForStatus(id, 'failed', 60_000);
    expect(task.error).toBe(`main of ${origin} checks out to 1111114 files and directories, more than the 250000 ERRAND_REPO_MAX_FILES allows; nothing was checked out`);
    expect(script.requests).toHaveLength(0);
    expect(task.pr).toBeUndefined();
    expect(git(origin, 'for-each-ref', `refs/heads/errand/${id}`)).toBe('');
    await eventually(async () => (existsSync(sandboxDir(id)) ? undefined : true), 20_000, 'the sandbox to be removed');
  });

  it('completes, and removes its sandbox, when the agent left directories deeper than a path can name', async () => {
    const origin = makeOriginRepo(BUGGY_SUM);
    // 2,500 levels: a path of 22,500 bytes, past PATH_MAX; removing it by path fails.
    t.model.script('[deep]', [
      call('shell', { command: 'for i in $(seq 2500); do mkdir dddddddd && cd dddddddd || exit 1; done; touch leaf; echo deep' }),
      call('write_file', { path: 'sum.js', content: 'exports.sum = (a, b) => a + b;\n' }),
      call('finish', { summary: 'sum adds' }),
    ]);
    const id = await createTask(origin, '[deep] Fix sum.');
    const task = await waitForStatus(id, 'completed');
    expect(task.pr).toMatchObject({ number: expect.any(Number) });
    await eventually(async () => (existsSync(sandboxDir(id)) ? undefined : true), 20_000, 'the sandbox to be removed');
    // Removed in the background, by a process of its own: nothing is left behind.
    await eventually(async () => (readdirSync(path.join(t.errand.stateDir, 'sandboxes', '.trash')).some((e) => e.startsWith(`${id}.`)) ? undefined : true), 60_000, 'the removal to finish');
  });

  it('completes when the model answers 500 twice before it succeeds (activity retry)', async () => {
    const origin = makeOriginRepo(BUGGY_SUM);
    const script = t.model.script('[flaky]', [
      fail(500, 'upstream overloaded'),
      fail(503, 'try again'),
      call('write_file', { path: 'sum.js', content: 'exports.sum = (a, b) => a + b;\n' }),
      call('finish', { summary: 'fixed sum' }),
    ]);
    const id = await createTask(origin, '[flaky] Fix sum.');
    const task = await waitForStatus(id, 'completed');
    expect(task.test.passed).toBe(true);
    expect(script.requests).toHaveLength(4);
    expect(git(origin, 'show', `errand/${id}:sum.js`)).toContain('a + b');
  });

  it('waits as long as Retry-After asks when the model answers 429', async () => {
    const origin = makeOriginRepo(BUGGY_SUM);
    const script = t.model.script('[rate-limited]', [
      fail(429, 'Rate limit reached for requests', { 'retry-after': '3' }),
      call('write_file', { path: 'sum.js', content: 'exports.sum = (a, b) => a + b;\n' }),
      call('finish', { summary: 'fixed sum' }),
    ]);
    const id = await createTask(origin, '[rate-limited] Fix sum.');
    await waitForStatus(id, 'completed');
    // The policy's own first back-off is 1 s; the endpoint asked for 3.
    expect(script.receivedAt[1]! - script.receivedAt[0]!).toBeGreaterThanOrEqual(2_900);
  });

  it('waits no longer than ERRAND_MODEL_MAX_RETRY_AFTER_SECONDS when Retry-After asks for an hour, and says so in the events', async () => {
    const origin = makeOriginRepo(BUGGY_SUM);
    const script = t.model.script('[rate-hour]', [
      fail(429, 'Rate limit reached for requests', { 'retry-after': '3600' }),
      call('write_file', { path: 'sum.js', content: 'exports.sum = (a, b) => a + b;\n' }),
      call('finish', { summary: 'fixed sum' }),
    ]);
    const id = await createTask(origin, '[rate-hour] Fix sum.');
    await waitForStatus(id, 'completed');
    const waited = script.receivedAt[1]! - script.receivedAt[0]!;
    expect(waited).toBeGreaterThanOrEqual(3_900);
    expect(waited).toBeLessThan(30_000);
    const events = readFileSync(path.join(t.errand.stateDir, 'artifacts', 'tasks', id, 'events.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(events.find((e) => e.type === 'model_retry')).toMatchObject({
      step: 1,
      attempt: 1,
      retryInSeconds: 4,
      reason: expect.stringContaining('it asked to wait 3600 s, Errand waits at most 4 s (ERRAND_MODEL_MAX_RETRY_AFTER_SECONDS)'),
    });
  });

  it('fails at once with the reason when the model rejects the key (401)', async () => {
    const origin = makeOriginRepo(BUGGY_SUM);
    const script = t.model.script('[denied]', [fail(401, 'Incorrect API key provided'), call('finish', { summary: 'x' })]);
    const id = await createTask(origin, '[denied] Fix sum.');
    const task = await waitForStatus(id, 'failed', 30_000);
    expect(task.phase).toBe('failed');
    expect(task.error).toContain('401');
    expect(task.error).toContain('Incorrect API key provided');
    expect(task.error).toContain('ERRAND_MODEL_API_KEY');
    expect(script.requests).toHaveLength(1); // not retried
    await eventually(async () => (t.errand.output().includes(`errand: task ${id} failed: model fixture-coder`) ? true : undefined), 10_000, 'the failed line');
    await eventually(async () => (existsSync(sandboxDir(id)) ? undefined : true), 20_000, 'the sandbox to be removed');
  });
});
