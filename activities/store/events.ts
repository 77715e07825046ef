// A task's event log: one JSON line per event in the ArtifactStore, tailed by the API for
// GET /tasks/:id/events. Ids are deterministic, so a retried activity that records an event
// again is read back once.
import type { ArtifactStore } from './artifact-store.js';
import { taskKeys } from './keys.js';

export interface TaskEvent {
  /** Stable per event, e.g. `step:3:model`; duplicates from retries are dropped on read. */
  id: string;
  type: string;
  at: string;
  step?: number;
  [detail: string]: unknown;
}


/** Appends `events` to the task's log in one write. */
export async function recordEvent(store: ArtifactStore, taskId: string, ...events: Omit<TaskEvent, 'at'>[]): Promise<void> {
  const at = new Date().toISOString();
  await store.append(taskKeys(taskId).events, events.map((event) => `${JSON.stringify({ ...event, at })}\n`).join(''));
}

/**
 * Reads a task's event log incrementally: each `next()` returns the events appended since the
 * last call, complete lines only (a line being written waits for the next read), first copy of
 * each id. Events are numbered from 0 in log order, which is what SSE clients resume from.
 */
export class EventLogReader {
  private offset = 0;
  private readonly seen = new Set<string>();
  private count = 0;

  constructor(
    private readonly store: ArtifactStore,
    private readonly taskId: string,
  ) {}

  async next(): Promise<{ seq: number; event: TaskEvent }[]> {
    const chunk = await this.store.readFrom(taskKeys(this.taskId).events, this.offset);
    if (!chunk?.length) return [];
    const end = chunk.lastIndexOf(0x0a) + 1;
    this.offset += end;
    const out: { seq: number; event: TaskEvent }[] = [];
    for (const line of chunk.subarray(0, end).toString('utf8').split('\n')) {
      if (!line.trim()) continue;
      let event: TaskEvent;
      try {
        event = JSON.parse(line) as TaskEvent;
      } catch {
        continue; // a torn line from a crashed writer
      }
      if (this.seen.has(event.id)) continue;
      this.seen.add(event.id);
      out.push({ seq: this.count++, event });
    }
    return out;
  }
}
