// The task's lease from the admission workflow (workflows/admission.ts): asked for before the
// task takes a sandbox, and given back, with what it spent, when it ends or waits for feedback
// without one. While it waits for the lease it is `queued`. A server without limits or budget
// grants at once (the activity says so) and is never told anything.
import { CancellationScope, condition, getExternalWorkflowHandle, patched, proxySinks, setHandler, workflowInfo } from '@temporalio/workflow';
import { admissionReleaseSignal, admittedSignal } from '../contracts/admission.js';
import type { ErrandSinks } from '../contracts/sinks.js';
import { admissionWorkflowId } from '../names.js';
import { admission } from './activities.js';
import type { TaskRun } from './run.js';

const { metrics } = proxySinks<ErrandSinks>();

export function handleAdmission(run: TaskRun): void {
  setHandler(admittedSignal, () => {
    if (run.lease === 'waiting') run.lease = 'held';
  });
}

/** Returns once the task may run: at once, or when the admission workflow grants its lease. */
export async function admit(run: TaskRun): Promise<void> {
  if (run.lease === 'held' || !patched('admission')) return;
  const { input, state } = run;
  run.lease = 'waiting';
  const asked = Date.now();
  const { gated } = await admission.requestAdmission({ workflowId: workflowInfo().workflowId, taskId: input.taskId, repo: input.repo, requester: input.requester ?? 'unknown' });
  if (!gated) {
    run.lease = undefined;
    return;
  }
  if (run.lease === 'waiting') {
    run.enter('queued', 'waiting for a slot: the limit of running tasks is reached (GET /tasks/:id shows its place)');
    await condition(() => run.lease === 'held');
  }
  metrics.taskAdmitted((Date.now() - asked) / 1000);
  run.leaseCostFrom = state.costUsd;
}

/** Gives the lease back (or leaves the queue); a no-op when it holds none. Runs even in a cancelled task. */
export async function giveBack(run: TaskRun): Promise<void> {
  if (!run.lease) return;
  const release = { workflowId: workflowInfo().workflowId, requester: run.input.requester ?? 'unknown', costUsd: run.state.costUsd - (run.leaseCostFrom ?? run.state.costUsd) };
  run.lease = undefined;
  run.leaseCostFrom = undefined;
  // A missing admission workflow (deleted by hand) holds nothing of this task's.
  await CancellationScope.nonCancellable(() => getExternalWorkflowHandle(admissionWorkflowId(workflowInfo().taskQueue)).signal(admissionReleaseSignal, release)).catch(() => undefined);
}
