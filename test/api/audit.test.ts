// The audit trail of a server with API tokens, over real HTTP against a real Errand (API and
// worker) and Temporal server: every act on a task and a schedule a token makes is read back from
// GET /audit once, by actor and by task, with who made it, when and from where; a request the
// task refuses is no act. (The webhook's acts: test/workflow/github.test.ts.)
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { call, FINISH, FIX_SUM, gate } from '../fixtures/model-server.js';
import { BUGGY_SUM, makeOriginRepo } from '../fixtures/repos.js';
import { api, eventually, GiveUp, startErrand } from '../support/errand-process.js';
import { writeTokensFile } from '../support/tokens-file.js';
import { useErrand } from '../support/use.js';

/** Acts with every scope but admin; only the auditor may read the log. */
const { file: tokensFile, tokens: { operator, auditor } } = writeTokensFile({
  operator: { name: 'ops-bot', scopes: ['tasks:read', 'tasks:write', 'tasks:control', 'schedules:write'] },
  auditor: { name: 'auditor', scopes: ['admin'] },
});

const t = useErrand({ ERRAND_API_TOKENS_FILE: tokensFile });

const as = (token: string, method: string, route: string, body?: unknown) => api(t.errand.url, method, route, body, token);
const task = async (id: string) => (await as(operator, 'GET', `/tasks/${id}`)).body;
const untilTask = (id: string, what: string, ready: (s: Record<string, any>) => boolean) =>
  eventually(
    async () => {
      const s = await task(id);
      if (s.status !== 'running' && !ready(s)) throw new GiveUp(`task ended ${s.status}: ${JSON.stringify(s)}`);
      return ready(s) ? s : undefined;
    },
    60_000,
    `task ${id}: ${what}`,
  );

interface Entry {
  id: string;
  at: string;
  actor: string;
  via: string;
  action: string;
  taskId?: string;
  scheduleId?: string;
  from: string;
}
const audit = async (query: string) => {
  const res = await as(auditor, 'GET', `/audit?${query}`);
  expect(res.status).toBe(200);
  return res.body.entries as Entry[];
};

