// Where every failure of an activity becomes what Temporal carries (toActivityFailure), redacted,
// in this one place: an ErrandFailure (lib/failures/errand-failure.ts, what providers and helpers
// throw without knowing Temporal) with its type and retry advice, any other error as it is.
import { ApplicationFailure } from '@temporalio/common';
import { ErrandFailure } from '../lib/failures/errand-failure.js';
import type { Redactor } from '../lib/storage/redactor.js';

/**
 * What an activity's failure becomes on its way to Temporal: ours as an ApplicationFailure
 * with its type and retry advice, any other as it is; every message redacted, since failures
 * enter workflow history and the task's state and often quote command output.
 */
export function toActivityFailure(err: unknown, redactor: Redactor): unknown {
  if (err instanceof ErrandFailure) {
    return ApplicationFailure.create({ type: err.type, message: redactor.redact(err.message), nonRetryable: !err.retryable, nextRetryDelay: err.retryAfterMs });
  }
  if (!(err instanceof Error)) return err;
  const message = redactor.redact(err.message);
  if (message === err.message) return err;
  if (err instanceof ApplicationFailure) {
    return ApplicationFailure.create({ message, type: err.type ?? undefined, nonRetryable: err.nonRetryable ?? undefined, details: err.details ?? undefined, nextRetryDelay: err.nextRetryDelay ?? undefined });
  }
  err.message = message;
  err.stack = undefined;
  return err;
}
