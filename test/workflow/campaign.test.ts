// Campaigns on the real Temporal server, with Errand as a real process and local repositories:
// one request, a task per repository, at most `concurrency` at once, a row for each; a PR that
// links the campaign and its siblings; a repository whose tests still fail; pausing and
// resuming; cancelling while tasks are queued; a failure policy that stops it; and the 400s.
import { mkdirSync, mkdtempSync, readFileSync, realpathSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { FINISH, FIX_SUM } from '../fixtures/model-server.js';
import { BUGGY_SUM, git, makeOriginRepo } from '../fixtures/repos.js';
import { api, eventually } from '../support/errand-process.js';
import { useErrand, useTemporal } from '../support/use.js';

const t = useErrand({ ERRAND_CAMPAIGN_MAX_REPOS: '6', ERRAND_CAMPAIGN_MAX_CONCURRENCY: '3' });
const temporal = useTemporal();

/** A test that no fix of sum.js makes pass. */
const STILL_BROKEN = { ...BUGGY_SUM, 'stuck.test.js': "require('node:test')('still broken', () => { throw new Error('nothing fixes this'); });\n" };

async function start(body: Record<string, unknown>) {
  const res = await api(t.errand.url, 'POST', '/campaigns', body);
  expect(res.status).toBe(201);
  return res.body as { id: string; rows: { taskId: string; repo: string; status: string }[] };
}

async function campaign(id: string) {
  return (await api(t.errand.url, 'GET', `/campaigns/${id}`)).body;
}

async function ended(id: string, status = 'completed', timeoutMs = 180_000) {
  return eventually(async () => {
    const c = await campaign(id);
    return c.status === status ? c : undefined;
  }, timeoutMs, `campaign ${id} to be ${status}`);
}

/** One sample of a Prometheus scrape (`name` or `name{labels}` as written), 0 when absent. */
const value = (scrape: string, sample: string) => Number(scrape.split('\n').find((l) => l.startsWith(`${sample} `))?.split(' ')[1] ?? 0);

/** Whether the task's workflow was ever started. */
async function started(taskId: string): Promise<boolean> {
  return temporal.client.workflow
    .getHandle(`task-${taskId}`)
    .describe()
    .then(
      () => true,
      () => false,
    );
}

describe('a campaign', () => {
  it('runs a task per repository, at most `concurrency` at once, and keeps a row for each with its PR', async () => {
    const repos = [makeOriginRepo(BUGGY_SUM), makeOriginRepo(BUGGY_SUM), makeOriginRepo(STILL_BROKEN), makeOriginRepo(BUGGY_SUM), makeOriginRepo(BUGGY_SUM)];
    const workerMetrics = /"url":"([^"]+\/metrics)"/.exec(t.errand.output())![1]!;
    const metricsBefore = await (await fetch(workerMetrics)).text();
    t.model.script('[campaign-five]', [FIX_SUM, FINISH], { indexBy: 'turn' });
    const made = await start({ repos, prompt: '[campaign-five] Fix sum.', concurrency: 2, requester: 'fleet-bot' });
    expect(made.rows.map((r) => r.repo)).toEqual(repos);
    expect(made.rows.map((r) => r.taskId)).toEqual([1, 2, 3, 4, 5].map((n) => `${made.id}-${n}`));

    const done = await ended(made.id);
    expect(done).toMatchObject({ phase: 'completed', requester: 'fleet-bot', counts: { pull_request: 5 }, summary: '5 repositories: 5 with a pull request' });
    for (const [i, row] of done.rows.entries()) {
      expect(row).toMatchObject({ repo: repos[i], status: 'pull_request', testsPassed: i !== 2, pr: { number: expect.any(Number) }, links: { task: `/tasks/${made.id}-${i + 1}` } });
    }

    // Never more than two at once: each task's run, from its start to its end, as Temporal has it.
    const spans = await Promise.all(done.rows.map(async (r: { taskId: string }) => temporal.client.workflow.getHandle(`task-${r.taskId}`).describe()));
    const runningAt = (t: Date) => spans.filter((s) => s.startTime <= t && t < s.closeTime!).length;
    expect(Math.max(...spans.map((s) => runningAt(s.startTime)))).toBe(2);

    // Each PR names the campaign and links its siblings' tasks.
    const pr = JSON.parse(readFileSync(path.join(t.errand.stateDir, 'forge', 'pulls', `${done.rows[0].pr.number}.json`), 'utf8'));
    expect(pr.body).toContain(`One of 5 repositories in campaign [\`${made.id}\`](${t.errand.url}/campaigns/${made.id})`);
    expect(pr.body).toContain(`- \`${repos[4]}\`: [\`${made.id}-5\`](${t.errand.url}/tasks/${made.id}-5)`);
    expect(pr.body).not.toContain(`- ${repos[0]}:`);

    const metricsAfter = await (await fetch(workerMetrics)).text();
    const moved = (sample: string) => value(metricsAfter, sample) - value(metricsBefore, sample);
    expect([moved('errand_campaigns_started_total'), moved('errand_campaign_repositories_total'), moved('errand_campaigns_ended_total{phase="completed"}')]).toEqual([1, 5, 1]);

    const listed = (await api(t.errand.url, 'GET', '/campaigns?requester=fleet-bot')).body.campaigns;
    expect(listed).toContainEqual(expect.objectContaining({ id: made.id, status: 'completed' }));
    const audit = (await api(t.errand.url, 'GET', '/audit?limit=20')).body.entries;
    expect(audit).toContainEqual(expect.objectContaining({ action: 'campaign.create', actor: 'fleet-bot', campaignId: made.id }));
  });

  it('takes its repositories from a pattern the forge lists, and says which PRs were merged', async () => {
    const dir = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'errand-campaign-pattern-')));
    for (const name of ['billing.git', 'shop.git']) git(dir, 'clone', '-q', '--bare', makeOriginRepo(BUGGY_SUM), path.join(dir, name));
    mkdirSync(path.join(dir, 'docs.git')); // no repository: not listed
    t.model.script('[campaign-pattern]', [FIX_SUM, FINISH], { indexBy: 'turn' });
    const made = await start({ reposMatching: `${dir}/*.git`, prompt: '[campaign-pattern] Fix sum.' });
    expect(made.rows.map((r) => r.repo)).toEqual([path.join(dir, 'billing.git'), path.join(dir, 'shop.git')]);
    const done = await ended(made.id);
    expect(done.rows.map((r: { prState: string }) => r.prState)).toEqual(['open', 'open']);
    // Someone merges shop's PR: its branch goes into main.
    const shop = done.rows[1];
    git(shop.repo, 'update-ref', 'refs/heads/main', `refs/heads/${shop.pr.head}`);
    // An open PR's state is read again after a few seconds (the page polls): merged is kept.
    const after = await eventually(async () => {
      const c = await campaign(made.id);
      return c.rows[1].prState === 'merged' ? c : undefined;
    }, 20_000, "shop's PR to read as merged");
    expect(after.rows.map((r: { prState: string }) => r.prState)).toEqual(['open', 'merged']);
    expect(after.counts).toMatchObject({ pull_request: 2, merged: 1 });

    const refused = async (body: Record<string, unknown>) => (await api(t.errand.url, 'POST', '/campaigns', { prompt: 'x', ...body })).body.issues;
    expect(await refused({ reposMatching: `${dir}/*.svn` })).toEqual([{ field: 'reposMatching', message: 'matches no repository Errand can reach on the local forge' }]);
    expect(await refused({ reposMatching: 'billing*' })).toEqual([{ field: 'reposMatching', message: expect.stringContaining('give an absolute path with a wildcard') }]);
    expect(await refused({ reposMatching: `${dir}/*.git`, repos: [shop.repo] })).toEqual([{ field: 'reposMatching', message: 'give repos or reposMatching, not both' }]);
    expect(await refused({})).toEqual([{ field: 'repos', message: expect.stringContaining('required: the repositories (repos), or a pattern') }]);
  });

  it('stops starting tasks while paused, and goes on when resumed', async () => {
    const repos = [makeOriginRepo(BUGGY_SUM), makeOriginRepo(BUGGY_SUM)];
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    t.model.script('[campaign-pause]', [{ kind: 'later', after: held, reply: FIX_SUM }, FINISH], { indexBy: 'turn' });
    const made = await start({ repos, prompt: '[campaign-pause] Fix sum.', concurrency: 1 });
    await eventually(async () => ((await campaign(made.id)).rows[0].status === 'running' ? true : undefined), 60_000, 'the first task to run');
    expect((await api(t.errand.url, 'POST', `/campaigns/${made.id}/pause`, { by: 'ops' })).status).toBe(202);
    await eventually(async () => ((await campaign(made.id)).phase === 'paused' ? true : undefined), 10_000, 'the campaign to pause');
    release();
    // The running task finishes; the next one is not started while the campaign is paused.
    await eventually(async () => ((await campaign(made.id)).rows[0].status === 'pull_request' ? true : undefined), 120_000, 'the first task to finish');
    await new Promise((r) => setTimeout(r, 1_500));
    const paused = await campaign(made.id);
    expect(paused).toMatchObject({ phase: 'paused', paused: { by: 'ops' } });
    expect(paused.rows[1].status).toBe('queued');
    expect(await started(made.rows[1]!.taskId)).toBe(false);

    expect((await api(t.errand.url, 'POST', `/campaigns/${made.id}/resume`, {})).status).toBe(202);
    const done = await ended(made.id);
    expect(done.rows.map((r: { status: string }) => r.status)).toEqual(['pull_request', 'pull_request']);
  });

  it('cancelled while tasks are queued: the running one is cancelled, the queued ones never start', async () => {
    const repos = [makeOriginRepo(BUGGY_SUM), makeOriginRepo(BUGGY_SUM), makeOriginRepo(BUGGY_SUM)];
    t.model.script('[campaign-cancel]', [{ kind: 'hang' }], { indexBy: 'turn' });
    const made = await start({ repos, prompt: '[campaign-cancel] Fix sum.', concurrency: 1 });
    await eventually(async () => ((await campaign(made.id)).rows[0].status === 'running' ? true : undefined), 60_000, 'the first task to run');
    expect((await api(t.errand.url, 'POST', `/campaigns/${made.id}/cancel`, { by: 'ops' })).status).toBe(202);
    const done = await ended(made.id, 'cancelled');
    expect(done.rows.map((r: { status: string }) => r.status)).toEqual(['cancelled', 'cancelled', 'cancelled']);
    expect((await temporal.client.workflow.getHandle(`task-${made.rows[0]!.taskId}`).describe()).status.name).toBe('CANCELLED');
    expect((await api(t.errand.url, 'GET', `/tasks/${made.rows[0]!.taskId}`)).body.cancelledBy).toBe(`ops (campaign ${made.id})`);
    expect(await started(made.rows[1]!.taskId)).toBe(false);
    expect(await started(made.rows[2]!.taskId)).toBe(false);
    expect((await api(t.errand.url, 'POST', `/campaigns/${made.id}/cancel`, {})).status).toBe(409);
  });

  it('starts no more tasks once `stopAfterFailures` have failed, and says why', async () => {
    const failing = makeOriginRepo({ ...BUGGY_SUM, '.errand/setup.sh': 'echo "the setup cannot run here" >&2; exit 3\n' });
    const repos = [failing, makeOriginRepo(BUGGY_SUM), makeOriginRepo(BUGGY_SUM)];
    t.model.script('[campaign-stop]', [FIX_SUM, FINISH], { indexBy: 'turn' });
    const made = await start({ repos, prompt: '[campaign-stop] Fix sum.', concurrency: 1, stopAfterFailures: 1 });
    const done = await ended(made.id);
    expect(done).toMatchObject({ phase: 'stopped', failures: 1, stoppedBecause: '1 task failed (stopAfterFailures: 1); no more were started' });
    expect(done.rows[0]).toMatchObject({ status: 'failed', error: expect.stringContaining('setup') });
    expect(done.rows.slice(1).map((r: { status: string }) => r.status)).toEqual(['skipped', 'skipped']);
    expect(await started(made.rows[1]!.taskId)).toBe(false);
  });

  it('refuses what it cannot run, naming each repository and limit, before anything starts', async () => {
    const good = makeOriginRepo(BUGGY_SUM);
    const refused = async (body: Record<string, unknown>) => {
      const res = await api(t.errand.url, 'POST', '/campaigns', body);
      expect(res.status).toBe(400);
      return res.body.issues as { field: string; message: string }[];
    };
    expect(await refused({ repos: [good, '/no/such/repo'], prompt: 'x' })).toEqual([{ field: 'repos.1', message: expect.stringContaining('/no/such/repo') }]);
    expect(await refused({ repos: [good, good], prompt: 'x' })).toEqual([{ field: 'repos.1', message: expect.stringContaining('named twice') }]);
    expect(await refused({ repos: [good], prompt: 'x', concurrency: 4 })).toEqual([{ field: 'concurrency', message: expect.stringContaining('ERRAND_CAMPAIGN_MAX_CONCURRENCY') }]);
    expect(await refused({ repos: Array.from({ length: 7 }, (_, i) => `${good}-${i}`), prompt: 'x' })).toEqual([{ field: 'repos', message: expect.stringContaining('ERRAND_CAMPAIGN_MAX_REPOS') }]);
    expect(await refused({ repos: [good], playbook: 'no-such-playbook' })).toEqual([{ field: 'repos.0', message: expect.stringContaining('no-such-playbook') }]);
    expect(await refused({ repos: [], prompt: 'x' })).toEqual([{ field: 'repos', message: 'name at least one repository' }]);
    expect((await api(t.errand.url, 'GET', '/campaigns/nope-nope')).status).toBe(404);
  });
});
