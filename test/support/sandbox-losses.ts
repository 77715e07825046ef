// A sandbox lost at every point of a task, for any sandbox provider: the provider's harness
// destroys the task's sandbox (a local one's sandboxd killed and its directory removed; a pod
// deleted) at a moment the task itself marks: a file its setup, command or tests create, the
// model call it makes, a push it holds. Each task must end with the work complete on the branch,
// or the agent told what was lost and given the turns to redo it; never failed, never with a PR
// that claims work it does not hold. And each loss shows: events, the task's state, the PR body,
// the log.
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { approve, call, FIX_SUM, gate, lastToolResult, type ChatRequest, type ModelServer } from '../fixtures/model-server.js';
import { BUGGY_SUM, git, makeOriginRepo } from '../fixtures/repos.js';
import { api, eventually, type ErrandProcess } from './errand-process.js';
import { readEvents } from './sse.js';
import { createTask, waitForStatus } from './tasks.js';

export interface LossHarness {
  errand(): ErrandProcess;
  model(): ModelServer;
  /** Destroys the sandbox task `id` works in now; returns its sandbox id. */
  lose(id: string): Promise<string>;
  /** Destroys the task's sandbox once `marker` appears in its workspace; returns its sandbox id. */
  loseWhenMarked(id: string, marker: string): Promise<string>;
}

const FINISH = call('finish', { summary: 'sum adds now' });
const told = (req: ChatRequest) => req.messages.some((m) => m.role === 'user' && m.content?.includes('The sandbox was lost and replaced'));
const lastNote = (req: ChatRequest) => req.messages.filter((m) => m.role === 'user').at(-1)?.content ?? '';

