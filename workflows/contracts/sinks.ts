// What workflows tell the worker's metrics (apps/worker/metrics.ts) through Temporal sinks: not
// commands, so history and replay are untouched, and not called again when a task is replayed.
import type { Sinks } from '@temporalio/workflow';

export interface ErrandSinks extends Sinks {
  metrics: {
    /** One agent step, a model turn and its tool calls, in workflow time. */
    stepFinished(seconds: number): void;
    /** A task started (its first run, not one continued as new), by playbook (`none` for a plain prompt). */
    taskStarted(playbook: string): void;
    /** A task over a limit on running tasks got its slot, after waiting this long (queued). */
    taskAdmitted(waitedSeconds: number): void;
    /** The task ended, with its playbook (`none` for a plain prompt). */
    taskEnded(outcome: 'completed' | 'failed' | 'cancelled', playbook: string): void;
    /** A campaign started, with its repositories. */
    campaignStarted(repositories: number): void;
    /** A campaign ended (completed, stopped by its failure policy, cancelled). */
    campaignEnded(phase: 'completed' | 'stopped' | 'cancelled'): void;
    /** A task with several attempts started them. */
    attemptsStarted(attempts: number): void;
    /** A task with several attempts ended: one chosen (its PR opened), none to choose, or cancelled. */
    attemptsEnded(outcome: 'chosen' | 'none' | 'cancelled'): void;
  };
}
