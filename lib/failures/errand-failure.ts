// Failures the providers and helpers throw without knowing Temporal: a stable type (one of
// FailureType), whether retrying can help, and how long to wait first. The activity layer turns
// them, and every other error, into what Temporal carries (activities/failures.ts,
// toActivityFailure), redacted, in that one place.
import type { FailureType } from '../../workflows/failures.js';

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