export function sandboxLossScenarios(h: LossHarness): void {
  const eventsOf = async (id: string) => (await readEvents(`${h.errand().url}/tasks/${id}/events`)).messages.map((m) => ({ type: m.event, ...m.data }));

  /** What every loss must show: one loss in the state, its events, the PR body, the log, and a clean end. */
  async function expectToldOf(id: string, loss: { during: string; lostAfterStep?: number; from: string }) {
    const errand = h.errand();
    const task = await waitForStatus(errand, id, 'completed');
    expect(task.sandboxLosses).toBe(1);
    expect(task.losses).toEqual([expect.objectContaining({ during: expect.stringContaining(loss.during), restoredFrom: expect.stringContaining(loss.from), why: expect.stringContaining('is gone') })]);
    expect(task.losses[0].lostAfterStep).toBe(loss.lostAfterStep);
    const events = await eventsOf(id);
    expect(events.find((e) => e.type === 'sandbox_lost')).toMatchObject({
      during: expect.stringContaining(loss.during),
      lost: loss.lostAfterStep === undefined ? 'nothing' : expect.stringContaining('changes made after'),
    });
    expect(events.find((e) => e.type === 'workspace_restored' && e.sandboxId === `${id}-r1`)).toMatchObject({ from: expect.stringContaining(loss.from), sha: expect.stringMatching(/^[0-9a-f]{40}$/) });
    const pr = JSON.parse(readFileSync(path.join(errand.stateDir, 'forge', 'pulls', `${task.pr.number}.json`), 'utf8'));
    expect(pr.body).toContain('## Sandbox losses');
    expect(pr.body).toContain(`the sandbox was lost during ${loss.during}`);
    expect(errand.output()).toContain(`task ${id}: sandbox ${task.losses[0].sandboxId} was lost during`);
    await eventually(async () => (errand.output().includes(`errand: task ${id} completed`) ? true : undefined), 10_000, 'the completed line');
    expect(errand.output()).toContain(`errand: task ${id} lost its sandbox during ${loss.during}`);
    return { task, events, pr };
  }

  describe('a sandbox lost', () => {
    it('during setup is replaced and set up again; nothing is lost', async () => {
      const origin = makeOriginRepo({ ...BUGGY_SUM, '.gitignore': 'setup-started\n', '.errand/setup.sh': 'touch setup-started; sleep 2\n' });
      h.model().script('[lost-setup]', [FIX_SUM, FINISH]);
      const id = await createTask(h.errand(), { repo: origin, prompt: '[lost-setup] Fix sum.' });
      await h.loseWhenMarked(id, 'setup-started');
      await expectToldOf(id, { during: 'setup', from: 'the base branch' });
      expect(git(origin, 'show', `errand/${id}:sum.js`)).toContain('a + b');
    });

    it('during a tool call answers that call with the reason, and the agent redoes what was lost', async () => {
      const origin = makeOriginRepo({ ...BUGGY_SUM, '.gitignore': 'tool-started\n' });
      const script = h.model().script('[lost-tool]', [
        FIX_SUM,
        call('shell', { command: 'touch tool-started; sleep 5' }),
        (req) => (told(req) ? FIX_SUM : call('shell', { command: 'echo not told' })),
        FINISH,
      ]);
      const id = await createTask(h.errand(), { repo: origin, prompt: '[lost-tool] Fix sum.' });
      await h.loseWhenMarked(id, 'tool-started');
      const { events } = await expectToldOf(id, { during: 'step 2: shell', lostAfterStep: 0, from: 'the base branch' });
      expect(lastToolResult(script.requests[2]!)).toBe('error: the sandbox was lost while this ran; see the note from Errand');
      expect(lastNote(script.requests[2]!)).toContain('Changes made after the start are gone');
      expect(events.filter((e) => e.type === 'tool_result' && e.step === 2)).toEqual([expect.objectContaining({ isError: true, output: 'the sandbox was lost while this ran' })]);
      expect(git(origin, 'show', `errand/${id}:sum.js`)).toContain('a + b');
    });

    it('before a tool call that only reads (a local activity) answers it with the reason, and the agent redoes what was lost', async () => {
      const origin = makeOriginRepo(BUGGY_SUM);
      const reading = gate();
      const script = h.model().script('[lost-read]', [
        FIX_SUM,
        { kind: 'later', after: reading.promise, reply: call('list_dir', {}) },
        (req) => (told(req) ? FIX_SUM : call('shell', { command: 'echo not told' })),
        FINISH,
      ]);
      const id = await createTask(h.errand(), { repo: origin, prompt: '[lost-read] Fix sum.' });
      await eventually(async () => (script.requests.length >= 2 ? true : undefined), 60_000, 'the second model call');
      await h.lose(id);
      reading.open();
      const { events } = await expectToldOf(id, { during: 'step 2: list_dir', lostAfterStep: 0, from: 'the base branch' });
      expect(lastToolResult(script.requests[2]!)).toBe('error: the sandbox was lost while this ran; see the note from Errand');
      expect(events.filter((e) => e.type === 'tool_result' && e.step === 2)).toEqual([expect.objectContaining({ isError: true })]);
      expect(git(origin, 'show', `errand/${id}:sum.js`)).toContain('a + b');
    });

    it('between the finish and the final checkpoint sends the agent back to redo its work, and the PR holds it', async () => {
      const origin = makeOriginRepo(BUGGY_SUM);
      const finishing = gate();
      const script = h.model().script('[lost-finish]', [
        FIX_SUM,
        call('shell', { command: 'npm test' }),
        { kind: 'later', after: finishing.promise, reply: FINISH },
        (req) => (told(req) ? FIX_SUM : call('shell', { command: 'echo not told' })),
        call('finish', { summary: 'sum adds now (redone after the sandbox was lost)' }),
      ]);
      const id = await createTask(h.errand(), { repo: origin, prompt: '[lost-finish] Fix sum.' });
      await eventually(async () => (script.requests.length >= 3 ? true : undefined), 60_000, 'the finish call');
      await h.lose(id);
      finishing.open();
      const { task, pr } = await expectToldOf(id, { during: 'the final checkpoint', lostAfterStep: 0, from: 'the base branch' });
      expect(lastNote(script.requests[3]!)).toContain('You had called finish, but the work you finished with is not in the workspace any more');
      expect(task.test.passed).toBe(true);
      expect(pr.body).toContain('sum adds now (redone after the sandbox was lost)');
      expect(git(origin, 'show', `errand/${id}:sum.js`)).toContain('a + b');
    });

    it('during the tests runs them again on the restored work; nothing is lost', async () => {
      const origin = makeOriginRepo({ ...BUGGY_SUM, '.gitignore': 'tests-started\n' });
      h.model().script('[lost-tests]', [FIX_SUM, FINISH]);
      const id = await createTask(h.errand(), { repo: origin, prompt: '[lost-tests] Fix sum.', testCommand: 'touch tests-started; sleep 2; npm test' });
      await h.loseWhenMarked(id, 'tests-started');
      const { task } = await expectToldOf(id, { during: 'tests', from: 'the checkpoint taken after step 2' });
      expect(task.test.passed).toBe(true);
      expect(git(origin, 'show', `errand/${id}:sum.js`)).toContain('a + b');
    });

    it('during the review publishes from the restored branch; nothing is lost', async () => {
      const origin = makeOriginRepo(BUGGY_SUM);
      const reviewing = gate();
      h.model().script('[lost-review]', [FIX_SUM, FINISH]);
      const reviews = h.model().reviews('[lost-review]', [{ kind: 'later', after: reviewing.promise, reply: approve('Correct.') }]);
      const id = await createTask(h.errand(), { repo: origin, prompt: '[lost-review] Fix sum.' });
      await eventually(async () => (reviews.requests.length >= 1 ? true : undefined), 60_000, 'the review call');
      await h.lose(id);
      reviewing.open();
      const { task } = await expectToldOf(id, { during: 'publishing', from: 'the checkpoint taken after step 2' });
      expect(task.pr.draft).toBe(false); // approved, complete
      expect(git(origin, 'show', `errand/${id}:sum.js`)).toContain('a + b');
    });

    it('while the branch is being pushed for the PR leaves the published work whole', async () => {
      const origin = makeOriginRepo(BUGGY_SUM);
      // The origin holds the final push (not the checkpoints) until the test lets it through.
      const hold = path.join(path.dirname(origin), 'hold');
      writeFileSync(
        path.join(origin, 'hooks', 'pre-receive'),
        `#!/bin/bash\nwhile read old new ref; do\n  case "$(git log -1 --format=%s "$new")" in errand:*) ;; *) touch ${hold}.started; while [ ! -e ${hold}.go ]; do sleep 0.1; done ;; esac\ndone\n`,
      );
      chmodSync(path.join(origin, 'hooks', 'pre-receive'), 0o755);
      h.model().script('[lost-push]', [FIX_SUM, FINISH]);
      const id = await createTask(h.errand(), { repo: origin, prompt: '[lost-push] Fix sum.' });
      await eventually(async () => (existsSync(`${hold}.started`) ? true : undefined), 60_000, 'the final push');
      await h.lose(id);
      writeFileSync(`${hold}.go`, '');
      const task = await waitForStatus(h.errand(), id, 'completed');
      expect(task.pr.draft).toBe(false);
      expect(git(origin, 'show', `errand/${id}:sum.js`)).toContain('a + b');
      expect(git(origin, 'rev-list', '--count', `main..errand/${id}`).trim()).toBe('1'); // the squashed commit, published
    });

    it('during a round of feedback after waiting for it, redoes the round in a replacement', async () => {
      const origin = makeOriginRepo({ ...BUGGY_SUM, '.gitignore': 'round-started\n' });
      const script = h.model().script('[lost-round]', [
        FIX_SUM,
        FINISH,
        (req) => (lastNote(req).includes('add a README') ? call('shell', { command: 'touch round-started; sleep 5' }) : FINISH),
        (req) => (told(req) ? call('write_file', { path: 'README.md', content: '# sum\n' }) : call('shell', { command: 'echo not told' })),
        call('finish', { summary: 'added a README' }),
      ]);
      const errand = h.errand();
      const id = await createTask(errand, { repo: origin, prompt: '[lost-round] Fix sum.', awaitFeedbackMinutes: 0.15 });
      await eventually(async () => ((await api(errand.url, 'GET', `/tasks/${id}`)).body.phase === 'awaiting_feedback' ? true : undefined), 60_000, 'the wait for feedback');
      expect((await api(errand.url, 'POST', `/tasks/${id}/messages`, { text: 'please add a README' })).status).toBe(202);
      expect(await h.loseWhenMarked(id, 'round-started')).toBe(`${id}-f1`);
      const task = await waitForStatus(errand, id, 'completed');
      expect(task.losses).toEqual([expect.objectContaining({ sandboxId: `${id}-f1`, during: 'step 3: shell', lostAfterStep: 2 })]);
      expect(lastNote(script.requests[3]!)).toContain('restored from the checkpoint taken after step 2');
      expect(git(origin, 'show', `errand/${id}:README.md`)).toBe('# sum\n');
      expect(git(origin, 'show', `errand/${id}:sum.js`)).toContain('a + b');
    });
  });
}
