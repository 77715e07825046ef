// codingTask: the story of one task, from an empty sandbox to a pull request. Every side
// effect is an activity (activities.ts), so each step reads on its own in Temporal UI and
// survives a crash. People steer, pause, approve and cancel it (control.ts); the agent works
// in steps (agent.ts); a lost sandbox is replaced and the work restored (sandbox-session.ts);
// the branch and the PR follow the work (branch.ts, pull-request-text.ts); a long task
// continues as new, carrying only its run's small state (run.ts).
import { CancellationScope, ContinueAsNew, isCancellation, patched, proxySinks } from '@temporalio/workflow';
import type { ErrandSinks } from '../contracts/sinks.js';
import type { TaskInput, TaskResult } from '../contracts/task.js';
import { describeFailure } from '../failures.js';
import { forge, workspace } from './activities.js';
import { admit, giveBack, handleAdmission } from './admission.js';
import { planUntilApproved, work } from './agent.js';
import { endPullRequest, publish } from './branch.js';
import { CANCELLED_OUTSIDE_ERRAND, handleControl } from './control.js';
import { feedbackArrived } from './feedback.js';
import { tellOrigin } from './origin.js';
import { startedComment } from './pull-request-text.js';
import { checkAndReview } from './review.js';
import { TaskRun, type Carried } from './run.js';
import { destroy, inSandbox, provisionAndPrepare, WorkLost } from './sandbox-session.js';

export type { Carried };

const { metrics } = proxySinks<ErrandSinks>();

/** The agent's summary, after the prepared change's own account when there is one. */
const withChange = (input: TaskInput, summary: string) => (input.change ? `${input.change.summary}\n\n**What the agent changed to make it work:** ${summary}` : summary);

export async function codingTask(input: TaskInput, carried?: Carried): Promise<TaskResult> {
  const run = new TaskRun(input, carried);
  const { state, taskId } = run;
  handleControl(run);
  handleAdmission(run);
  let keepSandbox = false;
  try {
    if (!carried) {
      // Here, not in the API: scheduled runs and a dependency bump's tasks are started by workflows.
      metrics.taskStarted(input.playbook?.name ?? 'none');
      // A missing repo or branch, or no permission, ends the task now with the forge's message.
      // An empty base branch means the repository's default, which the forge knows.
      const repository = await forge.checkRepository({ repo: input.repo, baseBranch: input.baseBranch });
      state.baseBranch = repository.baseBranch;
      state.sandboxImage = input.sandboxImage ?? repository.sandboxImage;
      if (input.notify) await forge.comment({ repo: input.repo, number: input.notify.issueNumber, body: startedComment(input) });
      // Over a limit on running tasks, it waits here, queued, before it takes anything.
      await admit(run);
      // Nothing runs between this phase and the next, so nothing could see it: no longer written.
      if (!patched('visibility-on-change')) run.enter('provisioning', 'provisioning a sandbox');
      run.sandboxId = taskId;
      run.enter('preparing', `cloning ${input.repo}@${state.baseBranch}`);
      await inSandbox(run, () => provisionAndPrepare(run, input.followUp ? run.branchRef : undefined), 'setup', () => undefined);
    }

    await planUntilApproved(run);

    // Work (or Errand's own change, first), check, review; publish; another round on feedback.
    for (;;) {
      const summary = run.changeOnly ? input.change!.summary : withChange(input, await work(run));
      state.summary = summary;
      run.enter('testing', 'saving the work');
      try {
        const next = await checkAndReview(run, summary);
        if (next === 'again') continue;
        if (next === 'drop') {
          run.enter('completed', `no pull request: the update breaks \`${state.test?.command}\` (onFailure: none)`);
          await tellOrigin(run, { kind: 'ended', phase: 'completed', summary: state.lastAction });
          return { summary, test: state.test, steps: state.step, state };
        }
        const proposal = await publish(run, summary);
        if (proposal) {
          run.enter('completed', `attempt ${input.attempt!.n} of ${input.attempt!.of}: pushed ${proposal.branch}, for its task to choose`);
          return { summary, stoppedBy: state.stoppedBy, test: state.test, proposal, steps: state.step, review: state.review?.verdict, state };
        }
      } catch (err) {
        // The sandbox took work the branch does not hold: the agent redoes it (it was told).
        if (err instanceof WorkLost) continue;
        throw err;
      }
      if (await feedbackArrived(run)) continue;
      const pr = state.pr!;
      run.enter('completed', `${pr.draft ? 'draft ' : ''}PR #${pr.number} is up to date`);
      await tellOrigin(run, { kind: 'ended', phase: 'completed', summary, pr });
      return { summary, stoppedBy: state.stoppedBy, test: state.test, pr, steps: state.step, review: state.review?.verdict, state };
    }
  } catch (err) {
    if (err instanceof ContinueAsNew) {
      keepSandbox = true; // the next run goes on in it
      throw err;
    }
    // The branch keeps the work so far, and the PR says how the task ended (older runs: a WIP commit only).
    const endsPullRequest = patched('pr-says-how-it-ended');
    if (isCancellation(err)) {
      state.cancelledBy ??= CANCELLED_OUTSIDE_ERRAND;
      run.enter('cancelled', `cancelled by ${state.cancelledBy}`);
      const id = run.sandboxId;
      if (endsPullRequest) await CancellationScope.nonCancellable(() => endPullRequest(run, `cancelled by ${state.cancelledBy}`));
      else if (id) {
        // A sandbox already gone has nothing more to save.
        await CancellationScope.nonCancellable(() =>
          workspace.checkpoint({ taskId, sandboxId: id, repo: input.repo, branch: run.branch, baseSha: run.baseSha, step: state.step, lastPushed: state.checkpoint?.sha }).catch(() => undefined),
        );
      }
      await tellOrigin(run, { kind: 'ended', phase: 'cancelled', cancelledBy: state.cancelledBy, ...(state.pr && { pr: state.pr }) });
    } else {
      state.error = describeFailure(err);
      run.enter('failed', 'failed');
      if (endsPullRequest) await CancellationScope.nonCancellable(() => endPullRequest(run, `failed: ${state.error}`));
      await tellOrigin(run, { kind: 'ended', phase: 'failed', error: state.error, ...(state.pr && { pr: state.pr }) });
    }
    throw err;
  } finally {
    // Runs even when the task was cancelled: a cancelled scope cannot skip cleanup.
    if (run.sandboxId && !keepSandbox) await destroy(run.sandboxId);
    if (!keepSandbox) await giveBack(run);
  }
}
