// What tasks and the admission workflow (workflows/admission.ts) ask of Temporal: a lease, and
// which lease holders have closed without giving theirs back.
import type { ActivityContext } from '../context.js';
import type { AdmissionRequest } from '../../workflows/contracts/admission.js';

export function createAdmissionActivities(ctx: ActivityContext) {
  return {
    /** Queues the task for a lease. `gated: false` when this server sets no limit or budget: it runs at once. */
    async requestAdmission(req: Omit<AdmissionRequest, 'limits'>): Promise<{ gated: boolean }> {
      if (!ctx.admission) return { gated: false };
      await ctx.admission.request(req);
      return { gated: true };
    },

    /** Of these workflows, those that are closed or gone (terminated, timed out, deleted). */
    async endedWorkflows(workflowIds: string[]): Promise<string[]> {
      if (!ctx.workflows) return [];
      const statuses = await Promise.all(workflowIds.map((id) => ctx.workflows!.status(id)));
      return workflowIds.filter((_, i) => statuses[i] !== 'running');
    },
  };
}
