// The contract between apps/, workflows/ and activities/: task input and state, the
// workflow's queries and signals, and the search attributes Errand sets. It imports nothing
// from apps/ or activities/, so every side can depend on it.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery, defineSignal, defineUpdate, type Sinks } from '@temporalio/workflow';
import type { Budget, BudgetName } from './budget.js';
import { taskBranch } from './names.js';

export type { Budget, BudgetName };


/** Who may reach the network from the sandbox: nobody, the setup script only, or every command. */
export const NETWORK_POLICIES = ['off', 'setup', 'on'] as const;
export type NetworkPolicy = (typeof NETWORK_POLICIES)[number];

/** What a caller asks for; validated by the API before it reaches Temporal. */
export interface TaskInput {
  taskId: string;
  /** Any git URL, including an absolute local path or file:// URL. */
  repo: string;
  /** Branch the work starts from and the PR targets. Resolved by the API when omitted. */
  baseBranch: string;
  prompt: string;
  /** Overrides the detected test command. */
  testCommand?: string;
  /** Runs after the clone, before the agent; overrides the repo's `.errand/setup.sh`. */
  setupScript?: string;
  /** Git clone and push always may; this decides for the setup script and the agent's commands. */
  network: NetworkPolicy;
  budget: Budget;
  requester?: string;
  /** The agent first writes a plan (no edits) and waits for approval before it changes anything. */
  requirePlanApproval?: boolean;
  /** Commit and push the work in progress every this many steps, when the tree changed. */
  checkpointEverySteps: number;
  /** Rounds of "changes requested" fed back to the coder before the PR goes out as it is. */
  maxReviewRounds: number;
  /** Globs of the paths this task may change; files outside are flagged in the review and the PR. */
  allowedPaths?: string[];
  /** `Name <email>` for the Co-authored-by trailer of the final commit. */
  coAuthor?: string;
  /** After the PR is out, wait this long for feedback (a review comment, a message) and do another round. */
  awaitFeedbackMinutes?: number;
  /** The sandbox image (Kubernetes): overrides the repository's `.errand/sandbox.json` and the default. */
  sandboxImage?: string;
  /** Where people see this task, for the PR body. */
  links?: { task?: string; temporalUi?: string };
  /** An issue or PR to comment on when the task starts (the one a webhook came from). */
  notify?: { issueNumber: number };
  /** A follow-up task: work on this existing branch and update its PR instead of opening one. */
  followUp?: { branch: string; prNumber: number; parentTaskId?: string };
  /** The playbook this task runs, if any: its instructions are the prompt; these are its checks and guards. */
  playbook?: PlaybookRun;
  /** A change Errand makes itself before any agent step (a dependency bump); the agent only fixes what it breaks. */
  change?: PreparedChange;
  /** The branch the PR is on instead of errand/<taskId>: a dependency group's own, so its open PR is updated, not duplicated. Checkpoints stay on errand/<taskId>, so the PR only ever shows checked work. */
  branch?: string;
}

/** A change made by a command, not a model: run after the repository's setup, with the setup's network. */
export interface PreparedChange {
  command: string;
  /** Its environment: where the registries are. */
  env: Record<string, string>;
  /** What it did, for the pull request (a table of packages). */
  summary: string;
  /** When the command or the tests fail, the agent makes the code work with it (a model is configured). */
  agent: boolean;
  /** When they still fail (at once without an agent, or after its rounds): a draft PR that says what broke, or no PR. */
  onFailure: 'draft' | 'none';
}

/** A dependency update within policy: a package, the version it is at, and the one it goes to. */
export interface BumpedPackage {
  name: string;
  manager: 'npm' | 'pnpm' | 'yarn' | 'go';
  from: string;
  to: string;
  kind: 'patch' | 'minor' | 'major';
  /** A development dependency (devDependencies), kept one. */
  dev?: boolean;
  /** How the manifest pins it: `^`, `~` or '' (exact); npm family only. */
  prefix?: string;
  /** Where its release notes are, when the registry names a repository. */
  notes?: string;
}

/** Updates that go out as one pull request, on the group's own branch. */
export interface DependencyGroup {
  name: string;
  packages: BumpedPackage[];
}

/** What a task run from a playbook carries of it: which one, with what, and what Errand enforces. */
export interface PlaybookRun {
  name: string;
  version: number;
  /** `built-in`, or the file in the repository it was read from. */
  source: string;
  params: Record<string, unknown>;
  /** Commands Errand runs in the sandbox before publishing; each must exit 0. Values already shell-quoted. */
  postconditions: string[];
  forbidden: { paths: string[]; commands: string[] };
}

/** A postcondition as it last ran. */
export interface PostconditionResult {
  command: string;
  passed: boolean;
  exitCode: number;
  outputTail: string;
}

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

