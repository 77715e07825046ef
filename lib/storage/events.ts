// A task's event log, tailed by the API for GET /tasks/:id/events and by the terminal of
// `npm start`. Ids are deterministic, so a retried activity that records an event again adds
// nothing: the log keeps the first copy.
import { taskKeys } from './keys.js';
import type { LogCursor, LogStore } from './storage.js';

export interface TaskEvent {
  /** Stable per event, e.g. `step:3:model`; a retry's copy is left out. */
  id: string;
  type: string;
  at: string;
  step?: number;
  [detail: string]: unknown;
}

/** Appends `events` to the task's log as one batch. */
export async function recordEvent(logs: LogStore, taskId: string, ...events: Omit<TaskEvent, 'at'>[]): Promise<void> {
  const at = new Date().toISOString();
  await logs.append(taskKeys(taskId).events, events.map((event) => ({ ...event, at }) as TaskEvent));
}

/** The task's events after `after` (a seq; -1: from the first), numbered from 0 in log order, which is what SSE clients resume from. */
export function taskEvents(logs: LogStore, taskId: string, after = -1): LogCursor<TaskEvent> {
  return logs.tail<TaskEvent>(taskKeys(taskId).events, after);
}
