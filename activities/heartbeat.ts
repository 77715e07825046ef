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

/**
 * `work` as an activity waits for it: heartbeating, when it runs in an activity that heartbeats
 * (not a local one), so a wait that lasts (storage riding out an outage) is a live activity, not
 * a dead worker's. Outside an activity, just `work`.
 */
export async function heartbeatingWhile<T>(work: () => Promise<T>): Promise<T> {
  let inActivity = false;
  try {
    inActivity = !Context.current().info.isLocal;
  } catch {
    // not in an activity
  }
  return inActivity ? withHeartbeat(work) : work();
}
