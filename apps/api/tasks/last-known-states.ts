// The last state each running task's query gave, kept so a GET is not held up by a busy worker
// (the gateway falls back on it, marked with when it was asked). Bounded: the oldest go first.
import type { TaskState } from '../../../workflows/contracts/task.js';

/** Running tasks whose last answer is kept for that. */
const LAST_KNOWN = 2_000;

/** A task's last answer: its state (none after a change made through the API), when it was asked, and the run it came from. */
export interface LastKnown {
  state?: TaskState;
  asked: number;
  runId?: string;
}

export class LastKnownStates {
  private readonly byTask = new Map<string, LastKnown>();

  get(taskId: string): LastKnown | undefined {
    return this.byTask.get(taskId);
  }

  /** Keeps a running task's answer, unless a newer one or a change came since it was asked. */
  remember(taskId: string, state: TaskState | undefined, asked: number, runId?: string): void {
    const previous = this.byTask.get(taskId);
    if (previous && previous.asked > asked) return;
    this.byTask.delete(taskId);
    this.byTask.set(taskId, { state, asked, runId: runId ?? previous?.runId });
    for (const oldest of this.byTask.keys()) {
      if (this.byTask.size <= LAST_KNOWN) break;
      this.byTask.delete(oldest);
    }
  }

  /** After a change made through the API, the next GET waits for the worker's answer: read your writes. */
  changed(taskId: string): void {
    this.remember(taskId, undefined, Date.now());
  }

  /** A task that is no longer running has nothing to fall back on. */
  forget(taskId: string): void {
    this.byTask.delete(taskId);
  }
}
