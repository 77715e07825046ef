// sandboxReaper: run by a Temporal Schedule, it deletes sandboxes nobody will use again and
// returns what it deleted, which Temporal UI shows as the run's result.
import { proxyActivities } from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';

const { reapSandboxes } = proxyActivities<ReturnType<typeof createActivities>>({
  startToCloseTimeout: '5 minutes',
  retry: { maximumAttempts: 3 },
});

export async function sandboxReaper(): Promise<Awaited<ReturnType<typeof reapSandboxes>>> {
  return reapSandboxes();
}
