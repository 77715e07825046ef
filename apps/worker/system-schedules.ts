// Errand's own schedules (workflows/names.ts SYSTEM_SCHEDULES): the sandbox reaper, which
// deletes the sandboxes whose task's workflow has closed or is unknown, and the environment
// refresh, which keeps recently used repositories' environments up to date. Each worker makes
// sure they run as configured: made when missing, their interval set when it was changed,
// deleted when turned off (0). Overlaps are skipped.
import { ScheduleAlreadyRunning, ScheduleNotFoundError, ScheduleOverlapPolicy, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { SYSTEM_SCHEDULES, systemScheduleTemporalId, type SystemScheduleId } from '../../workflows/names.js';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';

export async function ensureSystemSchedules(client: Client, config: Config, log: Logger): Promise<void> {
  for (const id of Object.keys(SYSTEM_SCHEDULES) as SystemScheduleId[]) {
    await ensureSchedule(client, config, log, id, config.systemSchedules[id]);
  }
}

async function ensureSchedule(client: Client, config: Config, log: Logger, id: SystemScheduleId, minutes: number): Promise<void> {
  const scheduleId = systemScheduleTemporalId(id, config.temporal.taskQueue);
  const handle = client.schedule.getHandle(scheduleId);
  const every = minutes * 60_000;
  const current = await handle.describe().catch((err: unknown) => (err instanceof ScheduleNotFoundError ? undefined : Promise.reject(err)));
  if (!minutes) {
    if (current) {
      await handle.delete().catch((err: unknown) => (err instanceof ScheduleNotFoundError ? undefined : Promise.reject(err)));
      log.info({ scheduleId }, `${id} turned off (${SYSTEM_SCHEDULES[id].setting}=0): its schedule is deleted`);
    }
    return;
  }
  const spec = { intervals: [{ every }] };
  if (current) {
    const was = current.spec.intervals?.[0]?.every;
    if (current.spec.intervals?.length === 1 && Number(was) === every) return;
    // Another worker may be doing the same: the last one's is the same spec.
    await handle.update((previous) => ({ ...previous, spec })).catch((err: unknown) => (err instanceof ScheduleNotFoundError ? undefined : Promise.reject(err)));
    log.info({ scheduleId, everyMinutes: minutes }, `${id} rescheduled`);
    return;
  }
  try {
    await client.schedule.create({
      scheduleId,
      spec,
      action: { type: 'startWorkflow', workflowType: SYSTEM_SCHEDULES[id].workflowType, taskQueue: config.temporal.taskQueue, workflowId: scheduleId, args: [] },
      policies: { overlap: ScheduleOverlapPolicy.SKIP },
    });
    log.info({ scheduleId, everyMinutes: minutes }, `${id} scheduled`);
  } catch (err) {
    // Another worker made it first.
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
