// The task's sandbox over its life: provisioned with the repository set up and the work
// restored, used by every phase through `inSandbox`, and replaced when it is lost, with what
// survived told to the model. Reusable by any workflow whose run is a TaskRun.
import { ApplicationFailure, CancellationScope, log, patched } from '@temporalio/workflow';
import type { SandboxLoss } from '../contracts/task.js';
import { describeFailure, FailureType } from '../failures.js';
import { decideRecovery, lostAfterStep, restoredFrom, restoreNote } from '../recovery.js';
import { sandboxes, workspace } from './activities.js';
import type { TaskRun } from './run.js';

/** The tool call that was running when its sandbox was lost. */
export interface InterruptedCall {
  step: number;
  tool: string;
  toolCallId: string;
}

/**
 * Thrown out of a phase after the agent (the final checkpoint, tests, review, publishing) when a
 * lost sandbox took work the branch does not hold: the agent gets its turns back to redo it.
 */
export class WorkLost extends Error {}

/**
 * Runs `work` against the sandbox (`during`: what it is, in words). A lost sandbox is replaced
 * and the workspace restored, then `work` runs again, or `onLoss` answers instead. When the
 * loss took work the branch does not hold and the agent has no turns ahead, the agent gets
 * them back (WorkLost) rather than tests, review or a PR going on without that work.
 */
export async function inSandbox<T>(run: TaskRun, work: (sandboxId: string) => Promise<T>, during: string, onLoss?: () => T, interrupted?: InterruptedCall): Promise<T> {
  for (;;) {
    try {
      return await work(run.sandboxId!);
    } catch (err) {
      const lost = await replaceSandbox(run, err, during, interrupted);
      if (lost !== undefined && !run.agentWorking && patched('lost-work-goes-back-to-the-agent')) throw new WorkLost();
      if (onLoss) return onLoss();
    }
  }
}

/**
 * Replaces the sandbox `err` says is lost (anything else is rethrown), up to the bound, a
 * replacement lost while it is set up included; the model is told what survived. Returns the
 * step after which changes were lost, if any were.
 */
async function replaceSandbox(run: TaskRun, err: unknown, during: string, interrupted?: InterruptedCall): Promise<number | undefined> {
  const { state } = run;
  const lostAfter = lostAfterStep(run.lastChangeStep, run.savedThroughStep);
  for (let cause = err; ; ) {
    const recovery = decideRecovery(cause, state.sandboxLosses);
    if (recovery.action === 'rethrow') throw cause;
    if (recovery.action === 'give_up') throw ApplicationFailure.nonRetryable(recovery.reason, FailureType.SandboxLost);
    const lost = run.sandboxId!;
    const loss: SandboxLoss = {
      at: new Date(Date.now()).toISOString(),
      sandboxId: lost,
      during,
      why: describeFailure(cause),
      restoredFrom: restoredFrom(state.checkpoint),
      ...(lostAfter !== undefined && { lostAfterStep: lostAfter }),
    };
    state.sandboxLosses++;
    (state.losses ??= []).push(loss);
    state.lastAction = `sandbox ${lost} lost during ${during}; restoring from ${loss.restoredFrom}`;
    await destroy(lost);
    run.sandboxId = `${run.taskId}-r${state.sandboxLosses}`;
    try {
      await provisionAndPrepare(run, state.checkpoint ? run.branchRef : undefined, { loss, ...(interrupted && { interrupted }) });
      break;
    } catch (again) {
      cause = again;
      during = 'the set-up of a replacement sandbox';
      interrupted = undefined;
    }
  }
  // The workspace is what the branch holds now.
  run.lastChangeStep = 0;
  run.savedThroughStep = state.step;
  run.note(restoreNote({ restoredFrom: restoredFrom(state.checkpoint), lostAfterStep: lostAfter, finished: !run.agentWorking }));
  return lostAfter;
}

/**
 * A new sandbox with the repository: the base, set up, then the work restored from
 * `restoreFrom` (a ref of the task branch). `replacing`: the loss this sandbox replaces.
 */
export async function provisionAndPrepare(run: TaskRun, restoreFrom?: string, replacing?: { loss: SandboxLoss; interrupted?: InterruptedCall }): Promise<void> {
  const { input, state, taskId } = run;
  const id = run.sandboxId!;
  await sandboxes.provisionSandbox({ taskId, sandboxId: id, allowNetwork: input.network === 'on', image: state.sandboxImage, ...(replacing && { replacing }) });
  const prepared = await workspace.prepareWorkspace({ taskId, sandboxId: id, repo: input.repo, baseBranch: state.baseBranch, branch: run.branch, testCommand: input.testCommand, restoreFrom });
  // The base of a follow-up is where its branch left the base branch, not the base's tip.
  run.baseSha ||= prepared.baseSha;
  run.testCommand ??= prepared.testCommand;
  const restore = restoreFrom || replacing ? { ...(restoreFrom && { ref: restoreFrom }), from: replacing?.loss.restoredFrom ?? `the task branch ${run.branch}` } : undefined;
  const setup = await workspace.setupRepository({
    taskId,
    sandboxId: id,
    repo: input.repo,
    baseBranch: state.baseBranch,
    baseSha: run.baseSha,
    ...(state.sandboxImage && { image: state.sandboxImage }),
    setupScript: input.setupScript,
    network: input.network !== 'off',
    agentNetwork: input.network === 'on',
    ...(restore && { restore }),
    ...(input.change && { change: { command: input.change.command, env: input.change.env } }),
  });
  run.changed = setup.change;
  run.instructionsKey ??= setup.instructionsKey;
  state.instructionsFrom ??= setup.instructionsFrom;
}

/**
 * Destroys a sandbox even while the task is being cancelled: cleanup is not skipped. A sandbox
 * that will not go is left to the reaper, which deletes sandboxes whose workflow has closed: a
 * task that did its work (a published PR) never fails for its cleanup.
 */
export async function destroy(sandboxId: string): Promise<void> {
  try {
    await CancellationScope.nonCancellable(() => sandboxes.destroySandbox({ sandboxId }));
  } catch (err) {
    log.warn('the sandbox could not be destroyed; the reaper removes it once the task has closed', { sandboxId, error: describeFailure(err) });
  }
}
