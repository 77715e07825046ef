// codingTask: the story of one task, from an empty sandbox to a pull request. Every side
// effect is an activity, so each step reads on its own in Temporal UI and survives a crash.
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import { describeBudgetStop, exhaustedBudget, type Usage } from './budget.js';
import {
  ErrandPhase,
  FailureType,
  stateQuery,
  taskBranch,
  type TaskInput,
  type TaskPhase,
  type TaskResult,
  type TaskState,
  type TestResult,
  type ToolOutcome,
} from './contracts.js';

type Activities = ReturnType<typeof createActivities>;

const NON_RETRYABLE = [
  FailureType.ModelRejected,
  FailureType.RepoUnavailable,
  FailureType.NoChanges,
  FailureType.SetupFailed,
];
/** Malformed tool calls (bad JSON, unknown tool, wrong arguments) in a row before we give up. */
export const MAX_CONSECUTIVE_MALFORMED_CALLS = 5;

const sandbox = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE },
});
const workspace = proxyActivities<Activities>({
  startToCloseTimeout: '60 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE },
});
const model = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '30 seconds',
  // 429 and 5xx retry with backoff here, not inside the SDK, so each attempt shows in history.
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 8, nonRetryableErrorTypes: NON_RETRYABLE },
});
const tools = proxyActivities<Activities>({
  startToCloseTimeout: '65 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE },
});

export async function codingTask(input: TaskInput): Promise<TaskResult> {
  const { taskId } = input;
  const branch = taskBranch(taskId);
  const startedAt = Date.now(); // Temporal's deterministic clock
  const state: TaskState = {
    taskId,
    repo: input.repo,
    baseBranch: input.baseBranch,
    branch,
    phase: 'queued',
    step: 0,
    budget: input.budget,
    tokens: { prompt: 0, completion: 0 },
    costUsd: 0,
  };
  setHandler(stateQuery, () => state);
  const enter = (phase: TaskPhase, lastAction?: string) => {
    state.phase = phase;
    if (lastAction) state.lastAction = lastAction;
    upsertSearchAttributes([{ key: ErrandPhase, value: phase }]);
  };
  const used = (): Usage => ({
    steps: state.step,
    tokens: state.tokens.prompt + state.tokens.completion,
    costUsd: state.costUsd,
    elapsedMs: Date.now() - startedAt,
  });

  let sandboxId: string | undefined;
  try {
    enter('provisioning', 'provisioning a sandbox');
    sandboxId = (await sandbox.provisionSandbox({ taskId, allowNetwork: input.network === 'on' })).sandboxId;

    enter('preparing', `cloning ${input.repo}@${input.baseBranch}`);
    const prepared = await workspace.prepareWorkspace({
      taskId,
      sandboxId,
      repo: input.repo,
      baseBranch: input.baseBranch,
      branch,
      testCommand: input.testCommand,
    });
    const setup = await workspace.setupRepository({ taskId, sandboxId, setupScript: input.setupScript, network: input.network !== 'off' });
    state.instructionsFrom = setup.instructionsFrom;

    enter('working', 'agent started');
    let summary: string | undefined;
    let stopNote: string | undefined;
    let toolResults: ToolOutcome[] = [];
    let malformedInARow = 0;
    while (summary === undefined) {
      const stop = exhaustedBudget(input.budget, used());
      if (stop) {
        state.stoppedBy = stop;
        stopNote = describeBudgetStop(stop, input.budget, used());
        summary = `The agent did not finish: it ${stopNote}. This is the work so far.`;
        break;
      }
      const step = ++state.step;
      const turn = await model.modelTurn({
        taskId,
        step,
        task: step === 1 ? { prompt: input.prompt, repo: input.repo, baseBranch: input.baseBranch, testCommand: prepared.testCommand, instructionsKey: setup.instructionsKey } : undefined,
        toolResults,
        used: { tokens: state.tokens.prompt + state.tokens.completion, costUsd: state.costUsd },
      });
      state.tokens.prompt += turn.usage.prompt;
      state.tokens.completion += turn.usage.completion;
      state.costUsd += turn.costUsd;
      toolResults = [];
      for (const call of turn.toolCalls) {
        let outcome: ToolOutcome;
        if (call.name === 'finish') {
          const parsed = finishSummary(call.arguments);
          if (typeof parsed === 'string') {
            summary = parsed;
            break;
          }
          outcome = { toolCallId: call.id, ...parsed };
        } else {
          state.lastAction = `step ${step}: ${call.name}`;
          outcome = await tools.runTool({ taskId, sandboxId, step, call });
        }
        toolResults.push(outcome);
        malformedInARow = outcome.malformed ? malformedInARow + 1 : 0;
        if (malformedInARow >= MAX_CONSECUTIVE_MALFORMED_CALLS) {
          throw ApplicationFailure.nonRetryable(
            `the model sent ${malformedInARow} malformed tool calls in a row; the last: ${outcome.content.slice(0, 300)}`,
            FailureType.MalformedToolCalls,
          );
        }
      }
    }
    state.summary = summary;

    let test: TestResult | undefined;
    if (prepared.testCommand) {
      enter('testing', `running ${prepared.testCommand}`);
      test = await workspace.runTests({ taskId, sandboxId, command: prepared.testCommand });
      state.test = test;
    }

    enter('publishing', `pushing ${branch}`);
    const title = `${state.stoppedBy ? '[incomplete] ' : ''}${commitTitle(input.prompt)}`;
    const pushed = await workspace.commitAndPush({ taskId, sandboxId, repo: input.repo, branch, baseSha: prepared.baseSha, message: title });
    const pr = await sandbox.openPullRequest({
      taskId,
      repo: input.repo,
      base: input.baseBranch,
      head: branch,
      headSha: pushed.headSha,
      title,
      body: pullRequestBody(input, state, summary, test, stopNote),
      draft: state.stoppedBy !== undefined,
      diffKey: pushed.diffKey,
    });
    state.pr = pr;
    enter('completed', `opened ${pr.draft ? 'draft ' : ''}PR #${pr.number}`);
    return { summary, stoppedBy: state.stoppedBy, test, pr, steps: state.step };
  } catch (err) {
    if (isCancellation(err)) {
      enter('cancelled', 'cancelled');
    } else {
      state.error = describeFailure(err);
      enter('failed', 'failed');
    }
    throw err;
  } finally {
    if (sandboxId) {
      const id = sandboxId;
      // Runs even when the task was cancelled: a cancelled scope cannot skip cleanup.
      await CancellationScope.nonCancellable(() => sandbox.destroySandbox({ sandboxId: id }));
    }
  }
}

