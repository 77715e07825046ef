// What a schedule runs and when: the timing asked for, the task each run starts from, and what a
// run did. Part of the contract between the API, the scheduled-playbook workflow and the worker.
import type { PullRequestRef, TaskInput } from './task.js';

/** When a schedule runs, as it was asked for (and shown back): a cron in a time zone, or an interval. */
export interface ScheduleTiming {
  cron?: string;
  /** A duration: `1 day`, `12h`, `30 minutes`. */
  interval?: string;
  timezone: string;
  /** Each run starts up to this much later, at random, so many schedules do not start at once. */
  jitter: string;
  /** After an outage, runs missed within this window are taken; older ones are skipped. */
  catchupWindow: string;
  /** What happens when a run is due while the last still runs. */
  overlap: 'skip' | 'buffer_one' | 'allow_all';
}

/** What a schedule's every run starts from: the playbook and the task around it. */
export interface ScheduledRun {
  scheduleId: string;
  repo: string;
  /** '' : the repository's default branch, as it is when the run starts. */
  baseBranch: string;
  playbook: string;
  params: Record<string, unknown>;
  /** Every field of the task but what each run makes (its id, prompt, playbook, links). */
  task: Omit<TaskInput, 'taskId' | 'repo' | 'baseBranch' | 'prompt' | 'playbook' | 'links'>;
  /** Where each run's task is shown: its id is appended. */
  links: { task?: string; temporalUi?: string };
  /** Failed runs in a row after which the schedule pauses itself. */
  maxFailures: number;
  /** Failed runs in a row so far, kept here by each run as it ends (a change to the schedule starts it afresh). */
  failuresInARow?: number;
  timing: ScheduleTiming;
}

/** What a scheduled run did: the task it started and how that ended. */
export interface ScheduledRunResult {
  taskId: string;
  /** A coding task's PR; a dependency bump's groups `updated` (each with its PR), or `up_to_date`. */
  outcome: 'pull_request' | 'up_to_date' | 'updated';
  pr?: PullRequestRef;
  /** A dependency bump's groups: each one's task and PR. */
  groups?: { name: string; taskId: string; pr?: PullRequestRef; status: string }[];
  summary: string;
}
