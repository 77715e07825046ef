// Schedules through the API, on the real Temporal server: a playbook for a repository on a cron
// or an interval, triggered now to open its PR, listed with next runs and last results,
// changed, paused and unpaused with a note, deleted; refused with a 400 that names the field
// when a cron, time zone, playbook or parameter is wrong; paused by itself after failing runs
// in a row; and the sandbox reaper listed beside them but never changed or deleted.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { FIX_SUM, FINISH } from '../fixtures/model-server.js';
import { BUGGY_SUM, git, makeOriginRepo } from '../fixtures/repos.js';
import { api, eventually, startErrand } from '../support/errand-process.js';
import { waitForStatus } from '../support/tasks.js';
import { useErrand, useTemporal } from '../support/use.js';

const t = useErrand();
const temporal = useTemporal();

const PLAYBOOK = (marker: string) => `---
name: fix-sum
title: "${marker} Make sum add"
outcome: sum({{a}}, {{b}}) is {{a}} + {{b}}.
params:
  a: { type: number, default: 2 }
  b: { type: number }
---
Fix sum.js.
`;
const uniqueId = (what: string) => `${what}-${randomBytes(3).toString('hex')}`;
const repoWithPlaybook = (marker: string) => makeOriginRepo({ ...BUGGY_SUM, '.errand/playbooks/fix-sum.md': PLAYBOOK(marker) });
const schedules = (method: string, route = '', body?: unknown) => api(t.errand.url, method, `/schedules${route}`, body);

/** The schedule once its newest run has ended (and `runs` have been taken). */
const runEnded = (id: string, runs: number) =>
  eventually(
    async () => {
      const { body } = await schedules('GET', `/${id}`);
      return body.recentRuns.length >= runs && body.recentRuns[0].status !== 'running' ? body : undefined;
    },
    120_000,
    `run ${runs} of schedule ${id} to end`,
  );

