// Several attempts at one task, on the real Temporal server with Errand as a real process: three
// attempts where one breaks the tests, one passes with a large change and one with a small one;
// the small one is chosen, with every reason in the task's events, and only its PR opens; the
// others' diffs stay readable and a person can promote one. Messages, pause and cancel reach
// every attempt; the 400s.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { call, FINISH, FIX_SUM, type ChatRequest, type Reply } from '../fixtures/model-server.js';
import { BUGGY_SUM, git, makeOriginRepo } from '../fixtures/repos.js';
import { api, eventually } from '../support/errand-process.js';
import { readEvents } from '../support/sse.js';
import { useErrand, useTemporal } from '../support/use.js';

const t = useErrand({ ERRAND_MAX_ATTEMPTS: '3' });
const temporal = useTemporal();

/** Which attempt a coder's request is, from its system prompt. */
const attemptOf = (req: ChatRequest) => Number(/You are attempt (\d+) of/.exec(req.messages[0]?.content ?? '')?.[1]);

/** Fifty lines nobody asked for: what makes attempt 2's change the large one. */
const NOTES = Array.from({ length: 50 }, (_, i) => `- note ${i + 1} about sum`).join('\n');

async function task(id: string) {
  return (await api(t.errand.url, 'GET', `/tasks/${id}`)).body;
}

async function ended(id: string, status = 'completed', timeoutMs = 240_000) {
  return eventually(async () => {
    const view = await task(id);
    return view.status === status ? view : undefined;
  }, timeoutMs, `task ${id} to be ${status}`);
}

/** The PRs the local forge holds, by head branch. */
function pullRequests(): { number: number; head: string; body: string; title: string }[] {
  const dir = path.join(t.errand.stateDir, 'forge', 'pulls');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(path.join(dir, f), 'utf8')));
}

