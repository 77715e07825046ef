// The activities of a scheduled run: the playbook read as the repository holds it when the run
// starts (so an edit to it counts from the next run), and the run's outcome counted on its
// schedule, which pauses itself after too many failures in a row.
import { FailureType } from '../../workflows/failures.js';
import type { ActivityContext } from '../context.js';
import { ErrandFailure } from '../../lib/failures/errand-failure.js';
import { preparePlaybookRun } from '../../lib/playbooks/catalog.js';

export function createPlaybookActivities({ forge, schedules }: ActivityContext) {
  return {
    async preparePlaybookRun(req: { repo: string; ref: string; name: string; params: Record<string, unknown> }) {
      const run = await preparePlaybookRun(forge, req);
      if (!run.ok) {
        throw ErrandFailure.permanent(FailureType.PlaybookUnavailable, `playbook ${req.name} cannot run on ${req.repo}: ${run.issues.map((i) => `${i.field}: ${i.message}`).join('; ')}`);
      }
      return { prompt: run.prompt, playbook: run.playbook, runs: run.runs };
    },

    async recordScheduledRun(req: { temporalScheduleId: string; failed: boolean; reason?: string }) {
      if (!schedules) throw new Error('this worker has no Temporal client for schedules');
      return (await schedules.recordRun(req.temporalScheduleId, req)) ?? null;
    },
  };
}
