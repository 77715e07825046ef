// The decisions the workflow makes when something fails under it, apart from Temporal: which
// failures mean a lost sandbox, when to restore and when to give up, what the model is told,
// and when to checkpoint and continue as new.
import { describe, expect, it } from '@jest/globals';
import { ActivityFailure, ApplicationFailure, RetryState } from '@temporalio/common';
import { failureType } from '../../workflows/failures.js';
import {
  decideRecovery,
  isCheckpointStep,
  lostAfterStep,
  MAX_SANDBOX_LOSSES,
  onlyReads,
  restoredFrom,
  restoreNote,
  shouldContinueAsNew,
  STEPS_PER_RUN,
} from '../../workflows/recovery.js';

const activityFailure = (cause: Error) => new ActivityFailure('activity failed', 'runTool', '7', RetryState.NON_RETRYABLE_FAILURE, 'worker-1', cause);
const gone = activityFailure(ApplicationFailure.create({ type: 'SandboxGone', message: 'sandbox t1 is gone', nonRetryable: true }));

describe('decideRecovery', () => {
  it('restores a lost sandbox until the bound, then gives up saying why', () => {
    expect(failureType(gone)).toBe('SandboxGone');
    for (let losses = 0; losses < MAX_SANDBOX_LOSSES; losses++) expect(decideRecovery(gone, losses)).toEqual({ action: 'restore' });
    expect(decideRecovery(gone, MAX_SANDBOX_LOSSES)).toEqual({
      action: 'give_up',
      reason: `lost ${MAX_SANDBOX_LOSSES + 1} sandboxes in one task (at most ${MAX_SANDBOX_LOSSES} are replaced); check the sandbox provider's health`,
    });
  });

  it('leaves every other failure to the retry policy and the task (rethrow)', () => {
    const rejected = activityFailure(ApplicationFailure.create({ type: 'ModelRequestRejected', message: '401', nonRetryable: true }));
    expect(decideRecovery(rejected, 0)).toEqual({ action: 'rethrow' });
    expect(decideRecovery(new Error('plain'), 0)).toEqual({ action: 'rethrow' });
    expect(decideRecovery(activityFailure(new Error('timeout')), 0)).toEqual({ action: 'rethrow' });
  });
});

describe('restoreNote', () => {
  it('tells the model from where the workspace came back and what was lost', () => {
    expect(restoreNote({ restoredFrom: restoredFrom({ sha: 'abcdef0123456789', step: 4 }), lostAfterStep: 4, finished: false })).toBe(
      '[errand] The sandbox was lost and replaced; the workspace was restored from the checkpoint taken after step 4 (commit abcdef012345). Changes made after step 4 are gone: check the files and redo what is still needed. The conversation is intact; carry on.',
    );
    expect(restoreNote({ restoredFrom: restoredFrom(undefined), lostAfterStep: 0, finished: false })).toContain(
      'restored from the base branch (there was no checkpoint yet). Changes made after the start are gone',
    );
    expect(restoreNote({ restoredFrom: restoredFrom({ sha: 'abc', step: 6 }), finished: true })).toContain('Nothing you did was lost.');
  });

  it('sends an agent that had finished back to redo what was lost and finish again', () => {
    expect(restoreNote({ restoredFrom: restoredFrom({ sha: 'abc', step: 5 }), lostAfterStep: 5, finished: true })).toContain(
      'You had called finish, but the work you finished with is not in the workspace any more: redo it, run the tests, then call finish again.',
    );
  });
});

describe('what a lost sandbox took', () => {
  it('is the changes after the step the branch holds, when a tool that may change files ran since', () => {
    expect(lostAfterStep(7, 5)).toBe(5);
    expect(lostAfterStep(5, 7)).toBeUndefined(); // a checkpoint after the last change: nothing lost
    expect(lostAfterStep(0, 0)).toBeUndefined();
  });

  it('takes a call at its word on whether it only reads, and an older history by its tool names', () => {
    expect(onlyReads({ name: 'memory__read_graph', readOnly: true }, true)).toBe(true);
    expect(onlyReads({ name: 'read_file' }, true)).toBe(false); // a call that says nothing may have changed anything
    expect(onlyReads({ name: 'read_file', readOnly: false }, true)).toBe(false);
    expect(['shell', 'write_file', 'edit_file', 'some_new_tool'].some((name) => onlyReads({ name }, false))).toBe(false);
    expect(['read_file', 'list_dir', 'search', 'finish', 'submit_plan'].every((name) => onlyReads({ name }, false))).toBe(true);
  });
});

describe('checkpoints and continue-as-new', () => {
  it('checkpoints every N steps', () => {
    expect([1, 2, 3, 4, 5, 6].filter((s) => isCheckpointStep(s, 3))).toEqual([3, 6]);
    expect(isCheckpointStep(5, 0)).toBe(false);
  });

  it('continues as new after a bounded number of steps or history events, or when Temporal suggests it', () => {
    expect(shouldContinueAsNew(STEPS_PER_RUN - 1, false, 2_000)).toBe(false);
    expect(shouldContinueAsNew(STEPS_PER_RUN, false, 2_000)).toBe(true);
    expect(shouldContinueAsNew(3, true, 100)).toBe(true);
    expect(shouldContinueAsNew(3, false, 10_000)).toBe(true);
  });
});
