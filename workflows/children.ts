// Tasks a workflow runs as its children (a campaign's, a task's attempts), started, awaited and
// cancelled alike: started and awaited outside the parent's cancellation, so the parent cancels
// each itself, having first told it who asked.
import { CancellationScope, type ChildWorkflowHandle, getExternalWorkflowHandle } from '@temporalio/workflow';
import { cancelRequestedSignal } from './contracts/control.js';
import { taskWorkflowId } from './names.js';

/** Whether the parent is being cancelled, and who to name to its tasks as cancelling them. */
export interface Stopping {
  requested: boolean;
  by: () => string;
}

/**
 * Cancels a child task, having told it who asked: signalled, then (once the signal is in)
 * cancelled, an order Temporal does not keep for a signal and a cancellation sent together.
 * A task not started, or ended, is left as it is.
 */
export async function stopTask(taskId: string, by: string): Promise<void> {
  const task = getExternalWorkflowHandle(taskWorkflowId(taskId));
  await task.signal(cancelRequestedSignal, { by }).catch(() => undefined);
  await task.cancel().catch(() => undefined);
}

/**
 * Starts a task and waits for its end, both outside the parent's cancellation: the parent
 * cancels its tasks itself (stopTask), this one too if it started while that was under way.
 */
export async function child<R>(taskId: string, stopping: Stopping, start: () => Promise<ChildWorkflowHandle<() => Promise<R>>>): Promise<R> {
  const handle = await CancellationScope.nonCancellable(start);
  if (stopping.requested) await CancellationScope.nonCancellable(() => stopTask(taskId, stopping.by()));
  return CancellationScope.nonCancellable(() => handle.result());
}
