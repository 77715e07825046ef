// After the PR is out: another round when messages or PR feedback arrived, or, when the task
// asks for it, once they arrive within `awaitFeedbackMinutes`. Nothing is kept while waiting:
// a sandbox is provisioned from the pushed branch when there is work.
import { condition } from '@temporalio/workflow';
import type { TaskRun } from './run.js';
import { destroy, inSandbox, provisionAndPrepare } from './sandbox-session.js';
import { admit, giveBack } from './admission.js';

/** Returns true with a sandbox ready for another round, false when there is no more to do. */
export async function feedbackArrived(run: TaskRun): Promise<boolean> {
  const { input, state } = run;
  const pending = () => run.hasMessages();
  if (!pending() && !input.awaitFeedbackMinutes) return false;
  const done = run.sandboxId!;
  run.sandboxId = undefined;
  await destroy(done);
  if (!pending()) {
    // Waiting without a sandbox is not running: the slot goes to a queued task meanwhile.
    await giveBack(run);
    run.enter('awaiting_feedback', `waiting up to ${input.awaitFeedbackMinutes} minutes for feedback on PR #${state.pr?.number}`);
    if (!(await condition(pending, `${input.awaitFeedbackMinutes!} minutes`))) return false;
  }
  state.feedbackRounds = (state.feedbackRounds ?? 0) + 1;
  state.stoppedBy = undefined;
  run.stopNote = undefined;
  await admit(run);
  run.enter('provisioning', `feedback round ${state.feedbackRounds}`);
  run.sandboxId = `${run.taskId}-f${state.feedbackRounds}`;
  // A replacement lost while it is set up is replaced (and set up) by inSandbox itself.
  await inSandbox(run, () => provisionAndPrepare(run, state.checkpoint ? run.branchRef : undefined), `the set-up of feedback round ${state.feedbackRounds}`, () => undefined);
  return true;
}
