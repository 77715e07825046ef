// The agent at work: one step (a model call and the tool calls it asks for), the work loop
// until finish or a budget, the plan gate before it, pausing between steps, and continuing as
// new when a run's history grows long.
import { allHandlersFinished, ApplicationFailure, condition, continueAsNew, isCancellation, patched, proxySinks, workflowInfo } from '@temporalio/workflow';
import { describeBudgetStop, exhaustedBudget } from '../budget.js';
import type { ErrandSinks } from '../contracts/sinks.js';
import type { TaskPhase } from '../contracts/task.js';
import { FailureType } from '../failures.js';
import { isCheckpointStep, onlyReads, shouldContinueAsNew } from '../recovery.js';
import { endingText, endingTool, ENDING_TOOLS, unknownOutcome, type AgentMode, type ToolCall, type ToolOutcome } from '../tool-calls.js';
import { describeFailure } from '../failures.js';
import { model, onceTools, readTools, tools } from './activities.js';
import { checkpoint } from './branch.js';
import type { codingTask } from './index.js';
import { tellOrigin } from './origin.js';
import type { TaskRun } from './run.js';
import { inSandbox } from './sandbox-session.js';

const { metrics } = proxySinks<ErrandSinks>();

/** Malformed tool calls (bad JSON, unknown tool, wrong arguments) in a row before we give up. */
export const MAX_CONSECUTIVE_MALFORMED_CALLS = 5;
const MAX_PLAN_CHARS = 8_000;
/** What a tool call's result says when its sandbox was lost under it. */
const SANDBOX_LOST_WHILE_RUNNING = 'the sandbox was lost while this ran';

/** A plan first, no edits, then a wait for approval or for messages that ask for a revision. */
export async function planUntilApproved(run: TaskRun): Promise<void> {
  const { state } = run;
  while (!run.planApproved) {
    run.enter('planning', 'writing a plan');
    let plan: string | undefined;
    run.agentWorking = true;
    while (plan === undefined) {
      await unlessPaused(run, 'planning');
      await continueIfLong(run);
      plan = await step(run, 'plan');
    }
    run.agentWorking = false;
    state.plan = plan.slice(0, MAX_PLAN_CHARS);
    run.enter('awaiting_approval', 'waiting for the plan to be approved');
    await tellOrigin(run, { kind: 'plan', plan: state.plan, round: state.step });
    await condition(() => run.planApproved || run.inbox.length > 0);
    if (!run.planApproved) run.inbox.unshift({ kind: 'note', text: '[errand] The plan was not approved yet; revise it with the messages below, then call submit_plan again.' });
  }
  if (run.input.requirePlanApproval && state.phase === 'awaiting_approval') {
    run.inbox.unshift({ kind: 'note', text: `[errand] Your plan was approved${state.planApprovedBy ? ` by ${state.planApprovedBy}` : ''}. Carry it out now: you may edit files and run commands.` });
  }
}

/** The agent works until it calls finish or a budget ends it; returns its summary. */
export async function work(run: TaskRun): Promise<string> {
  const { input, state } = run;
  run.enter('working', state.step === 0 ? 'agent started' : state.lastAction);
  run.agentWorking = true;
  try {
    for (;;) {
      await unlessPaused(run, 'working');
      const stop = exhaustedBudget(input.budget, run.used());
      if (stop) {
        state.stoppedBy = stop;
        run.stopNote = describeBudgetStop(stop, input.budget, run.used());
        return `The agent did not finish: it ${run.stopNote}. This is the work so far.`;
      }
      await continueIfLong(run);
      const summary = await step(run, 'work');
      if (summary !== undefined) return summary;
      if (isCheckpointStep(state.step, input.checkpointEverySteps)) await checkpoint(run);
    }
  } finally {
    run.agentWorking = false;
  }
}

/**
 * One model call and its tool calls. Returns the text of `finish` (or `submit_plan`) when the
 * model called it, otherwise undefined.
 */
