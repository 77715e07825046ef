// campaign: one request across many repositories. It starts one task per repository as a child
// (a coding task; for the dependency-bump playbook a dependency bump), in the order given, at
// most `concurrency` at a time, each with its own branch and PR, through the same workflow,
// admission limits and budgets as any task. It keeps a row per repository (queued, running, PR
// open, failed with why). Pausing stops starting new ones; cancelling cancels the running ones
// and starts no more; after `stopAfterFailures` failures it starts no more. A child's id is
// `<campaign>-<n>`, recorded in the history before it runs: a worker or Temporal restart replays
// the campaign and starts nothing twice.
import { CancellationScope, condition, isCancellation, ParentClosePolicy, proxyActivities, proxySinks, setHandler, startChild } from '@temporalio/workflow';
import { child, stopTask, type Stopping } from './children.js';
import type { ErrandSinks } from './contracts/sinks.js';
import type { createActivities } from '../activities/index.js';
import { codingTask } from './coding-task/index.js';
import { cancelRequestedSignal, pauseSignal, resumeSignal } from './contracts/control.js';
import type { CampaignInput, CampaignResult, CampaignRow, CampaignState } from './contracts/campaign.js';
import { campaignQuery, campaignSiblings, campaignTaskId } from './contracts/campaign.js';
import { playbookPrompt } from './contracts/playbooks.js';
import type { PullRequestRef, TaskInput } from './contracts/task.js';
import { dependencyBump, type DependencyBumpInput } from './dependency-bump.js';
import { describeFailure, FailureType } from './failures.js';
import { taskLinks, taskStart } from './task-start.js';

type Activities = ReturnType<typeof createActivities>;

const { metrics } = proxySinks<ErrandSinks>();

const playbooks = proxyActivities<Pick<Activities, 'preparePlaybookRun'>>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumAttempts: 5, nonRetryableErrorTypes: [FailureType.PlaybookUnavailable, FailureType.ForgeRejected] },
});

export async function campaign(input: CampaignInput): Promise<CampaignResult> {
  const rows: CampaignRow[] = input.targets.map((t, i) => ({ repo: t.repo, baseBranch: t.baseBranch, taskId: campaignTaskId(input.campaignId, i), status: 'queued' }));
  const state: CampaignState = { campaignId: input.campaignId, phase: 'running', concurrency: input.concurrency, rows, failures: 0, ...(input.stopAfterFailures !== undefined && { stopAfterFailures: input.stopAfterFailures }) };
  setHandler(campaignQuery, () => state);
  setHandler(pauseSignal, ({ by }) => {
    if (state.phase !== 'running') return;
    state.phase = 'paused';
    state.paused = { since: new Date().toISOString(), ...(by && { by }) };
  });
  setHandler(resumeSignal, () => {
    if (state.phase !== 'paused') return;
    state.phase = 'running';
    delete state.paused;
  });
  setHandler(cancelRequestedSignal, ({ by }) => {
    state.cancelledBy = by ?? 'someone';
  });

  metrics.campaignStarted(rows.length);
  const running = new Set<Promise<void>>();
  const stopping: Stopping = { requested: false, by: () => `${state.cancelledBy ?? 'someone'} (campaign ${input.campaignId})` };
  const stopped = () => state.stopAfterFailures !== undefined && state.failures >= state.stopAfterFailures;
  try {
    for (const row of rows) {
      // A slot free and not paused; a failure meanwhile may have stopped the campaign.
      await condition(() => stopped() || (state.phase === 'running' && running.size < input.concurrency));
      if (stopped()) break;
      const started = runTask(input, row, state, stopping);
      running.add(started);
      void started.finally(() => running.delete(started));
    }
    // Its tasks are awaited outside its cancellation (runTask): a cancellation ends the wait.
    await Promise.race([Promise.all(running), CancellationScope.current().cancelRequested]);
    if (stopped()) {
      state.stoppedBecause = `${state.failures} task${state.failures === 1 ? '' : 's'} failed (stopAfterFailures: ${state.stopAfterFailures}); no more were started`;
      for (const row of rows) if (row.status === 'queued') Object.assign(row, { status: 'skipped', error: state.stoppedBecause });
    }
    state.phase = stopped() ? 'stopped' : 'completed';
    state.summary = summarize(rows);
    metrics.campaignEnded(state.phase);
    return { summary: state.summary, state };
  } catch (err) {
    if (!isCancellation(err)) throw err;
    // Its running tasks are cancelled with it, each told first who asked; their rows say how each ended.
    stopping.requested = true;
    await CancellationScope.nonCancellable(async () => {
      await Promise.all(rows.filter((r) => r.status === 'running').map((r) => stopTask(r.taskId, stopping.by())));
      await Promise.all(running);
    });
    for (const row of rows) if (row.status === 'queued') row.status = 'cancelled';
    state.phase = 'cancelled';
    metrics.campaignEnded('cancelled');
    state.summary = `cancelled${state.cancelledBy ? ` by ${state.cancelledBy}` : ''}: ${summarize(rows)}`;
    throw err;
  }
}

