// A model client that tells a task's events when a call fails in a way the retry policy will
// retry (429, 5xx, unreachable), with the reason and how long until the next attempt: nobody
// watches, and a task waiting on a rate limit should say so.
import { Context } from '@temporalio/activity';
import { FailureType } from '../../workflows/failures.js';
import type { ActivityContext } from '../context.js';
import { ErrandFailure } from '../../lib/failures/errand-failure.js';
import type { ModelClient } from './model-client.js';

export function tellingRetries(client: ModelClient, event: ActivityContext['event'], taskId: string, at: { step: number } | { round: number }): ModelClient {
  return {
    model: client.model,
    settings: client.settings,
    complete: async (req, signal) => {
      try {
        return await client.complete(req, signal);
      } catch (err) {
        if (err instanceof ErrandFailure && err.type === FailureType.ModelUnavailable) {
          const attempt = Context.current().info.attempt;
          const label = 'step' in at ? `step:${at.step}` : `review:${at.round}`;
          const retryInSeconds = err.retryAfterMs === undefined ? null : err.retryAfterMs / 1000;
          await event(taskId, { id: `${label}:model-retry:${attempt}`, type: 'model_retry', ...at, attempt, reason: err.message, retryInSeconds });
        }
        throw err;
      }
    },
  };
}
