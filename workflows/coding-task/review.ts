// Checking what the agent did: everything on the branch first, then the tests, then the review
// agent. Changes requested go back to the agent as a note, for a bounded number of rounds.
import { reviewer, workspace } from './activities.js';
import { checkpoint } from './branch.js';
import { postconditionsNote, reviewNote } from './pull-request-text.js';
import type { TaskRun } from './run.js';
import { inSandbox } from './sandbox-session.js';

/** Tests and review on what the agent did. Returns true when the reviewer's comments should go back to the agent. */
export async function checkAndReview(run: TaskRun, summary: string): Promise<boolean> {
  const { input, state, taskId } = run;
  // Everything the agent did is on the branch before tests run: a sandbox lost from here on
  // loses nothing. Lost before it is, the agent works again (WorkLost).
  await checkpoint(run, 'the final checkpoint, after the agent finished');
  if (run.testCommand) {
    run.enter('testing', `running ${run.testCommand}`);
    const command = run.testCommand;
    state.test = await inSandbox(run, (id) => workspace.runTests({ taskId, sandboxId: id, command }), 'tests');
  }
  const commands = input.playbook?.postconditions ?? [];
  if (commands.length) {
    run.enter('testing', `checking the playbook's ${commands.length} postcondition${commands.length === 1 ? '' : 's'}`);
    const round = run.reviewRounds + 1;
    state.postconditions = await inSandbox(run, (id) => workspace.runPostconditions({ taskId, sandboxId: id, commands, round }), 'postconditions');
    const failed = state.postconditions.filter((p) => !p.passed);
    // A failing postcondition goes back like a review comment, within the same bound.
    if (failed.length && mayGoBack(run)) {
      run.reviewRounds++;
      run.note(postconditionsNote(failed, run.reviewRounds, input.maxReviewRounds));
      return true;
    }
  }
  run.enter('reviewing', `review round ${run.reviewRounds + 1}`);
  const round = run.reviewRounds + 1;
  const reviewed = await inSandbox(
    run,
    (id) =>
      reviewer.review({
        taskId,
        sandboxId: id,
        baseSha: run.baseSha,
        round,
        prompt: input.prompt,
        summary,
        test: state.test,
        instructionsKey: run.instructionsKey,
        allowedPaths: input.allowedPaths,
        forbiddenPaths: input.playbook?.forbidden.paths,
      }),
    'review',
  );
  run.addUsage(reviewed.usage, reviewed.costUsd);
  const { review } = reviewed;
  const unresolved = review.verdict === 'approve' ? [] : review.comments;
  state.review = { verdict: review.verdict, summary: review.summary, rounds: round, unresolved, outsideAllowedPaths: review.outsideAllowedPaths };
  if (review.verdict === 'approve' || !mayGoBack(run)) return false;
  run.reviewRounds++;
  run.note(reviewNote(review.summary, review.comments, run.reviewRounds, input.maxReviewRounds));
  return true;
}

/** Whether the agent may have another round: it has budget left and rounds remain. */
const mayGoBack = (run: TaskRun) => !run.state.stoppedBy && run.reviewRounds < run.input.maxReviewRounds;
