// The contract between apps/, workflows/ and activities/: task input and state, the
// workflow's queries and signals, and the search attributes Errand sets. It imports nothing
// from apps/ or activities/, so every side can depend on it.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery } from '@temporalio/workflow';

export const TASK_WORKFLOW_TYPE = 'codingTask';

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
  maxSteps: number;
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
  maxSteps: number;
  lastAction?: string;
  summary?: string;
  test?: TestResult;
  pr?: PullRequestRef;
  tokens: { prompt: number; completion: number };
  /** Why the task failed, in words a user can act on. */
  error?: string;
}

export interface TaskResult {
  summary: string;
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
  BadToolCall: 'BadToolCall',
} as const;

/** One tool call the model asked for, as the workflow sees it. */
export interface ToolCall {
  id: string;
  name: string;
  /** Raw JSON arguments as the model sent them; parsed by the tool activity. */
  arguments: string;
}

export interface ToolOutcome {
  toolCallId: string;
  /** What goes back to the model (already truncated). */
  content: string;
  isError: boolean;
}

export interface ModelTurnResult {
  toolCalls: ToolCall[];
  /** Assistant text without tool calls, if any. */
  text?: string;
  usage: { prompt: number; completion: number };
}
