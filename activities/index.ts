// createActivities: every activity the worker registers, one group per domain, built from the
// providers it is given (tests pass real local ones, production Kubernetes and GitHub ones).
// Every failure leaves through toActivityFailure: typed for Temporal, and redacted.
import { createAdmissionActivities } from './admission/activities.js';
import { createAgentActivities } from './agent/activities.js';
import { activityContext, type ActivityDeps } from './context.js';
import { toActivityFailure } from './failures.js';
import { createDependencyActivities } from './dependencies/activities.js';
import { createEnvironmentActivities } from './environment/activities.js';
import { createForgeActivities } from './forge/activities.js';
import { createGitActivities } from './git/activities.js';
import { createPlaybookActivities } from './playbooks/activities.js';
import { createOriginActivities } from './origin/activities.js';
import { createReviewActivities } from './review/activities.js';
import { createSandboxActivities } from './sandbox/activities.js';
import type { Redactor } from '../lib/storage/redactor.js';

export type { ActivityDeps };

export function createActivities(deps: ActivityDeps) {
  const ctx = activityContext(deps);
  return asActivityFailures(deps.redactor, {
    ...createSandboxActivities(ctx),
    ...createGitActivities(ctx),
    ...createAgentActivities(ctx),
    ...createReviewActivities(ctx),
    ...createForgeActivities(ctx),
    ...createPlaybookActivities(ctx),
    ...createDependencyActivities(ctx),
    ...createAdmissionActivities(ctx),
    ...createEnvironmentActivities(ctx),
    ...createOriginActivities(ctx),
  });
}

function asActivityFailures<T extends Record<string, (...args: never[]) => Promise<unknown>>>(redactor: Redactor, activities: T): T {
  const wrapped: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(activities)) {
    wrapped[name] = async (...args: never[]) => {
      try {
        return await fn(...args);
      } catch (err) {
        throw toActivityFailure(err, redactor);
      }
    };
  }
  return wrapped as T;
}