/** The finish tool's summary, or an error result the model can correct. */
function finishSummary(args: string): string | { content: string; isError: true; malformed: true } {
  try {
    const summary = (JSON.parse(args || '{}') as { summary?: unknown }).summary;
    if (typeof summary === 'string' && summary.trim()) return summary.trim();
  } catch {
    // fall through to the error below
  }
  return { content: 'error: finish needs {"summary": "<what you changed and why>"}', isError: true, malformed: true };
}

function commitTitle(prompt: string): string {
  const firstLine = prompt.trim().split('\n')[0] ?? '';
  return firstLine.length > 72 ? `${firstLine.slice(0, 69)}...` : firstLine;
}

function pullRequestBody(input: TaskInput, state: TaskState, summary: string, test: TestResult | undefined, stopNote?: string): string {
  const testLine = test
    ? `\`${test.command}\` ${test.passed ? 'passed' : `failed (exit ${test.exitCode})`}`
    : 'no test command found';
  const tokens = state.tokens.prompt + state.tokens.completion;
  return [
    ...(stopNote ? [`> **Incomplete**: the agent ${stopNote}. Review before merging.`, ``] : []),
    `## Summary`,
    summary,
    ``,
    `## Tests`,
    testLine,
    ``,
    `## Task`,
    `> ${input.prompt.trim().split('\n').join('\n> ')}`,
    ``,
    `Errand task \`${input.taskId}\`${input.requester ? `, requested by ${input.requester}` : ''}: ${state.step} steps, ${tokens} tokens, $${state.costUsd.toFixed(4)}.`,
  ].join('\n');
}

/** The innermost message: an ActivityFailure wraps the activity's own ApplicationFailure. */
function describeFailure(err: unknown): string {
  let cur: unknown = err;
  while (cur instanceof ActivityFailure && cur.cause) cur = cur.cause;
  return cur instanceof Error ? cur.message : String(err);
}
