// What the workflow does when something fails under it: pure decisions, so they are
// unit-tested apart from Temporal. A lost sandbox (pod evicted, directory removed) is replaced
// and the workspace restored from the last checkpoint, up to a bound; anything else is the
// activity retry policy's business and reaches the workflow only once retrying is over.
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import { FailureType } from './contracts.js';

/** Sandboxes one task may lose before it gives up: beyond this, the cause is not one bad node. */
export const MAX_SANDBOX_LOSSES = 3;

export type Recovery = { action: 'restore' } | { action: 'give_up'; reason: string } | { action: 'rethrow' };

/** The typed failure at the root of an activity failure, if any. */
export function failureType(err: unknown): string | undefined {
  let cur: unknown = err;
  while (cur instanceof ActivityFailure && cur.cause) cur = cur.cause;
  return cur instanceof ApplicationFailure ? (cur.type ?? undefined) : undefined;
}

/** `lossesSoFar` counts the sandboxes lost before this failure. */
export function decideRecovery(err: unknown, lossesSoFar: number, maxLosses = MAX_SANDBOX_LOSSES): Recovery {
  if (failureType(err) !== FailureType.SandboxGone) return { action: 'rethrow' };
  if (lossesSoFar >= maxLosses) {
    return { action: 'give_up', reason: `lost ${lossesSoFar + 1} sandboxes in one task (at most ${maxLosses} are replaced); check the sandbox provider's health` };
  }
  return { action: 'restore' };
}

/** What the model is told after its sandbox was replaced, so it knows which of its work survived. */
export function restoreNote(checkpoint: { sha: string; step: number } | undefined, step: number): string {
  const from = checkpoint
    ? `restored from the checkpoint taken after step ${checkpoint.step} (commit ${checkpoint.sha.slice(0, 12)})`
    : 'restored from the base branch (there was no checkpoint yet)';
  const lost = checkpoint && checkpoint.step >= step ? 'Nothing you did was lost.' : `Changes made after ${checkpoint ? `step ${checkpoint.step}` : 'the start'} are gone: check the files and redo what is still needed.`;
  return `[errand] The sandbox was lost and replaced; the workspace was ${from}. ${lost} The conversation is intact; carry on.`;
}

/** Whether this step is a checkpoint step: every `every` steps (the checkpoint itself commits only a changed tree). */
export function isCheckpointStep(step: number, every: number): boolean {
  return every > 0 && step % every === 0;
}

/** Continue as new after this many steps in one run, or earlier when Temporal suggests it. */
export const STEPS_PER_RUN = 100;

export function shouldContinueAsNew(stepsThisRun: number, suggested: boolean, historyLength: number): boolean {
  return suggested || stepsThisRun >= STEPS_PER_RUN || historyLength >= 10_000;
}