export const TASK_PHASES = [
  'queued',
  'provisioning',
  'preparing',
  'planning',
  'awaiting_approval',
  'working',
  'paused',
  'testing',
  'reviewing',
  'publishing',
  'awaiting_feedback',
  'completed',
  'failed',
  'cancelled',
] as const;
export type TaskPhase = (typeof TASK_PHASES)[number];

export interface TestResult {
  command: string;
  exitCode: number;
  passed: boolean;
  /** The last lines of the output; the full log is a blob in storage under `logKey`. */
  outputTail: string;
  logKey: string;
}

export interface PullRequestRef {
  number: number;
  draft: boolean;
  url: string;
  title: string;
  base: string;
  head: string;
}

/** Live state, answered by the `state` query and shown by GET /tasks/:id. */
export interface TaskState {
  taskId: string;
  repo: string;
  baseBranch: string;
  branch: string;
  phase: TaskPhase;
  step: number;
  budget: Budget;
  lastAction?: string;
  summary?: string;
  test?: TestResult;
  pr?: PullRequestRef;
  tokens: { prompt: number; completion: number };
  /** Dollars spent on model calls, from the configured price table (0 when the model has no price). */
  costUsd: number;
  /** Time counted against maxWallClockMinutes (pauses not), as of the task's last event: set in answers to the state query only. */
  elapsedMs?: number;
  /** Set when a budget ended the agent's work early; the PR is then a draft marked incomplete. */
  stoppedBy?: BudgetName;
  /** Where the repository's instructions came from (AGENTS.md, ...), if any. */
  instructionsFrom?: string;
  /** Why the task failed, in words a user can act on. */
  error?: string;
  /** Set while paused: the loop waits between steps, the sandbox is kept, no tokens are spent. */
  paused?: { since: string; by?: string };
  /** Who asked for the cancellation, once asked. */
  cancelledBy?: string;
  /** The agent's plan, when the task requires approval of one. */
  plan?: string;
  planApprovedBy?: string;
  /** The last work in progress committed and pushed to the task branch. */
  checkpoint?: { sha: string; step: number };
  /** The sandbox image the task runs in, when the task or repository named one. */
  sandboxImage?: string;
  /** Sandboxes lost and replaced so far. */
  sandboxLosses: number;
  /** Each lost sandbox: when, during what, why, what the workspace came back from, and what was lost. */
  losses?: SandboxLoss[];
  /** Steering messages accepted and handed to the model so far. */
  messages: { accepted: number; delivered: number };
  /** How many times the workflow continued as new (long tasks), so 0 for most. */
  continuedAsNew: number;
  /** The review agent's latest verdict and the rounds taken. */
  review?: { verdict: ReviewVerdict; summary: string; rounds: number; unresolved: ReviewComment[]; outsideAllowedPaths: string[] };
  /** Rounds of feedback on the PR handled so far. */
  feedbackRounds?: number;
  /** The playbook's postconditions as they last ran (a task run from a playbook that has some). */
  postconditions?: PostconditionResult[];
}

/** A sandbox lost while a task ran, and what Errand did about it. */
export interface SandboxLoss {
  /** When the loss was noticed (workflow time). */
  at: string;
  /** The sandbox that was lost. */
  sandboxId: string;
  /** What was running: `step 7: shell`, `setup`, `the final checkpoint`, `tests`, `review`, `publishing`. */
  during: string;
  /** The failure that said so. */
  why: string;
  /** What the replacement's workspace came back from: the checkpoint after a step, or the base branch. */
  restoredFrom: string;
  /** Changes made after this step were lost (the agent was told and given turns to redo them); unset when nothing was. */
  lostAfterStep?: number;
}

export type ReviewVerdict = 'approve' | 'request_changes';

export interface ReviewComment {
  file: string;
  line?: number;
  severity: 'blocking' | 'suggestion' | 'nit';
  body: string;
}

export interface ReviewResult {
  verdict: ReviewVerdict;
  summary: string;
  comments: ReviewComment[];
  /** Files the diff changes outside the task's allowed paths. */
  outsideAllowedPaths: string[];
  /** False when the reviewer's answer never validated and this verdict stands in for it. */
  valid: boolean;
}

/** Feedback on the PR (a review or comment that mentions the bot), for a task waiting for it. */
export interface Feedback {
  from: string;
  body: string;
  url?: string;
}
export const feedbackSignal = defineSignal<[Feedback]>('feedback');

/** A message sent to a running task (POST /tasks/:id/messages). */
export interface SteeringMessage {
  text: string;
  from?: string;
}

export interface MessageAccepted {
  /** 1, 2, 3...: the order in which the task accepted messages, which is the order the model reads them. */
  seq: number;
  /** The model reads it before this step. */
  beforeStep: number;
}

