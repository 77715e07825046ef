// What the workflow does when something fails under it: pure decisions, so they are
// unit-tested apart from Temporal. A lost sandbox (pod evicted, directory removed) is replaced
// and the workspace restored from the last checkpoint, up to a bound; anything else is the
// activity retry policy's business and reaches the workflow only once retrying is over.
import { FailureType, failureType } from './failures.js';

/** Sandboxes one task may lose before it gives up: beyond this, the cause is not one bad node. */
export const MAX_SANDBOX_LOSSES = 3;

export type Recovery = { action: 'restore' } | { action: 'give_up'; reason: string } | { action: 'rethrow' };

/** `lossesSoFar` counts the sandboxes lost before this failure. */
export function decideRecovery(err: unknown, lossesSoFar: number, maxLosses = MAX_SANDBOX_LOSSES): Recovery {
  if (failureType(err) !== FailureType.SandboxGone) return { action: 'rethrow' };
  if (lossesSoFar >= maxLosses) {
    return { action: 'give_up', reason: `lost ${lossesSoFar + 1} sandboxes in one task (at most ${maxLosses} are replaced); check the sandbox provider's health` };
  }
  return { action: 'restore' };
}

/**
 * Tools that only read, as histories recorded before a call said so itself
 * (patched('calls-say-if-they-read')) decided; any other tool may have changed the workspace.
 */
const READ_ONLY_BEFORE_CALLS_SAID = new Set(['read_file', 'list_dir', 'search', 'submit_plan', 'finish']);

/** Whether `call` only reads: the call says so (the registry stamped it), or, replaying an older history, its name. */
export function onlyReads(call: { name: string; readOnly?: boolean }, callsSay: boolean): boolean {
  return callsSay ? call.readOnly === true : READ_ONLY_BEFORE_CALLS_SAID.has(call.name);
}

/**
 * What a lost sandbox took with it: the changes made after `savedThrough` (the step through
 * which the workspace was on the branch), when a tool that may change files ran since.
 * Undefined when the branch holds everything.
 */
export function lostAfterStep(lastChange: number, savedThrough: number): number | undefined {
  return lastChange > savedThrough ? savedThrough : undefined;
}

/** Where a replacement's workspace comes back from, in words. */
export function restoredFrom(checkpoint: { sha: string; step: number } | undefined): string {
  return checkpoint ? `the checkpoint taken after step ${checkpoint.step} (commit ${checkpoint.sha.slice(0, 12)})` : 'the base branch (there was no checkpoint yet)';
}

/**
 * What the model is told after its sandbox was replaced, so it knows which of its work
 * survived; when it had already called finish, that it must redo the lost work and finish again.
 */
export function restoreNote(loss: { restoredFrom: string; lostAfterStep?: number; finished: boolean }): string {
  const lost =
    loss.lostAfterStep === undefined
      ? 'Nothing you did was lost.'
      : `Changes made after ${loss.lostAfterStep ? `step ${loss.lostAfterStep}` : 'the start'} are gone: check the files and redo what is still needed.`;
  const again =
    loss.finished && loss.lostAfterStep !== undefined ? ' You had called finish, but the work you finished with is not in the workspace any more: redo it, run the tests, then call finish again.' : '';
  return `[errand] The sandbox was lost and replaced; the workspace was restored from ${loss.restoredFrom}. ${lost}${again} The conversation is intact; carry on.`;
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
