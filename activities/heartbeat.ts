// Long activities heartbeat while they wait, so Temporal notices a dead worker within the
// heartbeat timeout and so cancellation (delivered with a heartbeat) reaches them.
import { Context } from '@temporalio/activity';

export async function withHeartbeat<T>(work: (signal: AbortSignal) => Promise<T>, everyMs = 5_000): Promise<T> {
  const ctx = Context.current();
  ctx.heartbeat();
  const timer = setInterval(() => ctx.heartbeat(), everyMs);
  try {
    return await work(ctx.cancellationSignal);
  } finally {
    clearInterval(timer);
  }
}