/** Steer a running task (or, while it waits for feedback on its PR, start another round); returns once the workflow has accepted it. */
export const sendMessageUpdate = defineUpdate<MessageAccepted, [SteeringMessage]>('sendMessage');
/** Approve the plan of a task waiting in `awaiting_approval`. */
export const approvePlanUpdate = defineUpdate<{ approvedBy?: string }, [{ by?: string }]>('approvePlan');
export const pauseSignal = defineSignal<[{ by?: string }]>('pause');
export const resumeSignal = defineSignal<[{ by?: string }]>('resume');
/** Sent just before a cancellation, so the task can say who cancelled it. */
export const cancelRequestedSignal = defineSignal<[{ by?: string }]>('cancelRequested');

export interface TaskResult {
  summary: string;
  stoppedBy?: BudgetName;
  test?: TestResult;
  /** Unset only when a prepared change broke the tests and its policy says no PR. */
  pr?: PullRequestRef;
  steps: number;
  review?: ReviewVerdict;
  /** The task's state as it ended, so the API reads an ended task without a replay on a worker. */
  state?: TaskState;
}

export const stateQuery = defineQuery<TaskState>('state');

export const ErrandRepo = defineSearchAttributeKey('ErrandRepo', SearchAttributeType.KEYWORD);
export const ErrandPhase = defineSearchAttributeKey('ErrandPhase', SearchAttributeType.KEYWORD);
export const ErrandRequester = defineSearchAttributeKey('ErrandRequester', SearchAttributeType.KEYWORD);

/** Registered on the Temporal namespace at start-up (`temporal server start-dev --search-attribute`). */
export const SEARCH_ATTRIBUTES = [ErrandRepo, ErrandPhase, ErrandRequester];


/** A container image reference: registry/path:tag, optionally @sha256:digest. */
export const IMAGE_REFERENCE = /^[\w.-]+(?::\d+)?(?:\/[\w.-]+)*(?::[\w.-]+)?(?:@sha256:[a-f0-9]{64})?$/;

/** The branch a task works on (its checkpoints): its own, or for a follow-up the branch (and PR) of the task it follows. */
export const branchOf = (input: Pick<TaskInput, 'taskId' | 'followUp'>) => input.followUp?.branch ?? taskBranch(input.taskId);

/** The branch its PR is on: the one it works on, unless it names another (a dependency group's). */
export const publishBranchOf = (input: Pick<TaskInput, 'taskId' | 'followUp' | 'branch'>) => input.branch ?? branchOf(input);

/** The state of a task that has not started yet: what the workflow begins with and the API shows at once. */
export function initialTaskState(input: TaskInput): TaskState {
  return {
    taskId: input.taskId,
    repo: input.repo,
    baseBranch: input.baseBranch,
    branch: publishBranchOf(input),
    phase: 'queued',
    step: 0,
    budget: input.budget,
    tokens: { prompt: 0, completion: 0 },
    costUsd: 0,
    sandboxLosses: 0,
    losses: [],
    messages: { accepted: 0, delivered: 0 },
    continuedAsNew: 0,
  };
}

/**
 * What workflows tell the worker's metrics (apps/worker/metrics.ts) through Temporal sinks: not
 * commands, so history and replay are untouched, and not called again when a task is replayed.
 */
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
  };
}

/**
 * Admission (workflows/admission.ts): a task asks for a lease before it takes a sandbox, and
 * waits in the `queued` phase until the admission workflow grants one (a signal); it gives the
 * lease back when it ends or waits for feedback, with what it spent (a signal).
 */
export interface AdmissionLimits {
  /** Running tasks at once, in all; none: no limit. */
  maxRunning?: number;
  /** Running tasks at once in this request's repository; none: no limit. */
  maxRunningInRepo?: number;
  /** How often it asks Temporal whether a lease holder ended without giving it back (terminated). */
  sweepSeconds: number;
}
export interface AdmissionRequest {
  workflowId: string;
  taskId: string;
  repo: string;
  requester: string;
  /** The limits of the worker that sent it: the latest request's hold. */
  limits: AdmissionLimits;
}
export interface AdmissionRelease {
  workflowId: string;
  requester?: string;
  /** Dollars the task spent since it was admitted, for the requester's daily budget. */
  costUsd?: number;
}
export interface QueuedTask {
  taskId: string;
  repo: string;
  /** 1 is next. */
  position: number;
  since: string;
  waitingFor: string;
}
export interface AdmissionView {
  maxRunning?: number;
  running: { taskId: string; repo: string; since: string }[];
  queued: QueuedTask[];
  /** Dollars spent on `day` (UTC) by each requester, counted as tasks give back their lease. */
  spent: { day: string; byRequester: Record<string, number> };
}
export const admissionRequestSignal = defineSignal<[AdmissionRequest]>('admissionRequest');
export const admissionReleaseSignal = defineSignal<[AdmissionRelease]>('admissionRelease');
export const admissionQuery = defineQuery<AdmissionView>('admission');
/** To a task: its lease is granted. */
export const admittedSignal = defineSignal('admitted');
