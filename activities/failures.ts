// Failures the providers and helpers throw without knowing Temporal: a stable type (one of
// FailureType), whether retrying can help, and how long to wait first. The activity layer turns
// them, and every other error, into what Temporal carries (toActivityFailure), redacted, in
// this one place.
import { ApplicationFailure } from '@temporalio/common';
import type { FailureType } from '../workflows/failures.js';
import type { Redactor } from './store/redactor.js';

export class ErrandFailure extends Error {
  constructor(
    readonly type: FailureType,
    message: string,
    /** Retrying can help (a 5xx, a rate limit); otherwise the task ends with this. */
    readonly retryable = false,
    /** Wait this long before the next attempt (Retry-After), instead of the policy's back-off. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = type;
  }

  static permanent(type: FailureType, message: string): ErrandFailure {
    return new ErrandFailure(type, message, false);
  }

  static transient(type: FailureType, message: string, retryAfterMs?: number): ErrandFailure {
    return new ErrandFailure(type, message, true, retryAfterMs);
  }
}

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
    return ApplicationFailure.create({ message, type: err.type ?? undefined, nonRetryable: err.nonRetryable ?? undefined, details: err.details ?? undefined, nextRetryDelay: err.nextRetryDelay });
  }
  err.message = message;
  err.stack = undefined;
  return err;
}
