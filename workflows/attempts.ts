// taskAttempts: several attempts at one task, the best one kept. Each attempt is an ordinary
// coding task, as a child (`<task>-a<n>`, on its own branch and sandbox, through the same
// admission limits), in attempt mode: it pushes its branch and hands back the PR it would open.
// When all have ended, Errand chooses one by the rules in contracts/attempts.ts (tests that pass,
// then the review agent's comparison, then the smaller change), says why in the task's events,
// and opens only the chosen attempt's PR. Messages, pause and resume reach every running
// attempt; cancelling the task cancels them, each told who asked.
import { ApplicationFailure, CancellationScope, isCancellation, ParentClosePolicy, proxyActivities, proxySinks, setHandler, startChild, upsertMemo, upsertSearchAttributes, type ExternalWorkflowHandle, getExternalWorkflowHandle } from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import { child, stopTask, type Stopping } from './children.js';
import { forge } from './coding-task/activities.js';
import { codingTask } from './coding-task/index.js';
import { attemptsSection, commitTitle } from './coding-task/pull-request-text.js';
import { attemptBudget, attemptTaskId, initialAttemptsState, type AttemptProposal, type AttemptRow, type AttemptsInput, type AttemptsState } from './contracts/attempts.js';
import { cancelRequestedSignal, pauseSignal, resumeSignal, sendMessageUpdate, stateQuery, steerSignal, type SteeringMessage } from './contracts/control.js';
import { ErrandPhase } from './contracts/search-attributes.js';
import type { ErrandSinks } from './contracts/sinks.js';
import { type PullRequestRef, type TaskPhase, type TaskResult } from './contracts/task.js';
import { describeFailure, FailureType } from './failures.js';
import { taskWorkflowId } from './names.js';
import { taskLinks, taskStart } from './task-start.js';

type Activities = ReturnType<typeof createActivities>;

const { metrics } = proxySinks<ErrandSinks>();

/** Reading the attempts' diffs and asking the review agent to compare them: a few model calls. */
const { chooseAttempt } = proxyActivities<Pick<Activities, 'chooseAttempt'>>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '8 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 8, nonRetryableErrorTypes: [FailureType.ModelRejected] },
});

export type AttemptsResult = TaskResult & { state: AttemptsState };

export async function taskAttempts(input: AttemptsInput): Promise<AttemptsResult> {
  const { task } = input;
  const state = initialAttemptsState(input);
  const rows = state.attempts;
  const running = () => rows.filter((r) => r.status === 'running');
  /** Tells every running attempt, as a signal (a workflow sends no updates); an ended one is left as it is. */
  const tellAll = (send: (attempt: ExternalWorkflowHandle) => Promise<void>) =>
    Promise.all(running().map((r) => send(getExternalWorkflowHandle(taskWorkflowId(r.taskId))).catch(() => undefined)));
  const enter = (phase: TaskPhase, lastAction: string) => {
    Object.assign(state, { phase, lastAction });
    upsertSearchAttributes([{ key: ErrandPhase, value: phase }]);
    upsertMemo({ title: commitTitle(task.prompt), costUsd: state.costUsd, ...(state.pr && { pr: state.pr }) });
  };

  setHandler(stateQuery, () => state);
  setHandler(
    sendMessageUpdate,
    async (message: SteeringMessage) => {
      const seq = ++state.messages.accepted;
      const to = running().map((r) => r.n);
      await tellAll((a) => a.signal(steerSignal, message));
      return { seq, attempts: to };
    },
    {
      validator: (message: SteeringMessage) => {
        if (!message?.text?.trim()) throw new Error('text: required: what the agent should know or do');
        if (!running().length) throw new Error(`task is ${state.phase}: its attempts have ended, so no agent would read the message`);
      },
    },
  );
  setHandler(pauseSignal, ({ by }) => {
    if (!state.paused) state.paused = { since: new Date(Date.now()).toISOString(), ...(by && { by }) };
    void tellAll((a) => a.signal(pauseSignal, { by }));
  });
  setHandler(resumeSignal, ({ by }) => {
    state.paused = undefined;
    void tellAll((a) => a.signal(resumeSignal, { by }));
  });
  setHandler(cancelRequestedSignal, ({ by }) => {
    state.cancelledBy = by ?? 'an API caller';
  });

  metrics.attemptsStarted(input.attempts);
  enter('working', `${input.attempts} attempts at once, each in its own sandbox`);
  const stopping: Stopping = { requested: false, by: () => `${state.cancelledBy ?? 'someone'} (task ${task.taskId})` };
  const attempts = rows.map((row) => runAttempt(input, row, state, stopping));
  try {
    // The attempts are awaited outside the task's cancellation (runAttempt): a cancellation ends the wait.
    await Promise.race([Promise.all(attempts), CancellationScope.current().cancelRequested]);

    enter('reviewing', 'choosing among the attempts');
    const chosen = await chooseAttempt({
      taskId: task.taskId,
      prompt: task.prompt,
      attempts: rows.map((r) => ({ n: r.n, taskId: r.taskId, status: r.status, summary: r.summary, diffKey: r.proposal?.diffKey, test: r.test })),
    });
    state.costUsd += chosen.costUsd;
    state.tokens.prompt += chosen.usage.prompt;
    state.tokens.completion += chosen.usage.completion;
    for (const r of rows) if (chosen.sizes[r.n]) r.size = chosen.sizes[r.n];
    state.choice = chosen.choice;
    const winner = rows.find((r) => r.n === chosen.choice.n);
    metrics.attemptsEnded(winner ? 'chosen' : 'none');
    if (!winner?.proposal) {
      state.error = `no attempt to choose: ${rows.map((r) => `attempt ${r.n} ${r.status}${r.error ? ` (${r.error})` : ''}`).join('; ')}`;
      enter('failed', 'failed');
      throw ApplicationFailure.nonRetryable(state.error, FailureType.NoChanges);
    }
    Object.assign(state, { summary: winner.summary, test: winner.test, branch: winner.branch, step: winner.steps ?? 0, review: winner.review });
    enter('publishing', `opening the PR of attempt ${winner.n}`);
    const p = winner.proposal;
    const links = { task: (id: string) => input.links.task && `${input.links.task}${id}` };
    state.pr = await forge.openPullRequest({
      taskId: task.taskId,
      repo: task.repo,
      base: state.baseBranch,
      head: p.branch,
      title: p.title,
      body: `${p.body}\n\n${attemptsSection(rows, chosen.choice, links.task)}`,
      draft: !p.ready,
      diffKey: p.diffKey,
    });
    enter('completed', `${state.pr.draft ? 'draft ' : ''}PR #${state.pr.number}: attempt ${winner.n} of ${rows.length}`);
    return { summary: state.summary ?? '', test: state.test, pr: state.pr, steps: state.step, review: state.review?.verdict, state };
  } catch (err) {
    if (!isCancellation(err)) {
      if (state.phase !== 'failed') {
        state.error = describeFailure(err);
        enter('failed', 'failed');
      }
      throw err;
    }
    // Its running attempts are cancelled with it, each told first who asked.
    stopping.requested = true;
    await CancellationScope.nonCancellable(async () => {
      await Promise.all(running().map((r) => stopTask(r.taskId, stopping.by())));
      await Promise.all(attempts);
    });
    state.cancelledBy ??= 'someone outside Errand (Temporal UI or its CLI)';
    enter('cancelled', `cancelled by ${state.cancelledBy}`);
    metrics.attemptsEnded('cancelled');
    throw err;
  }
}

