// The contract's core: what a task is asked to do (TaskInput), its live state (TaskState), what
// it hands back (TaskResult), and the branches it works and publishes on. apps/, workflows/ and
// activities/ all depend on it; it imports nothing from apps/ or activities/.
import type { Budget, BudgetName } from '../budget.js';
import { taskBranch } from '../names.js';
import type { AttemptProposal, TaskAttempt } from './attempts.js';
import type { PlaybookRun, PostconditionResult, PreparedChange } from './playbooks.js';
import type { ReviewComment, ReviewVerdict } from './review.js';

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
  /** The campaign this task is one of: its PR links the campaign and names its siblings. */
  campaign?: TaskCampaign;
  /** One of several attempts at a task (workflows/attempts.ts): it pushes its branch and hands its PR to its parent instead of opening it. */
  attempt?: TaskAttempt;
  /** Where it was asked for outside Errand's API (a Slack thread): where it reports its plan, its PR and how it ended. */
  origin?: TaskOrigin;
}

/** A Slack thread or a Linear issue a task was asked for in (and, for an issue, the states it moves to). */
export type TaskOrigin =
  | { kind: 'slack'; channel: string; threadTs: string }
  | { kind: 'linear'; issueId: string; states?: { pullRequest?: string; done?: string; failed?: string } };

/** What a task tells the place it was asked for in. */
export type OriginReport =
  | { kind: 'plan'; plan: string; round: number }
  | { kind: 'pr'; pr: PullRequestRef }
  | { kind: 'ended'; phase: 'completed' | 'failed' | 'cancelled'; summary?: string; pr?: PullRequestRef; error?: string; cancelledBy?: string };

export interface TaskCampaign {
  id: string;
  url?: string;
  /** Repositories in the campaign, this one included. */
  repos: number;
  /** The others (the first few): repository, task, the task's page. */
  siblings: { repo: string; taskId: string; url?: string }[];
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
  /** What it was asked to do (a dependency bump's own run has none: its groups' tasks do). */
  prompt?: string;
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
  /** `rounds`: reviews made; `checksOnly`: no review model is configured, Errand's checks and the tests decided. */
  review?: { verdict: ReviewVerdict; summary: string; rounds: number; unresolved: ReviewComment[]; outsideAllowedPaths: string[]; checksOnly?: boolean };
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

export interface TaskResult {
  summary: string;
  stoppedBy?: BudgetName;
  test?: TestResult;
  /** Unset only when a prepared change broke the tests and its policy says no PR. */
  pr?: PullRequestRef;
  steps: number;
  review?: ReviewVerdict;
  /** An attempt's PR as it would open it, for its parent to open or keep (no `pr` then). */
  proposal?: AttemptProposal;
  /** The task's state as it ended, so the API reads an ended task without a replay on a worker. */
  state?: TaskState;
}

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
    ...(input.prompt && { prompt: input.prompt }),
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
