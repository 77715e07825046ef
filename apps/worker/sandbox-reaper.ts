// The reaper: a Temporal Schedule runs the sandboxReaper workflow every few minutes, which
// deletes the sandboxes whose task's workflow has closed or is unknown (a terminated task, a
// deleted namespace) and says what it deleted. Overlaps are skipped.
import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { REAPER_WORKFLOW_TYPE, reaperScheduleId } from '../../workflows/names.js';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';

/** Creates the schedule once (per task queue); a schedule that exists already is left as it is. */
export async function ensureReaperSchedule(client: Client, config: Config, log: Logger): Promise<void> {
  const minutes = config.sandbox.reaperIntervalMinutes;
  if (!minutes) return;
  const scheduleId = reaperScheduleId(config.temporal.taskQueue);
  try {
    await client.schedule.create({
      scheduleId,
      spec: { intervals: [{ every: `${minutes} minutes` }] },
      action: { type: 'startWorkflow', workflowType: REAPER_WORKFLOW_TYPE, taskQueue: config.temporal.taskQueue, workflowId: scheduleId, args: [] },
      policies: { overlap: ScheduleOverlapPolicy.SKIP },
    });
    log.info({ scheduleId, everyMinutes: minutes }, 'sandbox reaper scheduled');
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
}

export async function workflowStatus(client: Client, workflowId: string): Promise<'running' | 'closed' | 'unknown'> {
  try {
    const d = await client.workflow.getHandle(workflowId).describe();
    return d.status.name === 'RUNNING' ? 'running' : 'closed';
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return 'unknown';
    throw err;
  }
}
