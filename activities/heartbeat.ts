// Long activities heartbeat while they wait, so Temporal notices a dead worker within the
// heartbeat timeout (8 s, workflows/coding-task.ts) and so cancellation (delivered with a
// heartbeat) reaches them. Every 2 s: the worker sends them on at most that often
// (maxHeartbeatThrottleInterval), leaving a live activity 6 s of slack. The first one comes after
// 2 s, not at once: an agent step's activities end in tens of milliseconds, and a heartbeat is a
// write in Temporal's database (two of the eight an agent step made).
import { Context } from '@temporalio/activity';

export const HEARTBEAT_EVERY_MS = 2_000;

export async function withHeartbeat<T>(work: (signal: AbortSignal) => Promise<T>, everyMs = HEARTBEAT_EVERY_MS): Promise<T> {
  const ctx = Context.current();
  const timer = setInterval(() => ctx.heartbeat(), everyMs);
  try {
    return await work(ctx.cancellationSignal);
  } finally {
    clearInterval(timer);
  }
}
