// Long activities heartbeat while they wait, so Temporal notices a dead worker within the
// heartbeat timeout (8 s, workflows/coding-task.ts) and so cancellation (delivered with a
// heartbeat) reaches them. Every 2 s: the worker sends them on at most that often
// (maxHeartbeatThrottleInterval), leaving a live activity 6 s of slack.
import { Context } from '@temporalio/activity';

export const HEARTBEAT_EVERY_MS = 2_000;

export async function withHeartbeat<T>(work: (signal: AbortSignal) => Promise<T>, everyMs = HEARTBEAT_EVERY_MS): Promise<T> {
  const ctx = Context.current();
  ctx.heartbeat();
  const timer = setInterval(() => ctx.heartbeat(), everyMs);
  try {
    return await work(ctx.cancellationSignal);
  } finally {
    clearInterval(timer);
  }
}
