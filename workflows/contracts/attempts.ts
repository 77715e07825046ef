// Several attempts at one task (workflows/attempts.ts): what the API starts them with, what each
// attempt hands back, and the rules that choose the one whose PR opens. The rules are a pure
// function, so the choice reads the same in the code, the docs, the task's events and its tests.
import type { Budget } from '../budget.js';
import type { LinkBases } from '../task-start.js';
import { taskBranch } from '../names.js';
import { initialTaskState, type TaskInput, type TaskState, type TestResult } from './task.js';

/** `each`: every attempt gets the task's whole budget; `shared`: the budget is split evenly among them. */
export const ATTEMPT_BUDGETS = ['each', 'shared'] as const;
export type AttemptBudgets = (typeof ATTEMPT_BUDGETS)[number];

export interface AttemptsInput {
  /** The task as asked: its id is the parent's, each attempt's is `<id>-a<n>`. */
  task: TaskInput;
  attempts: number;
  budgets: AttemptBudgets;
  /** Where tasks' pages and runs are, for each attempt's own. */
  links: LinkBases;
}

/** What a coding task in attempt mode would have opened as its PR, handed to its parent instead. */
export interface AttemptProposal {
  branch: string;
  headSha: string;
  title: string;
  body: string;
  /** Ready for review (approved, complete), or a draft. */
  ready: boolean;
  diffKey: string;
}

/** Which attempt a coding task is, when it is one: no PR of its own, its branch `errand/<parent>-a<n>`. */
export interface TaskAttempt {
  parentTaskId: string;
  n: number;
  of: number;
}

export type AttemptStatus = 'running' | 'finished' | 'failed' | 'cancelled';

export interface AttemptRow {
  n: number;
  taskId: string;
  branch: string;
  status: AttemptStatus;
  /** Its tests as they last ran, when it ran them. */
  test?: TestResult;
  /** The review agent's verdict on it. */
  review?: TaskState['review'];
  summary?: string;
  /** Lines added and removed, and files, in its diff (read when the attempts are compared). */
  size?: { files: number; lines: number };
  steps?: number;
  costUsd?: number;
  error?: string;
  proposal?: AttemptProposal;
}

/** The choice and the rules that made it, each in words (the task's `attempt_chosen` event too). */
export interface AttemptChoice {
  /** Unset when no attempt published a change: nothing to choose from. */
  n?: number;
  reasons: string[];
  /** The review agent's comparison of the attempts that were left, when it made one. */
  comparison?: { preferred?: number; reasons: string };
}

/** GET /tasks/:id of a task with attempts: a task's state, its attempts, and the choice once made. */
export type AttemptsState = TaskState & { attempts: AttemptRow[]; attemptBudgets: AttemptBudgets; choice?: AttemptChoice };

/** A task with attempts before it starts them: what the workflow begins with and the API shows at once. */
export function initialAttemptsState(input: Pick<AttemptsInput, 'task' | 'attempts' | 'budgets'>): AttemptsState {
  const attempts: AttemptRow[] = Array.from({ length: input.attempts }, (_, i) => {
    const taskId = attemptTaskId(input.task.taskId, i + 1);
    return { n: i + 1, taskId, branch: taskBranch(taskId), status: 'running' };
  });
  return { ...initialTaskState(input.task), attempts, attemptBudgets: input.budgets };
}

/** The task `n` of `parentTaskId`'s attempts: `<parent>-a<n>`, n from 1. */
export const attemptTaskId = (parentTaskId: string, n: number) => `${parentTaskId}-a${n}`;

/** An attempt's budget: the task's, or (shared) its share, with the wall clock whole (they run at once). */
export function attemptBudget(budget: Budget, attempts: number, budgets: AttemptBudgets): Budget {
  if (budgets === 'each') return budget;
  const split = (v: number | undefined, whole: boolean) => (v === undefined ? undefined : whole ? Math.max(1, Math.floor(v / attempts)) : v / attempts);
  const shared: Budget = { ...budget, maxSteps: split(budget.maxSteps, true)! };
  if (budget.maxTokens !== undefined) shared.maxTokens = split(budget.maxTokens, true);
  if (budget.maxCostUsd !== undefined) shared.maxCostUsd = split(budget.maxCostUsd, false);
  return shared;
}

/** What the rules read of an attempt that ended. */
export interface AttemptOutcome {
  n: number;
  status: AttemptStatus;
  published: boolean;
  test?: Pick<TestResult, 'passed' | 'command'>;
  size?: { files: number; lines: number };
}

/**
 * The rules, in order: (1) only an attempt that finished with a change counts; (2) when any of
 * them passed its tests, those that failed theirs are out; (3) of those left, the one the review
 * agent prefers; (4) with no preference (one left, no review model, no answer that names one of
 * them), the smaller change, then the earlier attempt. `comparison` is asked for by the caller
 * only when more than one is left after (2): `left` says which.
 */
export function chooseAttempt(outcomes: AttemptOutcome[], comparison?: { preferred?: number; reasons: string }): AttemptChoice {
  const reasons: string[] = [];
  const out = outcomes.filter((o) => o.status !== 'finished' || !o.published);
  for (const o of out) reasons.push(`attempt ${o.n} is out: ${o.status === 'finished' ? 'it published no change' : `it ${o.status === 'failed' ? 'failed' : 'was cancelled'}`}`);
  let left = leftAfterTests(outcomes);
  const failedTests = outcomes.filter((o) => o.status === 'finished' && o.published && !left.includes(o));
  for (const o of failedTests) reasons.push(`attempt ${o.n} is out: its tests failed (\`${o.test?.command}\`) and another's passed`);
  if (!left.length) return { reasons: [...reasons, 'no attempt is left to choose: none published a change'] };
  if (left.length === 1) return { n: left[0]!.n, reasons: [...reasons, `attempt ${left[0]!.n} is the only one left`] };
  const preferred = comparison?.preferred !== undefined ? left.find((o) => o.n === comparison.preferred) : undefined;
  if (preferred) return { n: preferred.n, reasons: [...reasons, `the review agent prefers attempt ${preferred.n} of ${left.map((o) => o.n).join(', ')}: ${comparison!.reasons}`], comparison: comparison! };
  if (comparison) reasons.push(`the review agent compared attempts ${left.map((o) => o.n).join(', ')} and named none of them: ${comparison.reasons}`);
  left = [...left].sort((a, b) => (a.size?.lines ?? Infinity) - (b.size?.lines ?? Infinity) || a.n - b.n);
  const [smallest, ...others] = left;
  const lines = (o: AttemptOutcome) => (o.size ? `${o.size.lines} changed line${o.size.lines === 1 ? '' : 's'}` : 'an unknown size');
  reasons.push(`attempt ${smallest!.n} has the smaller change (${lines(smallest!)}; ${others.map((o) => `attempt ${o.n}: ${lines(o)}`).join(', ')})`);
  return { n: smallest!.n, reasons, ...(comparison && { comparison }) };
}

/** The attempts the review agent compares: finished with a change, and past the tests rule. */
export function leftAfterTests(outcomes: AttemptOutcome[]): AttemptOutcome[] {
  const published = outcomes.filter((o) => o.status === 'finished' && o.published);
  const passing = published.filter((o) => o.test?.passed);
  return passing.length ? passing : published;
}