describe('a task with several attempts', () => {
  it('keeps the attempt whose tests pass, that the review agent prefers, with the smaller change, and opens only its PR', async () => {
    const origin = makeOriginRepo(BUGGY_SUM);
    const firstStep = (req: ChatRequest): Reply => {
      switch (attemptOf(req)) {
        case 1:
          return call('write_file', { path: 'sum.js', content: 'exports.sum = (a, b) => a * b;\n' }); // still wrong: 2 * 3 is not 5
        case 2:
          return { kind: 'tools', calls: [{ name: 'write_file', args: { path: 'sum.js', content: 'exports.sum = (a, b) => a + b;\n' } }, { name: 'write_file', args: { path: 'NOTES.md', content: `${NOTES}\n` } }] };
        default:
          return FIX_SUM;
      }
    };
    t.model.script('[attempts-three]', [firstStep, FINISH], { indexBy: 'turn' });
    const comparisons: ChatRequest[] = [];
    const reviewer = (req: ChatRequest): Reply => {
      if (!JSON.stringify(req.tools ?? []).includes('submit_comparison')) return call('submit_review', { verdict: 'approve', summary: 'Does what it says.', comments: [] });
      comparisons.push(req);
      return call('submit_comparison', { preferred: 3, reasons: 'Attempt 3 fixes sum.js and nothing else; attempt 2 adds NOTES.md, which the task did not ask for.' });
    };
    t.model.reviews('[attempts-three]', Array.from({ length: 10 }, () => reviewer));

    const res = await api(t.errand.url, 'POST', '/tasks', { repo: origin, prompt: '[attempts-three] Fix sum so that it adds.', attempts: 3, attemptBudgets: 'shared', maxSteps: 9 });
    expect(res.status).toBe(201);
    const id = res.body.id as string;
    expect(res.body.attempts.map((a: { taskId: string; branch: string }) => [a.taskId, a.branch])).toEqual([1, 2, 3].map((n) => [`${id}-a${n}`, `errand/${id}-a${n}`]));

    const done = await ended(id);
    // The rules, in the order they applied.
    expect(done.choice.n).toBe(3);
    expect(done.choice.reasons).toEqual([
      "attempt 1 is out: its tests failed (`npm test`) and another's passed",
      'the review agent prefers attempt 3 of 2, 3: Attempt 3 fixes sum.js and nothing else; attempt 2 adds NOTES.md, which the task did not ask for.',
    ]);
    expect(done.attempts.map((a: { status: string; test: { passed: boolean } }) => [a.status, a.test.passed])).toEqual([
      ['finished', false],
      ['finished', true],
      ['finished', true],
    ]);
    expect(done.attempts[1].size.lines).toBeGreaterThan(done.attempts[2].size.lines);
    expect(done.attempts[2].size).toEqual({ files: 1, lines: 2 });
    // Only attempts 2 and 3 were compared: attempt 1 was already out.
    expect(comparisons).toHaveLength(1);
    expect(comparisons[0]!.messages[1]!.content).toContain('## Attempt 2');
    expect(comparisons[0]!.messages[1]!.content).not.toContain('## Attempt 1');

    // Each attempt had its share of the budget, its own branch, and no PR of its own.
    expect((await task(`${id}-a1`)).budget.maxSteps).toBe(3);
    for (const n of [1, 2, 3]) expect(git(origin, 'rev-parse', '--verify', `refs/heads/errand/${id}-a${n}`)).toMatch(/^[0-9a-f]{40}/);
    const prs = pullRequests().filter((p) => p.head.startsWith(`errand/${id}-`));
    expect(prs.map((p) => p.head)).toEqual([`errand/${id}-a3`]);
    expect(done.pr).toMatchObject({ number: prs[0]!.number, head: `errand/${id}-a3` });
    expect(prs[0]!.body).toContain('## Attempts');
    expect(prs[0]!.body).toContain('- the review agent prefers attempt 3');
    expect(prs[0]!.body).toContain(`- attempt 1: [\`${id}-a1\`]`);

    // The reasons are the task's events; the chosen change is the task's diff.
    const events = (await readEvents(`${t.errand.url}/tasks/${id}/events`)).messages;
    const chosen = events.find((e) => e.event === 'attempt_chosen')!.data;
    expect(chosen).toMatchObject({ attempt: 3, taskOfAttempt: `${id}-a3`, reasons: done.choice.reasons, comparison: { preferred: 3 } });
    const diff = await fetch(`${t.errand.url}/tasks/${id}/diff`).then((r) => r.text());
    expect(diff).toContain('+exports.sum = (a, b) => a + b;');
    expect(diff).not.toContain('NOTES.md');

    // The others' diffs stay readable, and a person can open a PR for one instead.
    const other = await fetch(`${t.errand.url}/tasks/${id}/attempts/2/diff`);
    expect(other.status).toBe(200);
    expect(await other.text()).toContain('+- note 50 about sum');
    const promoted = await api(t.errand.url, 'POST', `/tasks/${id}/attempts/2/promote`, { by: 'reviewer-ana' });
    expect(promoted.status).toBe(201);
    expect(promoted.body.pr).toMatchObject({ head: `errand/${id}-a2` });
    const again = await api(t.errand.url, 'POST', `/tasks/${id}/attempts/2/promote`, {});
    expect(again.body.pr.number).toBe(promoted.body.pr.number);
    const body = pullRequests().find((p) => p.number === promoted.body.pr.number)!.body;
    expect(body).toContain(`Attempt 2 of task \`${id}\` was not the one Errand chose; reviewer-ana opened this PR from it.`);
    expect((await task(id)).attempts[1].promotedPr).toMatchObject({ number: promoted.body.pr.number });

    const chosenAgain = await api(t.errand.url, 'POST', `/tasks/${id}/attempts/3/promote`, {});
    expect(chosenAgain.status).toBe(409);
    expect(chosenAgain.body.detail).toContain(`attempt 3 is the one Errand chose: its PR is #${done.pr.number}`);
    expect((await api(t.errand.url, 'POST', `/tasks/${id}/attempts/4/promote`, {})).status).toBe(404);
    expect((await fetch(`${t.errand.url}/tasks/${id}/attempts/0/diff`)).status).toBe(400);
    const audit = (await api(t.errand.url, 'GET', '/audit?limit=20')).body.entries;
    expect(audit).toContainEqual(expect.objectContaining({ action: 'task.promote', taskId: id }));
  });

  it('passes messages, pause and cancel to every attempt, and names who cancelled', async () => {
    const origin = makeOriginRepo(BUGGY_SUM);
    const script = t.model.script('[attempts-steer]', [{ kind: 'hang' }], { indexBy: 'turn' });
    const res = await api(t.errand.url, 'POST', '/tasks', { repo: origin, prompt: '[attempts-steer] Fix sum.', attempts: 2 });
    expect(res.status).toBe(201);
    const id = res.body.id as string;
    // Both on the model: each attempt's first call hangs.
    await eventually(async () => (new Set(script.requests.map(attemptOf)).size === 2 ? true : undefined), 90_000, 'both attempts to call the model');

    const message = await api(t.errand.url, 'POST', `/tasks/${id}/messages`, { text: 'Keep it to sum.js.', from: 'ana' });
    expect(message.status).toBe(202);
    expect(message.body).toMatchObject({ seq: 1, attempts: [1, 2] });
    for (const n of [1, 2]) {
      await eventually(async () => ((await task(`${id}-a${n}`)).messages.accepted === 1 ? true : undefined), 10_000, `attempt ${n} to take the message`);
    }

    expect((await api(t.errand.url, 'POST', `/tasks/${id}/pause`, { by: 'ops' })).status).toBe(202);
    for (const n of [1, 2]) {
      await eventually(async () => ((await task(`${id}-a${n}`)).paused?.by === 'ops' ? true : undefined), 10_000, `attempt ${n} to pause`);
    }
    expect((await task(id)).paused).toMatchObject({ by: 'ops' });
    expect((await api(t.errand.url, 'POST', `/tasks/${id}/resume`, {})).status).toBe(202);
    for (const n of [1, 2]) {
      await eventually(async () => ((await task(`${id}-a${n}`)).paused === undefined ? true : undefined), 10_000, `attempt ${n} to resume`);
    }

    expect((await api(t.errand.url, 'POST', `/tasks/${id}/cancel`, { by: 'ops' })).status).toBe(202);
    const cancelled = await ended(id, 'cancelled', 60_000);
    expect(cancelled.attempts.map((a: { status: string }) => a.status)).toEqual(['cancelled', 'cancelled']);
    for (const n of [1, 2]) {
      expect((await temporal.client.workflow.getHandle(`task-${id}-a${n}`).describe()).status.name).toBe('CANCELLED');
      expect((await task(`${id}-a${n}`)).cancelledBy).toBe(`ops (task ${id})`);
    }
  });

  it('refuses attempts it cannot run, saying what to change', async () => {
    const origin = makeOriginRepo(BUGGY_SUM);
    const refused = async (body: Record<string, unknown>) => {
      const res = await api(t.errand.url, 'POST', '/tasks', { repo: origin, prompt: 'Fix sum.', ...body });
      expect(res.status).toBe(400);
      return res.body.issues as { field: string; message: string }[];
    };
    expect(await refused({ attempts: 4 })).toEqual([{ field: 'attempts', message: 'at most 3 on this server (ERRAND_MAX_ATTEMPTS)' }]);
    expect(await refused({ attempts: 0 })).toEqual([{ field: 'attempts', message: 'at least 1' }]);
    expect(await refused({ attemptBudgets: 'shared' })).toEqual([{ field: 'attemptBudgets', message: 'goes with attempts of 2 or more' }]);
    expect(await refused({ attempts: 2, attemptBudgets: 'half' })).toEqual([{ field: 'attemptBudgets', message: expect.stringContaining('must be one of each, shared') }]);
    expect(await refused({ attempts: 2, requirePlanApproval: true })).toEqual([{ field: 'requirePlanApproval', message: expect.stringContaining('cannot wait for a plan approval') }]);
    // A task with one attempt has none to read.
    const single = await api(t.errand.url, 'POST', '/tasks', { repo: origin, prompt: '[attempts-none] Fix sum.' });
    t.model.script('[attempts-none]', [{ kind: 'hang' }]);
    const diff = await api(t.errand.url, 'GET', `/tasks/${single.body.id}/attempts/1/diff`);
    expect(diff.status).toBe(404);
    expect(diff.body.detail).toContain('has no attempts');
    await api(t.errand.url, 'POST', `/tasks/${single.body.id}/cancel`, {});
  });
});
