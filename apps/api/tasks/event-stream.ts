// Server-sent events for GET /tasks/:id/events: replays a task's event log from the start (or
// from after the Last-Event-ID a reconnecting client sends), then follows it live until the
// task has closed, and ends with an `end` event that carries the task's final status.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { taskEvents } from '../../../lib/storage/events.js';
import type { LogStore } from '../../../lib/storage/storage.js';

export interface EventStreamOptions {
  logs: LogStore;
  taskId: string;
  /** The task's status while running, or its final status once closed. */
  status: () => Promise<{ closed: boolean; status: string }>;
  /** Aborted when the API shuts down: the stream ends and the client reconnects elsewhere. */
  signal?: AbortSignal;
  pollMs?: number;
  statusEveryMs?: number;
  keepAliveMs?: number;
}

export async function streamTaskEvents(req: IncomingMessage, res: ServerResponse, o: EventStreamOptions): Promise<void> {
  const resumeAfter = Number.parseInt(String(req.headers['last-event-id'] ?? ''), 10);
  const skipThrough = Number.isInteger(resumeAfter) ? resumeAfter : -1;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no', // no proxy buffering (nginx)
  });
  res.write('retry: 2000\n\n');
  let gone = false;
  req.once('close', () => {
    gone = true;
  });
  // Every replica numbers a task's events alike (the log's seq), so a client resumes on any.
  const reader = taskEvents(o.logs, o.taskId, skipThrough);
  const pollMs = o.pollMs ?? 250;
  const statusEveryMs = o.statusEveryMs ?? 1_000;
  const keepAliveMs = o.keepAliveMs ?? 15_000;
  let lastStatusCheck = 0;
  let lastWrite = Date.now();
  const flush = async () => {
    for (const { seq, record: event } of await reader.next()) {
      res.write(`id: ${seq}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
      lastWrite = Date.now();
    }
  };
  while (!gone && !o.signal?.aborted) {
    await flush();
    if (Date.now() - lastStatusCheck >= statusEveryMs) {
      lastStatusCheck = Date.now();
      // Temporal briefly unreachable is no reason to drop the client: try again next round.
      const s = await o.status().catch(() => ({ closed: false, status: 'unknown' }));
      if (s.closed) {
        await flush(); // whatever the last activities wrote before the task closed
        res.write(`event: end\ndata: ${JSON.stringify({ status: s.status })}\n\n`);
        break;
      }
    }
    if (Date.now() - lastWrite >= keepAliveMs) {
      res.write(': keep-alive\n\n');
      lastWrite = Date.now();
    }
    await sleep(pollMs);
  }
  res.end();
}