/** One repository's task, as a child, to its end; its row follows it. Never throws: how it ended is the row's. */
async function runTask(input: CampaignInput, row: CampaignRow, state: CampaignState, stopping: Stopping): Promise<void> {
  row.status = 'running';
  try {
    const options = { ...taskStart({ taskId: row.taskId, repo: row.repo, requester: input.task.requester }), parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL };
    const campaign = { id: input.campaignId, ...(input.links.campaign && { url: input.links.campaign }), repos: state.rows.length, siblings: campaignSiblings(state.rows, row, input.links) };
    const prepared = input.playbook ? await playbooks.preparePlaybookRun({ repo: row.repo, ref: row.baseBranch, name: input.playbook.name, params: input.playbook.params ?? {} }) : undefined;
    if (prepared?.runs === 'dependency-bump') {
      const bump: DependencyBumpInput = { taskId: row.taskId, repo: row.repo, baseBranch: row.baseBranch, params: prepared.playbook.params, task: { ...input.task, playbook: prepared.playbook }, links: input.links };
      const done = await child(row.taskId, stopping, () => startChild(dependencyBump, { ...options, args: [bump] }));
      const prs = done.groups.map((g) => g.pr).filter((pr): pr is PullRequestRef => pr !== undefined);
      Object.assign(row, prs.length ? { status: 'pull_request', pr: prs[0], ...(prs.length > 1 && { morePrs: prs.slice(1) }) } : { status: 'no_pull_request', note: done.summary });
      return;
    }
    const prompt = prepared ? playbookPrompt(prepared.prompt, input.prompt) : input.prompt!;
    const task: TaskInput = { ...input.task, taskId: row.taskId, repo: row.repo, baseBranch: row.baseBranch, prompt, links: taskLinks(input.links, row.taskId), campaign, ...(prepared && { playbook: prepared.playbook }) };
    const done = await child(row.taskId, stopping, () => startChild(codingTask, { ...options, args: [task] }));
    Object.assign(row, done.pr ? { status: 'pull_request', pr: done.pr } : { status: 'no_pull_request', note: done.summary });
    if (done.test) row.testsPassed = done.test.passed;
  } catch (err) {
    // Cancelled with the campaign, or by hand on its own: that row's end either way.
    if (isCancellation(err)) {
      row.status = 'cancelled';
      return;
    }
    Object.assign(row, { status: 'failed', error: describeFailure(err) });
    state.failures++;
  }
}

function summarize(rows: CampaignRow[]): string {
  const count = (s: CampaignRow['status']) => rows.filter((r) => r.status === s).length;
  const parts = [
    `${count('pull_request')} with a pull request`,
    count('no_pull_request') && `${count('no_pull_request')} without`,
    count('failed') && `${count('failed')} failed`,
    count('cancelled') && `${count('cancelled')} cancelled`,
    count('skipped') && `${count('skipped')} not started`,
  ].filter(Boolean);
  return `${rows.length} ${rows.length === 1 ? 'repository' : 'repositories'}: ${parts.join(', ')}`;
}
