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
import {
  ErrandPhase,
  stateQuery,
  taskBranch,
  type TaskInput,
  type TaskPhase,
  type TaskResult,
  type TaskState,
  type ToolOutcome,
} from './contracts.js';

type Activities = ReturnType<typeof createActivities>;

const NON_RETRYABLE = ['ModelRequestRejected', 'RepoUnavailable', 'NoChanges'];

const sandbox = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE },
});
const workspace = proxyActivities<Activities>({
  startToCloseTimeout: '15 minutes',
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
  startToCloseTimeout: '15 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE },
});

export async function codingTask(input: TaskInput): Promise<TaskResult> {
  const branch = taskBranch(input.taskId);
  const state: TaskState = {
    taskId: input.taskId,
    repo: input.repo,
    baseBranch: input.baseBranch,
    branch,
    phase: 'queued',
    step: 0,
    maxSteps: input.maxSteps,
    tokens: { prompt: 0, completion: 0 },
  };
  setHandler(stateQuery, () => state);
  const enter = (phase: TaskPhase, lastAction?: string) => {
    state.phase = phase;
    if (lastAction) state.lastAction = lastAction;
    upsertSearchAttributes([{ key: ErrandPhase, value: phase }]);
  };

  let sandboxId: string | undefined;
  try {
    enter('provisioning', 'provisioning a sandbox');
    sandboxId = (await sandbox.provisionSandbox({ taskId: input.taskId })).sandboxId;

    enter('preparing', `cloning ${input.repo}@${input.baseBranch}`);
    const prepared = await workspace.prepareWorkspace({
      taskId: input.taskId,
      sandboxId,
      repo: input.repo,
      baseBranch: input.baseBranch,
      branch,
      testCommand: input.testCommand,
    });

    enter('working', 'agent started');
    let summary: string | undefined;
    let toolResults: ToolOutcome[] = [];
    for (let step = 1; step <= input.maxSteps && summary === undefined; step++) {
      state.step = step;
      const turn = await model.modelTurn({
        taskId: input.taskId,
        step,
        task: { prompt: input.prompt, repo: input.repo, baseBranch: input.baseBranch, testCommand: prepared.testCommand },
        toolResults,
      });
      state.tokens.prompt += turn.usage.prompt;
      state.tokens.completion += turn.usage.completion;
      toolResults = [];
      for (const call of turn.toolCalls) {
        if (call.name === 'finish') {
          const parsed = finishSummary(call.arguments);
          if (typeof parsed === 'string') {
            summary = parsed;
            break;
          }
          toolResults.push({ toolCallId: call.id, ...parsed });
          continue;
        }
        state.lastAction = `step ${step}: ${call.name}`;
        toolResults.push(await tools.runTool({ taskId: input.taskId, sandboxId, call }));
      }
    }
    if (summary === undefined) {
      throw ApplicationFailure.nonRetryable(
        `the agent did not finish within ${input.maxSteps} steps; raise maxSteps or narrow the prompt`,
        'StepBudgetExhausted',
      );
    }
    state.summary = summary;

    let test = undefined;
    if (prepared.testCommand) {
      enter('testing', `running ${prepared.testCommand}`);
      test = await workspace.runTests({ taskId: input.taskId, sandboxId, command: prepared.testCommand });
      state.test = test;
    }

    enter('publishing', `pushing ${branch}`);
    const pushed = await workspace.commitAndPush({
      taskId: input.taskId,
      sandboxId,
      branch,
      baseSha: prepared.baseSha,
      message: commitTitle(input.prompt),
    });
    const pr = await sandbox.openPullRequest({
      taskId: input.taskId,
      repo: input.repo,
      base: input.baseBranch,
      head: branch,
      headSha: pushed.headSha,
      title: commitTitle(input.prompt),
      body: pullRequestBody(input, summary, test),
      diffKey: pushed.diffKey,
    });
    state.pr = pr;
    enter('completed', `opened PR #${pr.number}`);
    return { summary, test, pr, steps: state.step };
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
function finishSummary(args: string): string | { content: string; isError: true } {
  try {
    const summary = (JSON.parse(args || '{}') as { summary?: unknown }).summary;
    if (typeof summary === 'string' && summary.trim()) return summary.trim();
  } catch {
    // fall through to the error below
  }
  return { content: 'finish needs {"summary": "<what you changed and why>"}', isError: true };
}

function commitTitle(prompt: string): string {
  const firstLine = prompt.trim().split('\n')[0] ?? '';
  return firstLine.length > 72 ? `${firstLine.slice(0, 69)}...` : firstLine;
}

function pullRequestBody(input: TaskInput, summary: string, test: TaskResult['test']): string {
  const testLine = test
    ? `\`${test.command}\` ${test.passed ? 'passed' : `failed (exit ${test.exitCode})`}`
    : 'no test command found';
  return [
    `## Summary`,
    summary,
    ``,
    `## Tests`,
    testLine,
    ``,
    `## Task`,
    `> ${input.prompt.trim().split('\n').join('\n> ')}`,
    ``,
    `Errand task \`${input.taskId}\`${input.requester ? `, requested by ${input.requester}` : ''}.`,
  ].join('\n');
}

/** The innermost message: an ActivityFailure wraps the activity's own ApplicationFailure. */
function describeFailure(err: unknown): string {
  let cur: unknown = err;
  while (cur instanceof ActivityFailure && cur.cause) cur = cur.cause;
  return cur instanceof Error ? cur.message : String(err);
}