describe('GET /audit', () => {
  it("records each act a token makes on a task and a schedule once, with the token's name, the time and the caller's address", async () => {
    const repo = makeOriginRepo({
      ...BUGGY_SUM,
      '.errand/playbooks/fix-sum.md': '---\nname: fix-sum\ntitle: "[audit-sched] Make sum add"\noutcome: sum adds.\n---\nFix sum.js.\n',
    });
    const working = gate();
    const coder = t.model.script('[audit-task]', [
      call('submit_plan', { plan: 'Change - to + in sum.js.' }),
      call('submit_plan', { plan: 'Change - to + in sum.js, then run npm test.' }),
      // Approved, the agent works until the task is cancelled.
      { kind: 'later', after: working.promise, reply: FIX_SUM },
      FINISH,
    ]);
    t.model.script('[audit-sched]', [FIX_SUM, FINISH]);
    const scheduleId = `audit-${Date.now().toString(36)}`;
    const began = new Date().toISOString();
    /** What ops-bot did, in order: the log must hold exactly these. */
    const acts: { action: string; taskId?: string; scheduleId?: string }[] = [];
    const act = async (action: string, target: { taskId?: string; scheduleId?: string }, method: string, route: string, body: unknown, status: number) => {
      const res = await as(operator, method, route, body);
      expect({ action, status: res.status }).toEqual({ action, status });
      acts.push({ action, ...target });
      return res.body;
    };
    try {
      // On a task: started, steered, paused and resumed, approved, cancelled.
      const created = await as(operator, 'POST', '/tasks', { repo, prompt: '[audit-task] Fix sum.', requirePlanApproval: true });
      expect(created.status).toBe(201);
      const id = created.body.id as string;
      const on = { taskId: id };
      acts.push({ action: 'task.create', ...on });
      await untilTask(id, 'the first plan', (s) => s.phase === 'awaiting_approval');
      await act('task.message', on, 'POST', `/tasks/${id}/messages`, { text: 'mention the tests' }, 202);
      await untilTask(id, 'the revised plan', (s) => s.phase === 'awaiting_approval' && s.plan.includes('npm test'));
      await act('task.pause', on, 'POST', `/tasks/${id}/pause`, {}, 202);
      await untilTask(id, 'paused', (s) => Boolean(s.paused));
      await act('task.resume', on, 'POST', `/tasks/${id}/resume`, {}, 202);
      await untilTask(id, 'resumed', (s) => !s.paused);
      expect(await act('task.approve', on, 'POST', `/tasks/${id}/approve`, {}, 200)).toMatchObject({ approvedBy: 'ops-bot' });
      // Refused by the task itself (it is no longer awaiting approval): no act, nothing recorded.
      expect((await as(operator, 'POST', `/tasks/${id}/approve`, {})).status).toBe(409);
      await eventually(async () => (coder.requests.length === 3 ? true : undefined), 30_000, 'the agent to work');
      await act('task.cancel', on, 'POST', `/tasks/${id}/cancel`, {}, 202);
      await untilTask(id, 'cancelled', (s) => s.status === 'cancelled');

      // On a schedule: created, changed, paused, unpaused, run now (that run ends), deleted.
      const sched = { scheduleId };
      await act('schedule.create', sched, 'POST', '/schedules', { id: scheduleId, repo, playbook: 'fix-sum', cron: '0 6 * * MON' }, 201);
      await act('schedule.update', sched, 'PATCH', `/schedules/${scheduleId}`, { cron: '0 7 * * MON' }, 200);
      await act('schedule.pause', sched, 'POST', `/schedules/${scheduleId}/pause`, { note: 'audit test' }, 200);
      await act('schedule.unpause', sched, 'POST', `/schedules/${scheduleId}/unpause`, { note: 'audit test' }, 200);
      await act('schedule.trigger', sched, 'POST', `/schedules/${scheduleId}/trigger`, {}, 202);
      await eventually(
        async () => {
          const { body } = await as(operator, 'GET', `/schedules/${scheduleId}`);
          return body.recentRuns.length > 0 && body.recentRuns[0].status !== 'running' ? true : undefined;
        },
        90_000,
        'the run it triggered to end',
      );
      await act('schedule.delete', sched, 'DELETE', `/schedules/${scheduleId}`, undefined, 204);
      const ended = new Date().toISOString();

      // By actor: every act, once, newest first, each with who, when and from where.
      const mine = await audit('actor=ops-bot');
      expect(mine.map(({ action, taskId, scheduleId }) => ({ action, ...(taskId && { taskId }), ...(scheduleId && { scheduleId }) }))).toEqual([...acts].reverse());
      for (const e of mine) {
        expect({ action: e.action, actor: e.actor, via: e.via, from: e.from }).toEqual({ action: e.action, actor: 'ops-bot', via: 'token', from: expect.stringMatching(/127\.0\.0\.1/) });
        expect({ action: e.action, inRun: e.at >= began && e.at <= ended }).toEqual({ action: e.action, inRun: true });
      }
      expect(new Set(mine.map((e) => e.id)).size).toBe(mine.length);
      // By task: that task's acts alone (the schedule's run was no act of anyone's).
      expect((await audit(`task=${id}`)).map((e) => e.action)).toEqual(['task.cancel', 'task.approve', 'task.resume', 'task.pause', 'task.message', 'task.create']);
      // The auditor only read: it did nothing.
      expect(await audit('actor=auditor')).toEqual([]);
    } finally {
      working.open();
      await as(operator, 'DELETE', `/schedules/${scheduleId}`);
    }
  });
});

describe('an audit trail kept before it moved into storage', () => {
  it('is moved in once, by the first API to start, and read back with the rest', async () => {
    // As earlier versions kept it: a file per day and API process under the state directory.
    const stateDir = mkdtempSync(path.join(os.tmpdir(), 'errand-state-'));
    mkdirSync(path.join(stateDir, 'audit'));
    const old = { id: '7d0f3c1e-0000-4000-8000-000000000001', at: '2026-11-30T09:00:00.000Z', actor: 'ops-bot', via: 'token', action: 'task.cancel', taskId: 'abc123abc123', from: '127.0.0.1' };
    writeFileSync(path.join(stateDir, 'audit', '2026-11-30.host.4242.jsonl'), `${JSON.stringify(old)}\n`);
    const env = { ERRAND_API_TOKENS_FILE: tokensFile, ERRAND_MODEL_BASE_URL: t.model.url, ERRAND_MODEL: 'fixture' };
    for (let replica = 0; replica < 2; replica++) {
      const errand = await startErrand({ command: 'api', stateDir, env });
      try {
        const { body } = await api(errand.url, 'GET', '/audit?since=2026-11-29T00:00:00Z&task=abc123abc123', undefined, auditor);
        expect(body.entries).toEqual([old]);
      } finally {
        await errand.stop();
      }
    }
    expect(readdirSync(stateDir)).toContain('audit.moved');
    expect(existsSync(path.join(stateDir, 'audit'))).toBe(false);
  });
});
