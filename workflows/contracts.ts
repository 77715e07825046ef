// The contract between apps/, workflows/ and activities/: task input and state, the
// workflow's queries and signals, and the search attributes Errand sets. It imports nothing
// from apps/ or activities/, so every side can depend on it.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery } from '@temporalio/workflow';
import type { Budget, BudgetName } from './budget.js';

export type { Budget, BudgetName };

export const TASK_WORKFLOW_TYPE = 'codingTask';

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
}

export type TaskPhase =
  | 'queued'
  | 'provisioning'
  | 'preparing'
  | 'working'
  | 'testing'
  | 'publishing'
  | 'completed'
  | 'failed'
  | 'cancelled';

export interface TestResult {
  command: string;
  exitCode: number;
  passed: boolean;
  /** The last lines of the output; the full log is in the ArtifactStore under `logKey`. */
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
  /** Set when a budget ended the agent's work early; the PR is then a draft marked incomplete. */
  stoppedBy?: BudgetName;
  /** Where the repository's instructions came from (AGENTS.md, ...), if any. */
  instructionsFrom?: string;
  /** Why the task failed, in words a user can act on. */
  error?: string;
}

export interface TaskResult {
  summary: string;
  stoppedBy?: BudgetName;
  test?: TestResult;
  pr: PullRequestRef;
  steps: number;
}

export const stateQuery = defineQuery<TaskState>('state');

export const ErrandRepo = defineSearchAttributeKey('ErrandRepo', SearchAttributeType.KEYWORD);
export const ErrandPhase = defineSearchAttributeKey('ErrandPhase', SearchAttributeType.KEYWORD);
export const ErrandRequester = defineSearchAttributeKey('ErrandRequester', SearchAttributeType.KEYWORD);

/** Registered on the Temporal namespace at start-up (`temporal server start-dev --search-attribute`). */
export const SEARCH_ATTRIBUTES = [ErrandRepo, ErrandPhase, ErrandRequester];

export const taskWorkflowId = (taskId: string) => `task-${taskId}`;
export const taskBranch = (taskId: string) => `errand/${taskId}`;

/** Stable failure types thrown by activities (ApplicationFailure.type). */
export const FailureType = {
  ModelRejected: 'ModelRequestRejected',
  ModelUnavailable: 'ModelUnavailable',
  SandboxGone: 'SandboxGone',
  RepoUnavailable: 'RepoUnavailable',
  NoChanges: 'NoChanges',
  SetupFailed: 'SetupFailed',
  MalformedToolCalls: 'MalformedToolCalls',
} as const;

/** One tool call the model asked for, as the workflow sees it. */
export interface ToolCall {
  id: string;
  name: string;
  /** Raw JSON arguments as the model sent them; parsed by the tool activity. Empty when stored. */
  arguments: string;
  /** Large arguments (a whole file to write) stay in the ArtifactStore, out of history. */
  argumentsKey?: string;
}

export interface ToolOutcome {
  toolCallId: string;
  /** What goes back to the model (already truncated). */
  content: string;
  isError: boolean;
  /** The call itself was unusable (bad JSON, unknown tool, wrong arguments), not its result. */
  malformed?: boolean;
}

export interface ModelTurnResult {
  toolCalls: ToolCall[];
  /** Assistant text without tool calls, if any. */
  text?: string;
  usage: { prompt: number; completion: number };
  costUsd: number;
}
