// environmentRefresh: run by Errand's environment-refresh schedule. It evicts what outlived its
// time or is over the limits, then refreshes, one at a time, the environments of the
// repositories tasks used lately: each in a sandbox of its own on its base branch's tip, where
// the setup runs only when no environment is kept for the tip's inputs (a lockfile changed, the
// setup script changed), so the next task after such a change starts warm too. It returns what
// it did, which Temporal UI and GET /schedules/environment-refresh show. A repository whose
// refresh fails is told and skipped; the others go on.
import { proxyActivities } from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import type { RefreshOutcome } from '../activities/environment/activities.js';
import { describeFailure, FailureType } from './failures.js';

type Activities = ReturnType<typeof createActivities>;

const store = proxyActivities<Pick<Activities, 'environmentsToRefresh' | 'evictEnvironments'>>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { maximumAttempts: 3 },
});

/** A repository's setup may take long; a dead worker is noticed by the heartbeat. */
const refresher = proxyActivities<Pick<Activities, 'refreshEnvironment'>>({
  startToCloseTimeout: '70 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { maximumAttempts: 2, nonRetryableErrorTypes: [FailureType.SetupFailed, FailureType.RepoUnavailable, FailureType.RepoTooLarge, FailureType.SandboxGone] },
});

export interface EnvironmentRefreshResult {
  /** In words, for the schedule's recent runs (the console's outcome column). */
  summary: string;
  evicted: number;
  repositories: (RefreshOutcome | { repo: string; outcome: 'failed'; why: string })[];
}

export async function environmentRefresh(): Promise<EnvironmentRefreshResult> {
  const { evicted } = await store.evictEnvironments();
  const repositories: EnvironmentRefreshResult['repositories'] = [];
  for (const target of await store.environmentsToRefresh()) {
    try {
      repositories.push(await refresher.refreshEnvironment(target));
    } catch (err) {
      repositories.push({ repo: target.repo, outcome: 'failed', why: describeFailure(err) });
    }
  }
  const count = (outcome: string) => repositories.filter((r) => r.outcome === outcome).length;
  const failed = repositories.filter((r) => r.outcome === 'failed').map((r) => `${r.repo}: ${'why' in r ? r.why : ''}`);
  const summary = [
    `${repositories.length} ${repositories.length === 1 ? 'repository' : 'repositories'} looked at: ${count('refreshed')} refreshed, ${count('fresh')} fresh, ${count('skipped')} skipped, ${failed.length} failed`,
    `${evicted} evicted`,
    ...failed.slice(0, 3),
  ].join('; ');
  return { summary, evicted, repositories };
}