describe('schedules', () => {
  it('refuses what cannot be scheduled with a 400 that says what is wrong', async () => {
    const origin = repoWithPlaybook('[sched-bad]');
    const base = { repo: origin, playbook: 'fix-sum', params: { b: 3 }, cron: '0 6 * * MON' };
    const cases: [Record<string, unknown>, string][] = [
      [{ cron: '61 * * * *' }, 'cron: Temporal cannot read it: Minute is not in range [0-59]'],
      [{ cron: 'every monday' }, 'cron: Temporal cannot read it: CronString does not have 5-7 fields'],
      [{ timezone: 'Mars/Olympus' }, 'timezone: must be an IANA time zone, e.g. UTC or Europe/Paris'],
      [{ interval: '1 day' }, 'interval: give cron or interval, not both'],
      [{ cron: undefined }, 'cron: required: a cron ("0 6 * * MON") or an interval ("1 day")'],
      [{ cron: undefined, interval: 'fortnightly' }, 'interval: interval must be a duration such as "30 minutes", "12h" or "7 days"'],
      [{ playbook: 'nope' }, 'playbook: no playbook nope for this repository'],
      [{ params: { b: 'three' } }, 'params.b: must be a number'],
      [{ params: {} }, 'params.b: required'],
      [{ id: 'sandbox-reaper' }, "id: sandbox-reaper is Errand's own schedule; choose another id"],
      [{ maxFailures: 11 }, 'maxFailures: at most 10 (Temporal keeps the last 10 runs)'],
    ];
    for (const [change, message] of cases) {
      const res = await schedules('POST', '', { ...base, ...change });
      expect({ change, status: res.status, message: res.body.detail }).toEqual({ change, status: 400, message: expect.stringContaining(message) });
    }
    expect((await schedules('GET', '/no-such-schedule')).status).toBe(404);
    expect((await schedules('GET', '/Not_An_Id')).status).toBe(400);
  });

  it('runs a playbook on a cron in a time zone: triggered now, it opens the PR and lists the result', async () => {
    const origin = repoWithPlaybook('[sched-run]');
    t.model.script('[sched-run]', [FIX_SUM, FINISH]);
    const id = uniqueId('weekly-sum');
    const created = await schedules('POST', '', { id, repo: origin, playbook: 'fix-sum', params: { b: 3 }, cron: '0 6 * * MON', timezone: 'Europe/Paris', jitter: '10 minutes', requester: 'Ada <ada@example.com>' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ id, repo: origin, playbook: 'fix-sum', params: { a: 2, b: 3 }, cron: '0 6 * * MON', timezone: 'Europe/Paris', jitter: '10 minutes', overlap: 'skip', catchupWindow: '1 hour', maxFailures: 3, paused: false, recentRuns: [] });
    // Mondays between 06:00 and 06:10 in Paris (05:00 or 04:00 UTC, with the jitter).
    expect(created.body.nextRuns.length).toBeGreaterThan(1);
    for (const at of created.body.nextRuns as string[]) {
      const paris = new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Paris', weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date(at));
      expect(paris).toMatch(/^Mon 06:(0\d|10)$/);
      expect(Date.parse(at)).toBeGreaterThan(Date.now());
    }

    expect(await schedules('POST', `/${id}/trigger`)).toMatchObject({ status: 202, body: { id, triggered: true } });
    const ran = await runEnded(id, 1);
    const [run] = ran.recentRuns;
    expect(run).toMatchObject({ status: 'completed', result: { outcome: 'pull_request', taskId: expect.stringMatching(new RegExp(`^${id}-[0-9a-f]{12}$`)) } });
    const task = await waitForStatus(t.errand, run.result.taskId, 'completed');
    expect(task.pr).toMatchObject({ number: run.result.pr.number, draft: false });
    // The run's task says which schedule started it.
    expect(task).toMatchObject({ kind: 'coding_task', parent: { kind: 'schedule', id } });
    const pr = JSON.parse(readFileSync(path.join(t.errand.stateDir, 'forge', 'pulls', `${task.pr.number}.json`), 'utf8'));
    expect(pr.title).toBe('[sched-run] Make sum add');
    expect(pr.body).toContain('## Playbook\n`fix-sum` version 1 (.errand/playbooks/fix-sum.md) with `a`=`2`, `b`=`3`.');
    expect(git(origin, 'log', '-1', '--format=%B', `errand/${task.id}`)).toContain('Co-authored-by: Ada <ada@example.com>');

    const listed = await schedules('GET');
    expect(listed.body.schedules.find((s: { id: string }) => s.id === id)).toMatchObject({ id, nextRuns: created.body.nextRuns, recentRuns: [expect.objectContaining({ status: 'completed' })] });
    expect((await schedules('DELETE', `/${id}`)).status).toBe(204);
  });

  it('changes, pauses and unpauses with a note, and deletes', async () => {
    const origin = repoWithPlaybook('[sched-manage]');
    const id = uniqueId('manage');
    await schedules('POST', '', { id, repo: origin, playbook: 'fix-sum', params: { b: 1 }, cron: '0 6 * * *', note: 'the nightly sum check the release team asked for' });

    const changed = await schedules('PATCH', `/${id}`, { interval: '12h', params: { b: 5 }, maxFailures: 5 });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({ interval: '12h', params: { a: 2, b: 5 }, maxFailures: 5 });
    expect(changed.body).not.toHaveProperty('cron');
    const gap = Date.parse(changed.body.nextRuns[1]) - Date.parse(changed.body.nextRuns[0]);
    expect(gap).toBe(12 * 3600_000);
    expect((await schedules('PATCH', `/${id}`, { params: { b: 'x' } })).body.detail).toBe('params.b: must be a number');

    // Temporal keeps 1,000 bytes of note (it refused the whole pause with a 500 before).
    const long = await schedules('POST', `/${id}/pause`, { note: '€'.repeat(334), by: 'alice' });
    expect(long).toMatchObject({ status: 400, body: { issues: [{ field: 'note', message: expect.stringContaining('1,000') }] } });
    // Paused: its note says why it is paused, its description still says why it exists, and no run is to come.
    const paused = (await schedules('POST', `/${id}/pause`, { note: 'release freeze', by: 'alice' })).body;
    expect(paused).toMatchObject({ paused: true, note: 'release freeze (by alice)', description: 'the nightly sum check the release team asked for', nextRuns: [] });
    expect((await schedules('GET')).body.schedules.find((s: { id: string }) => s.id === id)).toMatchObject({ nextRuns: [], description: 'the nightly sum check the release team asked for' });
    const unpaused = (await schedules('POST', `/${id}/unpause`, { by: 'bob' })).body;
    expect(unpaused).toMatchObject({ paused: false, note: 'unpaused through the API (by bob)', description: 'the nightly sum check the release team asked for' });
    expect(unpaused.nextRuns.length).toBeGreaterThan(0);
    expect((await schedules('DELETE', `/${id}`)).status).toBe(204);
    expect(await schedules('GET', `/${id}`)).toMatchObject({ status: 404, body: { detail: `no schedule ${id}; GET /schedules lists them` } });
    expect((await schedules('DELETE', `/${id}`)).status).toBe(404);
  });

  it('pauses itself after failing runs in a row, with the reason in its note', async () => {
    const origin = repoWithPlaybook('[sched-fail]');
    const id = uniqueId('failing');
    await schedules('POST', '', { id, repo: origin, playbook: 'fix-sum', params: { b: 3 }, interval: '7 days', maxFailures: 2 });
    // The playbook leaves the repository after the schedule was made: every run fails.
    const work = path.join(path.dirname(origin), 'work');
    git(work, 'rm', '-q', '.errand/playbooks/fix-sum.md');
    git(work, 'commit', '-q', '-m', 'drop the playbook');
    git(work, 'push', '-q', origin, 'main');

    await schedules('POST', `/${id}/trigger`);
    const once = await runEnded(id, 1);
    expect(once).toMatchObject({ paused: false, failuresInARow: 1, recentRuns: [{ status: 'failed', error: expect.stringContaining(`playbook fix-sum cannot run on ${origin}: playbook: no playbook fix-sum`) }] });
    await schedules('POST', `/${id}/trigger`);
    const twice = await runEnded(id, 2);
    expect(twice.paused).toBe(true);
    expect(twice.note).toMatch(/^paused by Errand after 2 failed runs in a row; the last: playbook fix-sum cannot run on/);
    await schedules('DELETE', `/${id}`);
  });

  it("lists Errand's own schedules beside the others, refuses to change or delete them, and follows their settings", async () => {
    const taskQueue = `reaper-${randomBytes(4).toString('hex')}`;
    const start = (env: Record<string, string>) => startErrand({ command: 'serve', taskQueue, env: { ERRAND_MODEL_BASE_URL: t.model.url, ERRAND_MODEL: 'fixture-coder', ...env } });
    const intervalOf = async (id: string) => {
      const d = await temporal.client.schedule.getHandle(`errand-${id}-${taskQueue}`).describe().catch(() => undefined);
      return d && Number(d.spec.intervals?.[0]?.every) / 60_000;
    };
    let withReaper = await start({ ERRAND_REAPER_INTERVAL_MINUTES: '5', ERRAND_ENVIRONMENT_REFRESH_MINUTES: '20' });
    try {
      const listed = await api(withReaper.url, 'GET', '/schedules');
      expect(listed.body.schedules).toEqual([
        expect.objectContaining({ id: 'environment-refresh', system: true, interval: '20 minutes', paused: false, description: expect.stringMatching(/^Errand's environment refresh: /) }),
        expect.objectContaining({ id: 'sandbox-reaper', system: true, interval: '5 minutes', paused: false }),
      ]);
      expect(await api(withReaper.url, 'DELETE', '/schedules/sandbox-reaper')).toMatchObject({ status: 409, body: { detail: expect.stringContaining('cannot be deleted') } });
      expect(await api(withReaper.url, 'DELETE', '/schedules/environment-refresh')).toMatchObject({ status: 409, body: { detail: expect.stringContaining('ERRAND_ENVIRONMENT_REFRESH_MINUTES (0 turns it off)') } });
      expect((await api(withReaper.url, 'PATCH', '/schedules/sandbox-reaper', { interval: '1h' })).status).toBe(409);
      expect((await api(withReaper.url, 'POST', '/schedules', { id: 'environment-refresh', repo: '/x', playbook: 'fix-sum', interval: '1h' })).body.detail).toContain("environment-refresh is Errand's own schedule");
      expect((await api(withReaper.url, 'POST', '/schedules/sandbox-reaper/pause', { note: 'maintenance' })).body).toMatchObject({ paused: true, note: 'maintenance' });
      // Another Errand's schedules (another task queue) are not this one's.
      expect((await schedules('GET')).body.schedules.map((s: { id: string }) => s.id)).not.toContain('sandbox-reaper');

      // Restarted with other settings: the interval follows, and 0 deletes the schedule.
      await withReaper.stop();
      withReaper = await start({ ERRAND_REAPER_INTERVAL_MINUTES: '7', ERRAND_ENVIRONMENT_REFRESH_MINUTES: '0' });
      expect(await intervalOf('sandbox-reaper')).toBe(7);
      expect(await intervalOf('environment-refresh')).toBeUndefined();
      expect((await api(withReaper.url, 'GET', '/schedules')).body.schedules.map((s: { id: string }) => s.id)).toEqual(['sandbox-reaper']);
    } finally {
      await withReaper.stop();
      for (const id of ['sandbox-reaper', 'environment-refresh']) await temporal.client.schedule.getHandle(`errand-${id}-${taskQueue}`).delete().catch(() => undefined);
    }
  });
});
