// Telling the place a task was asked for (a Slack thread) how it goes: its plan to approve, its
// PR, how it ended. Only a task with an origin reports; a report that cannot be made is dropped
// after a few tries and never holds the task up or fails it.
import { CancellationScope, proxyActivities } from '@temporalio/workflow';
import type { createActivities } from '../../activities/index.js';
import type { OriginReport } from '../contracts/task.js';
import type { TaskRun } from './run.js';

type Activities = ReturnType<typeof createActivities>;

const { reportToOrigin } = proxyActivities<Pick<Activities, 'reportToOrigin'>>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 5 },
});

export async function tellOrigin(run: TaskRun, report: OriginReport): Promise<void> {
  const origin = run.input.origin;
  if (!origin) return;
  // Even while the task is being cancelled: the thread hears how it ended.
  await CancellationScope.nonCancellable(() => reportToOrigin({ taskId: run.taskId, origin, report, taskUrl: run.input.links?.task }).catch(() => undefined));
}
