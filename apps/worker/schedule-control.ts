// What activities may ask of Temporal's schedules, through the worker's client: count a run's
// outcome on its schedule, which pauses itself after too many failures in a row. The count
// lives in the schedule's own action (the ScheduledRun each run starts from), changed with one
// conflict-checked update, so it needs no store of its own and no eventually consistent listing.
import { ScheduleNotFoundError, type Client } from '@temporalio/client';
import type { ScheduleControl } from '../../activities/context.js';
import type { ScheduledRun } from '../../workflows/contracts/schedules.js';

export function scheduleControl(client: Client): ScheduleControl {
  return {
    async recordRun(scheduleId, outcome) {
      let counted: { failuresInARow: number; paused: boolean } | undefined;
      try {
        await client.schedule.getHandle(scheduleId).update((previous) => {
          const run = previous.action.args?.[0] as ScheduledRun;
          const failuresInARow = outcome.failed ? (run.failuresInARow ?? 0) + 1 : 0;
          const pause = outcome.failed && failuresInARow >= run.maxFailures;
          counted = { failuresInARow, paused: pause };
          return {
            ...previous,
            action: { ...previous.action, args: [{ ...run, failuresInARow }] },
            state: pause ? { paused: true, note: `paused by Errand after ${failuresInARow} failed runs in a row; the last: ${(outcome.reason ?? 'unknown').slice(0, 1_000)}` } : { paused: previous.state.paused, note: previous.state.note },
          };
        });
      } catch (err) {
        if (err instanceof ScheduleNotFoundError) return undefined; // deleted meanwhile
        throw err;
      }
      return counted;
    },
  };
}
