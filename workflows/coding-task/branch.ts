// The task branch and its pull request: the work in progress committed and pushed as it goes
// (the first push opens the draft PR), and the final publish (checkpoints squashed, the PR
// brought up to date, ready only when approved and complete).
import type { AttemptProposal } from '../contracts/attempts.js';
import { forge, workspace } from './activities.js';
import { commitMessage, commitTitle, endedBody, pullRequestBody, workInProgressBody } from './pull-request-text.js';
import type { TaskRun } from './run.js';
import { tellOrigin } from './origin.js';
import { inSandbox } from './sandbox-session.js';

/** Commits and pushes the work in progress; the first push opens the draft PR. */
export async function checkpoint(run: TaskRun, during = `the checkpoint after step ${run.state.step}`): Promise<void> {
  const { input, state, taskId } = run;
  const saved = await inSandbox(
    run,
    (id) => workspace.checkpoint({ taskId, sandboxId: id, repo: input.repo, branch: run.branch, baseSha: run.baseSha, step: state.step, lastPushed: state.checkpoint?.sha, forbidden: input.playbook?.forbidden }),
    during,
  );
  if (saved.blocked) {
    run.note(`[errand] Your work in progress was not pushed: ${saved.blocked}. Undo that: secrets belong in the environment, not the repository, and a playbook's forbidden paths stay as they are.`);
    return;
  }
  // Pushed, or nothing new since the last push: either way the branch holds the workspace.
  run.savedThroughStep = state.step;
  if (!saved.sha) return;
  state.checkpoint = { sha: saved.sha, step: state.step };
  // A PR on another branch (a dependency group's) is opened only with checked work, at publish;
  // an attempt's, by its parent, if it is chosen.
  if (!state.pr && run.publishBranch === run.branch && !input.attempt) {
    state.pr = input.followUp
      ? await forge.updatePullRequest({ taskId, repo: input.repo, number: input.followUp.prNumber, round: state.feedbackRounds ?? 0 })
      : await forge.openPullRequest({ taskId, repo: input.repo, base: state.baseBranch, head: run.branch, title: commitTitle(input.prompt), body: workInProgressBody(input), draft: true });
    await tellOrigin(run, { kind: 'pr', pr: state.pr });
  }
}

/**
 * Squashes, pushes, and opens the PR or brings it up to date; ready for review only when approved
 * and complete. An attempt pushes and hands back the PR it would open, for its parent to choose.
 */
export async function publish(run: TaskRun, summary: string): Promise<AttemptProposal | undefined> {
  const { input, state, taskId } = run;
  run.enter('publishing', `pushing ${run.publishBranch}`);
  const title = `${state.stoppedBy ? '[incomplete] ' : ''}${commitTitle(input.prompt, summary)}`;
  const pushed = await inSandbox(
    run,
    (id) => workspace.publishBranch({ taskId, sandboxId: id, repo: input.repo, branch: run.publishBranch, baseSha: run.baseSha, message: commitMessage(title, summary), coAuthor: input.coAuthor, forbidden: input.playbook?.forbidden }),
    'publishing',
  );
  state.checkpoint = { sha: pushed.headSha, step: state.step };
  run.savedThroughStep = state.step;
  const body = pullRequestBody(input, state, summary, run.stopNote);
  const ready = state.review?.verdict === 'approve' && !state.stoppedBy && !state.postconditions?.some((p) => !p.passed);
  run.reviewRounds = 0;
  if (input.attempt) return { branch: run.publishBranch, headSha: pushed.headSha, title, body, ready, diffKey: pushed.diffKey };
  const number = state.pr?.number ?? input.followUp?.prNumber;
  state.pr = number
    ? await forge.updatePullRequest({ taskId, repo: input.repo, number, title, body, ready, diffKey: pushed.diffKey, round: state.feedbackRounds ?? 0 })
    : await forge.openPullRequest({ taskId, repo: input.repo, base: state.baseBranch, head: run.publishBranch, title, body, draft: !ready, diffKey: pushed.diffKey });
  if (!number) await tellOrigin(run, { kind: 'pr', pr: state.pr });
  return undefined;
}

/**
 * A task that ends before it publishes (cancelled, failed): its work so far committed and pushed
 * as it is, and its PR (a draft opened now, when there was none and there is work) saying how it
 * ended and carrying that work. Run in
 * a scope that cannot be cancelled; nothing here fails the ending (a sandbox already gone leaves
 * the branch at its last checkpoint, and the PR says so all the same).
 */
export async function endPullRequest(run: TaskRun, how: string): Promise<void> {
  const { input, state, taskId } = run;
  const title = `[${state.phase}] ${commitTitle(input.prompt, state.summary)}`;
  let diffKey: string | undefined;
  if (run.sandboxId && run.publishBranch === run.branch) {
    const pushed = await workspace
      .publishBranch({ taskId, sandboxId: run.sandboxId, repo: input.repo, branch: run.branch, baseSha: run.baseSha, message: commitMessage(title, `${how}.`), coAuthor: input.coAuthor, forbidden: input.playbook?.forbidden })
      .catch(() => undefined);
    if (pushed) {
      state.checkpoint = { sha: pushed.headSha, step: state.step };
      diffKey = pushed.diffKey;
    }
  }
  // An attempt's work stays on its branch; its parent says how it ended.
  if (input.attempt) return;
  const number = state.pr?.number ?? input.followUp?.prNumber;
  const body = endedBody(input, state, how);
  if (number) {
    state.pr = await forge.updatePullRequest({ taskId, repo: input.repo, number, title, body, ready: false, diffKey, round: state.feedbackRounds ?? 0 }).catch(() => state.pr);
  } else if (diffKey) {
    // Work that no checkpoint had pushed yet: a draft PR shows it, and why it stopped.
    state.pr = await forge.openPullRequest({ taskId, repo: input.repo, base: state.baseBranch, head: run.branch, title, body, draft: true, diffKey }).catch(() => undefined);
  }
}