/** One attempt, as a child, to its end; its row follows it. Never throws: how it ended is the row's. */
async function runAttempt(input: AttemptsInput, row: AttemptRow, state: AttemptsState, stopping: Stopping): Promise<void> {
  const { task } = input;
  try {
    const options = { ...taskStart({ taskId: row.taskId, repo: task.repo, requester: task.requester }), parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL };
    const args = {
      ...task,
      taskId: row.taskId,
      budget: attemptBudget(task.budget, input.attempts, input.budgets),
      links: taskLinks(input.links, row.taskId),
      attempt: { parentTaskId: task.taskId, n: row.n, of: input.attempts },
      awaitFeedbackMinutes: 0,
    };
    const done = await child(row.taskId, stopping, () => startChild(codingTask, { ...options, args: [args] }));
    Object.assign(row, { status: 'finished', summary: done.summary, steps: done.steps, ...(done.proposal && { proposal: done.proposal }), ...(done.test && { test: done.test }), ...(done.state?.review && { review: done.state.review }) });
    if (done.state) addUsage(state, row, done.state);
  } catch (err) {
    Object.assign(row, isCancellation(err) ? { status: 'cancelled' } : { status: 'failed', error: describeFailure(err) });
  }
}

function addUsage(state: AttemptsState, row: AttemptRow, ended: NonNullable<TaskResult['state']>): void {
  row.costUsd = ended.costUsd;
  state.costUsd += ended.costUsd;
  state.tokens.prompt += ended.tokens.prompt;
  state.tokens.completion += ended.tokens.completion;
}

export interface PromoteAttemptInput {
  /** The task the attempts are of, and the attempt a person chose instead. */
  parentTaskId: string;
  n: number;
  repo: string;
  baseBranch: string;
  proposal: AttemptProposal;
  by: string;
}

/**
 * Opens the PR of an attempt that was not chosen, because a person asked (POST
 * /tasks/:id/attempts/:n/promote). Its own workflow, `promote-<task>-a<n>`: asked twice, the
 * second finds the first's PR.
 */
export async function promoteAttempt(input: PromoteAttemptInput): Promise<PullRequestRef> {
  const p = input.proposal;
  const note = `## Promoted\nAttempt ${input.n} of task \`${input.parentTaskId}\` was not the one Errand chose; ${input.by} opened this PR from it.`;
  return forge.openPullRequest({ taskId: attemptTaskId(input.parentTaskId, input.n), repo: input.repo, base: input.baseBranch, head: p.branch, title: p.title, body: `${note}\n\n${p.body}`, draft: !p.ready, diffKey: p.diffKey });
}
