// sandboxReaper: run by a Temporal Schedule, it deletes sandboxes nobody will use again and
// returns what it deleted, which Temporal UI shows as the run's result.
import { proxyActivities } from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';

const { reapSandboxes } = proxyActivities<ReturnType<typeof createActivities>>({
  startToCloseTimeout: '5 minutes',
  retry: { maximumAttempts: 3 },
});

export async function sandboxReaper(): Promise<Awaited<ReturnType<typeof reapSandboxes>> & { summary: string }> {
  const reaped = await reapSandboxes();
  // In words, for the schedule's recent runs (the console's outcome column).
  return { ...reaped, summary: `deleted ${reaped.deleted.length} sandbox${reaped.deleted.length === 1 ? '' : 'es'}, kept ${reaped.kept}` };
}