async function step(run: TaskRun, mode: AgentMode): Promise<string | undefined> {
  const { input, state, taskId } = run;
  const current = ++state.step;
  const started = Date.now();
  const messages = run.inbox;
  run.inbox = [];
  const turn = await model.modelTurn({
    taskId,
    step: current,
    mode,
    task:
      current === 1
        ? { prompt: input.prompt, repo: input.repo, baseBranch: state.baseBranch, testCommand: run.testCommand, instructionsKey: run.instructionsKey, planFirst: mode === 'plan', ...(input.attempt && { attempt: { n: input.attempt.n, of: input.attempt.of } }) }
        : undefined,
    toolResults: run.toolResults,
    messages: messages.map((m) => m.text),
    used: { tokens: state.tokens.prompt + state.tokens.completion, costUsd: state.costUsd },
  });
  state.messages.delivered += messages.filter((m) => m.kind === 'message').length;
  run.addUsage(turn.usage, turn.costUsd);
  run.toolResults = [];
  const ender = endingTool(mode);
  let ended: string | undefined;
  for (const call of turn.toolCalls) {
    let outcome: ToolOutcome;
    if (ended !== undefined) {
      // Every call gets a result (the endpoint insists), even those after the last word.
      outcome = { toolCallId: call.id, content: `skipped: called after ${ender}`, isError: true };
    } else if (call.name === ender) {
      const text = endingText(call);
      const { field, hint } = ENDING_TOOLS[ender];
      if (text === undefined) {
        outcome = { toolCallId: call.id, content: `error: ${call.name} needs {"${field}": "<${hint}>"}`, isError: true, malformed: true };
      } else if (run.hasMessages()) {
        // A message that arrived meanwhile must reach the model before it may stop.
        outcome = { toolCallId: call.id, content: `not accepted: new messages arrived; read them, then call ${ender} again`, isError: true };
      } else {
        ended = text;
        outcome = { toolCallId: call.id, content: mode === 'plan' ? 'plan submitted for approval' : 'finished', isError: false };
      }
    } else {
      state.lastAction = `step ${current}: ${call.name}`;
      outcome = await runTool(run, call, current, mode);
    }
    run.toolResults.push(outcome);
    run.malformedInARow = outcome.malformed ? run.malformedInARow + 1 : 0;
    if (run.malformedInARow >= MAX_CONSECUTIVE_MALFORMED_CALLS) {
      throw ApplicationFailure.nonRetryable(
        `the model sent ${run.malformedInARow} malformed tool calls in a row; the last: ${outcome.content.slice(0, 300)}`,
        FailureType.MalformedToolCalls,
      );
    }
  }
  metrics.stepFinished((Date.now() - started) / 1000);
  return ended;
}

async function runTool(run: TaskRun, call: ToolCall, current: number, mode: AgentMode): Promise<ToolOutcome> {
  const callsSay = patched('calls-say-if-they-read');
  const readOnly = onlyReads(call, callsSay);
  // Even a call that fails may have changed files (a command that wrote, then exited 1).
  if (mode === 'work' && !readOnly) run.lastChangeStep = current;
  const req = (sandboxId: string) => ({ taskId: run.taskId, sandboxId, step: current, call, mode, forbidden: run.input.playbook?.forbidden });
  if (callsSay && call.atMostOnce && !readOnly) {
    // Outside the sandbox (an MCP server's tool): one attempt; what happened when it broke off is
    // not known, so the model is told that rather than the call being made again.
    try {
      return await onceTools.runTool(req(run.sandboxId!));
    } catch (err) {
      if (isCancellation(err)) throw err;
      return unknownOutcome(call, describeFailure(err));
    }
  }
  const via = readOnly && patched('local-read-tools') ? readTools : tools;
  return inSandbox(
    run,
    (id) => via.runTool(req(id)),
    `step ${current}: ${call.name}`,
    // The call's effect is gone with the sandbox; the model hears so and decides what to redo.
    () => ({ toolCallId: call.id, content: `error: ${SANDBOX_LOST_WHILE_RUNNING}; see the note from Errand`, isError: true }),
    { step: current, tool: call.name, toolCallId: call.id },
  );
}

/** Waits while paused (between steps: the sandbox is kept and no model is called). */
async function unlessPaused(run: TaskRun, resumeAs: TaskPhase): Promise<void> {
  const { state } = run;
  if (!state.paused) return;
  run.enter('paused', `paused${state.paused.by ? ` by ${state.paused.by}` : ''}`);
  await condition(() => !state.paused);
  run.enter(resumeAs, 'resumed');
}

/** Continues as new when this run's history is long enough; the task id, queries and API stay the same. */
async function continueIfLong(run: TaskRun): Promise<void> {
  const info = workflowInfo();
  if (!shouldContinueAsNew(run.state.step - run.firstStep, info.continueAsNewSuggested, info.historyLength)) return;
  await condition(allHandlersFinished);
  run.state.continuedAsNew++;
  await continueAsNew<typeof codingTask>(run.input, run.carry());
}
