// Checking the work (the agent's, or a change Errand made itself): everything on the branch
// first, then the tests, the playbook's postconditions, and the review agent. Changes requested
// go back to the agent as a note, for a bounded number of rounds.
import { reviewer, workspace } from './activities.js';
import { checkpoint } from './branch.js';
import { brokenChangeNote, postconditionsNote, reviewNote } from './pull-request-text.js';
import type { TaskRun } from './run.js';
import { inSandbox } from './sandbox-session.js';

/** What comes after the checks: the agent works again, the work is published, or (a prepared change that broke, by its policy) nothing is. */
export type AfterChecks = 'again' | 'publish' | 'drop';

/** Tests, postconditions and review on the work. Says whether it goes back to the agent, out, or nowhere. */
export async function checkAndReview(run: TaskRun, summary: string): Promise<AfterChecks> {
  const { input, state, taskId } = run;
  // Everything the agent did is on the branch before tests run: a sandbox lost from here on
  // loses nothing. Lost before it is, the agent works again (WorkLost). Errand's own change is
  // not pushed before it is checked (a replacement sandbox makes it again), so a change that
  // breaks the tests under `onFailure: none` leaves no branch and no PR behind.
  if (!run.changeOnly) await checkpoint(run, 'the final checkpoint, after the agent finished');
  if (run.changeOnly && run.changed && !run.changed.passed) {
    state.test = run.changed; // the update itself failed: there is nothing to test
  } else if (run.testCommand) {
    run.enter('testing', `running ${run.testCommand}`);
    const command = run.testCommand;
    const round = run.reviewRounds + 1;
    state.test = await inSandbox(run, (id) => workspace.runTests({ taskId, sandboxId: id, command, round }), 'tests');
  }
  if (run.changeOnly && state.test && !state.test.passed) {
    if (input.change!.agent) {
      run.changeHandedOver = true;
      run.note(brokenChangeNote(state.test));
      return 'again';
    }
    if (input.change!.onFailure === 'none') return 'drop';
    // `draft`: reviewed and published as it is, not approved, so a draft that says what broke.
  }
  // Checked: now it goes on the branch, where the review reads it.
  if (run.changeOnly) await checkpoint(run, 'the checkpoint of the checked change');
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
      return 'again';
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
  state.review = { verdict: review.verdict, summary: review.summary, rounds: round, unresolved, outsideAllowedPaths: review.outsideAllowedPaths, ...(review.checksOnly && { checksOnly: true }) };
  if (review.verdict === 'approve' || !mayGoBack(run)) return stillBroken(run) ? 'drop' : 'publish';
  run.reviewRounds++;
  run.note(reviewNote(review.summary, review.comments, run.reviewRounds, input.maxReviewRounds));
  return 'again';
}

/** A prepared change whose tests still fail after the agent's rounds, under `onFailure: none`: no PR. */
const stillBroken = (run: TaskRun) => run.input.change?.onFailure === 'none' && run.state.test?.passed === false;

/** Whether the agent may have another round: there is one, it has budget left, and rounds remain. */
const mayGoBack = (run: TaskRun) => run.hasAgent && !run.state.stoppedBy && run.reviewRounds < run.input.maxReviewRounds;
