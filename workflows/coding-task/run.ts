// The state of one run of a task, as one object: what the API sees (TaskState, answered by the
// state query) and what the workflow keeps besides (the sandbox, the base, what the model reads
// next, what a lost sandbox would take). It knows how to carry itself across continue-as-new,
// so no field is listed twice.
import { patched, proxySinks, upsertMemo, upsertSearchAttributes } from '@temporalio/workflow';
import type { Usage } from '../budget.js';
import { ErrandPhase } from '../contracts/search-attributes.js';
import type { ErrandSinks } from '../contracts/sinks.js';
import { branchOf, publishBranchOf, initialTaskState, type TaskInput, type TaskPhase, type TaskState, type TestResult } from '../contracts/task.js';

const { metrics } = proxySinks<ErrandSinks>();
import type { ToolOutcome } from '../tool-calls.js';
import { commitTitle } from './pull-request-text.js';

export interface InboxItem {
  kind: 'message' | 'note';
  text: string;
}

/** Everything a run hands to the next when it continues as new: small values and references only. */
export interface Carried {
  state: TaskState;
  /** Temporal's deterministic clock, when the task (not this run) started. */
  startedAt: number;
  pausedMs: number;
  /** Unset between rounds, while the task waits for feedback without a sandbox. */
  sandboxId?: string;
  baseSha: string;
  testCommand?: string;
  instructionsKey?: string;
  /** Results of the last step's tool calls, for the next model call. */
  toolResults: ToolOutcome[];
  /** What the model reads before its next call: messages from people, notes from Errand. */
  inbox: InboxItem[];
  malformedInARow: number;
  planApproved: boolean;
  /** Rounds of "changes requested" since the last publish. */
  reviewRounds: number;
  stopNote?: string;
  /** What a lost sandbox would take: the last step whose tool calls may have changed the workspace… */
  lastChangeStep: number;
  /** …and the step through which the workspace is known to be on the task branch. */
  savedThroughStep: number;
  /** How Errand's own change (input.change) went when it was last made, in this sandbox. */
  changed?: TestResult;
  /** Set once that change has been checked and, broken, handed to the agent: from then on it is the agent's work. */
  changeHandedOver?: boolean;
  /** The task's lease from the admission workflow (admission.ts): asked for, or held. */
  lease?: 'waiting' | 'held';
  /** What the task had spent when its lease was granted; the difference goes back with it. */
  leaseCostFrom?: number;
}

/** What a run begins with: a new task's values, or what the last run carried over. */
function begin(input: TaskInput, carried?: Carried): Carried {
  const state = carried?.state ?? initialTaskState(input);
  return {
    startedAt: Date.now(), // Temporal's deterministic clock
    pausedMs: 0,
    baseSha: '',
    toolResults: [],
    inbox: [],
    malformedInARow: 0,
    planApproved: !input.requirePlanApproval,
    reviewRounds: 0,
    // A run carried over from before these were kept assumes its last step changed something.
    lastChangeStep: state.step,
    savedThroughStep: state.checkpoint?.step ?? 0,
    ...carried,
    state,
  };
}

// The run's fields are Carried's (declaration merging): declared once, carried whole.
export interface TaskRun extends Carried {}

export class TaskRun {
  /** True while the agent has turns ahead in which it reads Errand's notes (planning, working). */
  agentWorking = false;
  /** What this run last wrote to visibility (phase, memo), so an unchanged value is not written again. */
  private shown: { phase?: TaskPhase; memo?: string } = {};
  /** The step this run started at, to know when it is long enough to continue as new. */
  readonly firstStep: number;
  /** The branch the task works on (its own, or a follow-up's): its checkpoints. */
  readonly branch: string;
  /** The branch its PR is on: the same, or a dependency group's. */
  readonly publishBranch: string;

  constructor(
    readonly input: TaskInput,
    carried?: Carried,
  ) {
    Object.assign(this, begin(input, carried));
    this.firstStep = this.state.step;
    this.branch = branchOf(input);
    this.publishBranch = publishBranchOf(input);
  }

  get taskId(): string {
    return this.input.taskId;
  }

  /** The task branch as a replacement sandbox fetches it: what it restores the work from. */
  get branchRef(): string {
    return `refs/remotes/origin/${this.branch}`;
  }

  /** Enters `phase`, which Temporal UI and GET /tasks?status= can filter on. */
  enter(phase: TaskPhase, lastAction?: string): void {
    this.state.phase = phase;
    if (lastAction) this.state.lastAction = lastAction;
    // Each write is a history event and a visibility update in Temporal: only a changed value is written.
    const onChange = patched('visibility-on-change');
    if (!onChange || this.shown.phase !== phase) upsertSearchAttributes([{ key: ErrandPhase, value: phase }]);
    // What the task list shows beside it, read from visibility with no worker asked: as of this phase.
    const memo = { title: commitTitle(this.input.prompt), costUsd: this.state.costUsd, ...(this.state.pr && { pr: this.state.pr }) };
    const memoText = JSON.stringify(memo);
    if (patched('list-memo') && (!onChange || this.shown.memo !== memoText)) upsertMemo(memo);
    this.shown = { phase, memo: memoText };
    if (phase === 'completed' || phase === 'failed' || phase === 'cancelled') metrics.taskEnded(phase, this.input.playbook?.name ?? 'none');
  }

  used(): Usage {
    // A pause still going counts no more than finished ones (those are in pausedMs).
    const pausing = this.state.paused ? Date.now() - Date.parse(this.state.paused.since) : 0;
    return {
      steps: this.state.step,
      tokens: this.state.tokens.prompt + this.state.tokens.completion,
      costUsd: this.state.costUsd,
      elapsedMs: Date.now() - this.startedAt - this.pausedMs - pausing,
    };
  }

  addUsage(usage: { prompt: number; completion: number }, costUsd: number): void {
    this.state.tokens.prompt += usage.prompt;
    this.state.tokens.completion += usage.completion;
    this.state.costUsd += costUsd;
  }

  /** True while Errand's own change is what is being checked: made, and no agent has touched it yet. */
  get changeOnly(): boolean {
    return Boolean(this.input.change) && !this.changeHandedOver;
  }

  /** Whether an agent may work on this task: always, but for a prepared change whose policy says otherwise. */
  get hasAgent(): boolean {
    return !this.input.change || this.input.change.agent;
  }

  /** Something Errand tells the model before its next call. */
  note(text: string): void {
    this.inbox.push({ kind: 'note', text });
  }

  /** A message from a person arrived and is not read yet. */
  hasMessages(): boolean {
    return this.inbox.some((m) => m.kind === 'message');
  }

  /** What the next run begins with: every field of Carried, nothing else. */
  carry(): Carried {
    const { input: _input, agentWorking: _agentWorking, firstStep: _firstStep, branch: _branch, publishBranch: _publishBranch, ...carried } = this;
    return carried;
  }
}
