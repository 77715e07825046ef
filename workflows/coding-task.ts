// codingTask: the story of one task, from an empty sandbox to a pull request. Every side
// effect is an activity, so each step reads on its own in Temporal UI and survives a crash.
// While it runs, people steer it (sendMessage), pause and resume it, approve its plan, and
// cancel it; a lost sandbox is replaced and restored from the last checkpoint; a long task
// continues as new, carrying only small state and references.
import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  ContinueAsNew,
  continueAsNew,
  isCancellation,
  patched,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import { describeBudgetStop, exhaustedBudget, type Usage } from './budget.js';
import {
  approvePlanUpdate,
  cancelRequestedSignal,
  ErrandPhase,
  feedbackSignal,
  type Feedback,
  FailureType,
  pauseSignal,
  resumeSignal,
  sendMessageUpdate,
  stateQuery,
  taskBranch,
  type SteeringMessage,
  type TaskInput,
  type TaskPhase,
  type TaskResult,
  type TaskState,
  type ReviewComment,
  type SandboxLoss,
  type ToolCall,
  type ToolOutcome,
} from './contracts.js';
import { decideRecovery, isCheckpointStep, lostAfterStep, mayChangeFiles, restoredFrom, restoreNote, shouldContinueAsNew } from './recovery.js';

type Activities = ReturnType<typeof createActivities>;

const NON_RETRYABLE = [
  FailureType.ModelRejected,
  FailureType.RepoUnavailable,
  FailureType.NoChanges,
  FailureType.SetupFailed,
  FailureType.SandboxGone,
  FailureType.SecretInDiff,
  FailureType.ForgeRejected,
  FailureType.PushRejected,
];
/**
 * How long a running activity may go without a heartbeat before Temporal retries it elsewhere:
 * what a killed worker costs a task. Activities heartbeat every 2 s (activities/heartbeat.ts,
 * and the worker's maxHeartbeatThrottleInterval), so a live one has 6 s of slack.
 */
const HEARTBEAT_TIMEOUT = '8 seconds';
/** What a tool call's result says when its sandbox was lost under it. */
const SANDBOX_LOST_WHILE_RUNNING = 'the sandbox was lost while this ran';
/** Malformed tool calls (bad JSON, unknown tool, wrong arguments) in a row before we give up. */
export const MAX_CONSECUTIVE_MALFORMED_CALLS = 5;
const MAX_PLAN_CHARS = 8_000;

const sandbox = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  retry: { maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE },
});
const workspace = proxyActivities<Activities>({
  startToCloseTimeout: '60 minutes',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: { maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE },
});
const model = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  // 429 and 5xx retry with backoff here, not inside the SDK, so each attempt shows in history.
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 8, nonRetryableErrorTypes: NON_RETRYABLE },
});
const reviewer = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 8, nonRetryableErrorTypes: NON_RETRYABLE },
});
const forge = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumAttempts: 5, nonRetryableErrorTypes: NON_RETRYABLE },
});
const tools = proxyActivities<Activities>({
  startToCloseTimeout: '65 minutes',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: { maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE },
});

interface InboxItem {
  kind: 'message' | 'note';
  text: string;
}

/** The tool call that was running when its sandbox was lost. */
interface InterruptedCall {
  step: number;
  tool: string;
  toolCallId: string;
}

/**
 * Thrown out of a phase after the agent (the final checkpoint, tests, review, publishing) when a
 * lost sandbox took work the branch does not hold: the agent gets its turns back to redo it.
 */
class WorkLost extends Error {}

/** Everything a run hands to the next when it continues as new: small values and references only. */
export interface Carried {
  state: TaskState;
  startedAt: number;
  pausedMs: number;
  sandboxId: string;
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
  /** The last step whose tool calls may have changed the workspace. */
  lastChangeStep?: number;
  /** The step through which the workspace is known to be on the task branch. */
  savedThroughStep?: number;
}

export async function codingTask(input: TaskInput, carried?: Carried): Promise<TaskResult> {
  const { taskId } = input;
  // A follow-up works on the branch (and PR) of the task it follows.
  const branch = input.followUp?.branch ?? taskBranch(taskId);
  /** The task branch as a replacement sandbox fetches it: what it restores the work from. */
  const branchRef = `refs/remotes/origin/${branch}`;
  const state: TaskState = carried?.state ?? {
    taskId,
    repo: input.repo,
    baseBranch: input.baseBranch,
    branch,
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
  const startedAt = carried?.startedAt ?? Date.now(); // Temporal's deterministic clock
  let pausedMs = carried?.pausedMs ?? 0;
  let inbox: InboxItem[] = carried?.inbox ?? [];
  let toolResults: ToolOutcome[] = carried?.toolResults ?? [];
  let malformedInARow = carried?.malformedInARow ?? 0;
  let planApproved = carried?.planApproved ?? !input.requirePlanApproval;
  let reviewRounds = carried?.reviewRounds ?? 0;
  let stopNote = carried?.stopNote;
  let sandboxId = carried?.sandboxId;
  let baseSha = carried?.baseSha ?? '';
  let testCommand = carried?.testCommand;
  let instructionsKey = carried?.instructionsKey;
  // What a lost sandbox would take: changes after the step the branch holds (a run carried over
  // from before these were kept assumes its last step changed something).
  let lastChangeStep = carried?.lastChangeStep ?? state.step;
  let savedThroughStep = carried?.savedThroughStep ?? state.checkpoint?.step ?? 0;
  /** True while the agent has turns ahead in which it reads Errand's notes (planning, working). */
  let agentWorking = false;
  const firstStepOfRun = state.step;

  const enter = (phase: TaskPhase, lastAction?: string) => {
    state.phase = phase;
    if (lastAction) state.lastAction = lastAction;
    upsertSearchAttributes([{ key: ErrandPhase, value: phase }]);
  };
  const used = (): Usage => ({
    steps: state.step,
    tokens: state.tokens.prompt + state.tokens.completion,
    costUsd: state.costUsd,
    elapsedMs: Date.now() - startedAt - pausedMs,
  });

  // ---- control: queries, steering, pause, plan approval, who cancelled -------------------
  setHandler(stateQuery, () => state);
  setHandler(
    sendMessageUpdate,
    (message: SteeringMessage) => {
      const seq = ++state.messages.accepted;
      inbox.push({ kind: 'message', text: `Message from ${message.from ?? 'the requester'} (#${seq}): ${message.text}` });
      return { seq, beforeStep: state.step + 1 };
    },
    {
      // Any phase will do: a message that arrives after the agent finished (during tests,
      // review or publishing) starts another round once the PR is up to date.
      validator: (message: SteeringMessage) => {
        if (!message?.text?.trim()) throw new Error('text: required: what the agent should know or do');
      },
    },
  );
  setHandler(pauseSignal, ({ by }) => {
    if (!state.paused) state.paused = { since: new Date(Date.now()).toISOString(), by };
  });
  setHandler(resumeSignal, () => {
    if (state.paused) pausedMs += Date.now() - Date.parse(state.paused.since);
    state.paused = undefined;
  });
  setHandler(
    approvePlanUpdate,
    ({ by }) => {
      planApproved = true;
      state.planApprovedBy = by;
      return { approvedBy: by };
    },
    {
      validator: (_approval: { by?: string }) => {
        if (state.phase !== 'awaiting_approval') throw new Error(`task is ${state.phase}; only a task awaiting approval of its plan can be approved`);
      },
    },
  );
  setHandler(cancelRequestedSignal, ({ by }) => {
    state.cancelledBy = by ?? 'unknown';
  });
  setHandler(feedbackSignal, (feedback: Feedback) => {
    const seq = ++state.messages.accepted;
    inbox.push({ kind: 'message', text: `Feedback on the pull request from ${feedback.from} (#${seq})${feedback.url ? ` (${feedback.url})` : ''}: ${feedback.body}` });
  });

  /**
   * Runs `work` against the sandbox (`during`: what it is, in words). A lost sandbox is replaced
   * and the workspace restored, then `work` runs again, or `onLoss` answers instead. When the
   * loss took work the branch does not hold and the agent has no turns ahead, the agent gets
   * them back (WorkLost) rather than tests, review or a PR going on without that work.
   */
  async function inSandbox<T>(work: (sandboxId: string) => Promise<T>, during: string, onLoss?: () => T, interrupted?: InterruptedCall): Promise<T> {
    for (;;) {
      try {
        return await work(sandboxId!);
      } catch (err) {
        const lost = await replaceSandbox(err, during, interrupted);
        if (lost !== undefined && !agentWorking && patched('lost-work-goes-back-to-the-agent')) throw new WorkLost();
        if (onLoss) return onLoss();
      }
    }
  }

  /**
   * Replaces the sandbox `err` says is lost (anything else is rethrown), up to the bound, a
   * replacement lost while it is set up included; the model is told what survived. Returns the
   * step after which changes were lost, if any were.
   */
  async function replaceSandbox(err: unknown, during: string, interrupted?: InterruptedCall): Promise<number | undefined> {
    const lostAfter = lostAfterStep(lastChangeStep, savedThroughStep);
    for (let cause = err; ; ) {
      const recovery = decideRecovery(cause, state.sandboxLosses);
      if (recovery.action === 'rethrow') throw cause;
      if (recovery.action === 'give_up') throw ApplicationFailure.nonRetryable(recovery.reason, FailureType.SandboxLost);
      const lost = sandboxId!;
      const loss: SandboxLoss = {
        at: new Date(Date.now()).toISOString(),
        sandboxId: lost,
        during,
        why: describeFailure(cause),
        restoredFrom: restoredFrom(state.checkpoint),
        ...(lostAfter !== undefined && { lostAfterStep: lostAfter }),
      };
      state.sandboxLosses++;
      (state.losses ??= []).push(loss);
      state.lastAction = `sandbox ${lost} lost during ${during}; restoring from ${loss.restoredFrom}`;
      await CancellationScope.nonCancellable(() => sandbox.destroySandbox({ sandboxId: lost }));
      sandboxId = `${taskId}-r${state.sandboxLosses}`;
      try {
        await provisionAndPrepare(state.checkpoint ? branchRef : undefined, { loss, ...(interrupted && { interrupted }) });
        break;
      } catch (again) {
        cause = again;
        during = 'the set-up of a replacement sandbox';
        interrupted = undefined;
      }
    }
    // The workspace is what the branch holds now.
    lastChangeStep = 0;
    savedThroughStep = state.step;
    inbox.push({ kind: 'note', text: restoreNote({ restoredFrom: restoredFrom(state.checkpoint), lostAfterStep: lostAfter, finished: !agentWorking }) });
    return lostAfter;
  }

  /**
   * A new sandbox with the repository: the base, set up, then the work restored from
   * `restoreFrom` (a ref of the task branch). `replacing`: the loss this sandbox replaces.
   */
  async function provisionAndPrepare(restoreFrom?: string, replacing?: { loss: SandboxLoss; interrupted?: InterruptedCall }): Promise<void> {
    const id = sandboxId!;
    await sandbox.provisionSandbox({ taskId, sandboxId: id, allowNetwork: input.network === 'on', image: state.sandboxImage, ...(replacing && { replacing }) });
    const prepared = await workspace.prepareWorkspace({ taskId, sandboxId: id, repo: input.repo, baseBranch: state.baseBranch, branch, testCommand: input.testCommand, restoreFrom });
    // The base of a follow-up is where its branch left the base branch, not the base's tip.
    baseSha ||= prepared.baseSha;
    testCommand ??= prepared.testCommand;
    const restore = restoreFrom || replacing ? { ...(restoreFrom && { ref: restoreFrom }), from: replacing?.loss.restoredFrom ?? `the task branch ${branch}` } : undefined;
    const setup = await workspace.setupRepository({
      taskId,
      sandboxId: id,
      setupScript: input.setupScript,
      network: input.network !== 'off',
      agentNetwork: input.network === 'on',
      ...(restore && { restore }),
    });
    instructionsKey ??= setup.instructionsKey;
    state.instructionsFrom ??= setup.instructionsFrom;
  }

  /** Commits and pushes the work in progress; the first push opens the draft PR. */
  async function checkpoint(during = `the checkpoint after step ${state.step}`): Promise<void> {
    const saved = await inSandbox((id) => workspace.checkpoint({ taskId, sandboxId: id, repo: input.repo, branch, baseSha, step: state.step, lastPushed: state.checkpoint?.sha }), during);
    if (saved.blocked) {
      inbox.push({ kind: 'note', text: `[errand] Your work in progress was not pushed: it adds what looks like a secret (${saved.blocked}). Remove it; secrets belong in the environment, not the repository.` });
      return;
    }
    // Pushed, or nothing new since the last push: either way the branch holds the workspace.
    savedThroughStep = state.step;
    if (!saved.sha) return;
    state.checkpoint = { sha: saved.sha, step: state.step };
    if (!state.pr) {
      state.pr = input.followUp
        ? await forge.updatePullRequest({ taskId, repo: input.repo, number: input.followUp.prNumber, round: state.feedbackRounds ?? 0 })
        : await forge.openPullRequest({ taskId, repo: input.repo, base: state.baseBranch, head: branch, title: commitTitle(input.prompt), body: workInProgressBody(input), draft: true });
    }
  }

  /**
   * One model call and its tool calls. Returns the text of `finish` (or `submit_plan`) when the
   * model called it, otherwise undefined.
   */
  async function step(mode: 'plan' | 'work'): Promise<string | undefined> {
    const current = ++state.step;
    const messages = inbox;
    inbox = [];
    const turn = await model.modelTurn({
      taskId,
      step: current,
      mode,
      task: current === 1 ? { prompt: input.prompt, repo: input.repo, baseBranch: state.baseBranch, testCommand, instructionsKey, planFirst: mode === 'plan' } : undefined,
      toolResults,
      messages: messages.map((m) => m.text),
      used: { tokens: state.tokens.prompt + state.tokens.completion, costUsd: state.costUsd },
    });
    state.messages.delivered += messages.filter((m) => m.kind === 'message').length;
    state.tokens.prompt += turn.usage.prompt;
    state.tokens.completion += turn.usage.completion;
    state.costUsd += turn.costUsd;
    toolResults = [];
    const ender = mode === 'plan' ? 'submit_plan' : 'finish';
    let ended: string | undefined;
    for (const call of turn.toolCalls) {
      let outcome: ToolOutcome;
      if (ended !== undefined) {
        // Every call gets a result (the endpoint insists), even those after the last word.
        outcome = { toolCallId: call.id, content: `skipped: called after ${ender}`, isError: true };
      } else if (call.name === ender) {
        const text = endingText(call, mode);
        if (typeof text !== 'string') {
          outcome = { toolCallId: call.id, ...text };
        } else if (inbox.some((m) => m.kind === 'message')) {
          // A message that arrived meanwhile must reach the model before it may stop.
          outcome = { toolCallId: call.id, content: `not accepted: new messages arrived; read them, then call ${ender} again`, isError: true };
        } else {
          ended = text;
          outcome = { toolCallId: call.id, content: mode === 'plan' ? 'plan submitted for approval' : 'finished', isError: false };
        }
      } else {
        state.lastAction = `step ${current}: ${call.name}`;
        outcome = await runTool(call, current, mode);
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
    return ended;
  }

  async function runTool(call: ToolCall, current: number, mode: 'plan' | 'work'): Promise<ToolOutcome> {
    // Even a call that fails may have changed files (a command that wrote, then exited 1).
    if (mode === 'work' && mayChangeFiles(call.name)) lastChangeStep = current;
    return inSandbox(
      (id) => tools.runTool({ taskId, sandboxId: id, step: current, call, mode }),
      `step ${current}: ${call.name}`,
      // The call's effect is gone with the sandbox; the model hears so and decides what to redo.
      () => ({ toolCallId: call.id, content: `error: ${SANDBOX_LOST_WHILE_RUNNING}; see the note from Errand`, isError: true }),
      { step: current, tool: call.name, toolCallId: call.id },
    );
  }

  /** Waits while paused (between steps: the sandbox is kept and no model is called). */
  async function unlessPaused(resumeAs: TaskPhase): Promise<void> {
    if (!state.paused) return;
    enter('paused', `paused${state.paused.by ? ` by ${state.paused.by}` : ''}`);
    await condition(() => !state.paused);
    enter(resumeAs, 'resumed');
  }

  /** Continues as new when this run's history is long enough; the task id, queries and API stay the same. */
  async function continueIfLong(): Promise<void> {
    const info = workflowInfo();
    if (!shouldContinueAsNew(state.step - firstStepOfRun, info.continueAsNewSuggested, info.historyLength)) return;
    await condition(allHandlersFinished);
    state.continuedAsNew++;
    const next: Carried = {
      state,
      startedAt,
      pausedMs,
      sandboxId: sandboxId!,
      baseSha,
      testCommand,
      instructionsKey,
      toolResults,
      inbox,
      malformedInARow,
      planApproved,
      reviewRounds,
      stopNote,
      lastChangeStep,
      savedThroughStep,
    };
    await continueAsNew<typeof codingTask>(input, next);
  }

  /** The agent works until it calls finish or a budget ends it; returns its summary. */
  async function work(): Promise<string> {
    enter('working', state.step === 0 ? 'agent started' : state.lastAction);
    agentWorking = true;
    try {
      for (;;) {
        await unlessPaused('working');
        const stop = exhaustedBudget(input.budget, used());
        if (stop) {
          state.stoppedBy = stop;
          stopNote = describeBudgetStop(stop, input.budget, used());
          return `The agent did not finish: it ${stopNote}. This is the work so far.`;
        }
        await continueIfLong();
        const summary = await step('work');
        if (summary !== undefined) return summary;
        if (isCheckpointStep(state.step, input.checkpointEverySteps)) await checkpoint();
      }
    } finally {
      agentWorking = false;
    }
  }

  /** Tests and review on what the agent did. Returns true when the reviewer's comments should go back to the agent. */
  async function checkAndReview(summary: string): Promise<boolean> {
    // Everything the agent did is on the branch before tests run: a sandbox lost from here on
    // loses nothing. Lost before it is, the agent works again (WorkLost).
    await checkpoint('the final checkpoint, after the agent finished');
    if (testCommand) {
      enter('testing', `running ${testCommand}`);
      const command = testCommand;
      state.test = await inSandbox((id) => workspace.runTests({ taskId, sandboxId: id, command }), 'tests');
    }
    enter('reviewing', `review round ${reviewRounds + 1}`);
    const round = reviewRounds + 1;
    const reviewed = await inSandbox(
      (id) => reviewer.review({ taskId, sandboxId: id, baseSha, round, prompt: input.prompt, summary, test: state.test, instructionsKey, allowedPaths: input.allowedPaths }),
      'review',
    );
    state.tokens.prompt += reviewed.usage.prompt;
    state.tokens.completion += reviewed.usage.completion;
    state.costUsd += reviewed.costUsd;
    const { review } = reviewed;
    const unresolved = review.verdict === 'approve' ? [] : review.comments;
    state.review = { verdict: review.verdict, summary: review.summary, rounds: round, unresolved, outsideAllowedPaths: review.outsideAllowedPaths };
    if (review.verdict === 'approve' || state.stoppedBy || reviewRounds >= input.maxReviewRounds) return false;
    reviewRounds++;
    inbox.push({ kind: 'note', text: reviewNote(review.summary, review.comments, reviewRounds, input.maxReviewRounds) });
    return true;
  }

  /** Squashes, pushes, and opens the PR or brings it up to date; ready for review only when approved and complete. */
  async function publish(summary: string): Promise<void> {
    enter('publishing', `pushing ${branch}`);
    const title = `${state.stoppedBy ? '[incomplete] ' : ''}${commitTitle(input.prompt)}`;
    const pushed = await inSandbox((id) => workspace.publishBranch({ taskId, sandboxId: id, repo: input.repo, branch, baseSha, message: title, coAuthor: input.coAuthor }), 'publishing');
    state.checkpoint = { sha: pushed.headSha, step: state.step };
    savedThroughStep = state.step;
    const body = pullRequestBody(input, state, summary, stopNote);
    const ready = state.review?.verdict === 'approve' && !state.stoppedBy;
    const number = state.pr?.number ?? input.followUp?.prNumber;
    state.pr = number
      ? await forge.updatePullRequest({ taskId, repo: input.repo, number, title, body, ready, diffKey: pushed.diffKey, round: state.feedbackRounds ?? 0 })
      : await forge.openPullRequest({ taskId, repo: input.repo, base: state.baseBranch, head: branch, title, body, draft: !ready, diffKey: pushed.diffKey });
    reviewRounds = 0;
  }

  /**
   * Another round when messages or PR feedback arrived after the agent finished, or, when the
   * task asks for it, once they arrive within `awaitFeedbackMinutes`. Nothing is kept while
   * waiting: a sandbox is provisioned from the pushed branch when there is work. Returns false
   * when there is no more to do.
   */
  async function feedbackArrived(): Promise<boolean> {
    const pending = () => inbox.some((m) => m.kind === 'message');
    if (!pending() && !input.awaitFeedbackMinutes) return false;
    const done = sandboxId!;
    sandboxId = undefined;
    await CancellationScope.nonCancellable(() => sandbox.destroySandbox({ sandboxId: done }));
    if (!pending()) {
      enter('awaiting_feedback', `waiting up to ${input.awaitFeedbackMinutes} minutes for feedback on PR #${state.pr?.number}`);
      if (!(await condition(pending, `${input.awaitFeedbackMinutes} minutes`))) return false;
    }
    state.feedbackRounds = (state.feedbackRounds ?? 0) + 1;
    state.stoppedBy = undefined;
    stopNote = undefined;
    enter('provisioning', `feedback round ${state.feedbackRounds}`);
    sandboxId = `${taskId}-f${state.feedbackRounds}`;
    // A replacement lost while it is set up is replaced (and set up) by inSandbox itself.
    await inSandbox(() => provisionAndPrepare(state.checkpoint ? branchRef : undefined), `the set-up of feedback round ${state.feedbackRounds}`, () => undefined);
    return true;
  }

  let keepSandbox = false;
  try {
    if (!carried) {
      // A missing repo or branch, or no permission, ends the task now with the forge's message.
      // An empty base branch means the repository's default, which the forge knows.
      const repository = await forge.checkRepository({ repo: input.repo, baseBranch: input.baseBranch });
      state.baseBranch = repository.baseBranch;
      state.sandboxImage = input.sandboxImage ?? repository.sandboxImage;
      if (input.notify) await forge.comment({ repo: input.repo, number: input.notify.issueNumber, body: startedComment(input) });
      enter('provisioning', 'provisioning a sandbox');
      sandboxId = taskId;
      enter('preparing', `cloning ${input.repo}@${state.baseBranch}`);
      await inSandbox(() => provisionAndPrepare(input.followUp ? branchRef : undefined), 'setup', () => undefined);
    }

    // ---- the plan gate: a plan first, no edits, then wait for approval or a revision ----------
    while (!planApproved) {
      enter('planning', 'writing a plan');
      let plan: string | undefined;
      agentWorking = true;
      while (plan === undefined) {
        await unlessPaused('planning');
        await continueIfLong();
        plan = await step('plan');
      }
      agentWorking = false;
      state.plan = plan.slice(0, MAX_PLAN_CHARS);
      enter('awaiting_approval', 'waiting for the plan to be approved');
      await condition(() => planApproved || inbox.length > 0);
      if (!planApproved) inbox.unshift({ kind: 'note', text: '[errand] The plan was not approved yet; revise it with the messages below, then call submit_plan again.' });
    }
    if (input.requirePlanApproval && state.phase === 'awaiting_approval') {
      inbox.unshift({ kind: 'note', text: `[errand] Your plan was approved${state.planApprovedBy ? ` by ${state.planApprovedBy}` : ''}. Carry it out now: you may edit files and run commands.` });
    }

    // ---- work, check, review; publish; another round on feedback ------------------------------
    for (;;) {
      const summary = await work();
      state.summary = summary;
      enter('testing', 'saving the work');
      try {
        if (await checkAndReview(summary)) continue;
        await publish(summary);
      } catch (err) {
        // The sandbox took work the branch does not hold: the agent redoes it (it was told).
        if (err instanceof WorkLost) continue;
        throw err;
      }
      if (await feedbackArrived()) continue;
      const pr = state.pr!;
      enter('completed', `${pr.draft ? 'draft ' : ''}PR #${pr.number} is up to date`);
      return { summary, stoppedBy: state.stoppedBy, test: state.test, pr, steps: state.step, review: state.review?.verdict };
    }
  } catch (err) {
    if (err instanceof ContinueAsNew) {
      keepSandbox = true; // the next run goes on in it
      throw err;
    }
    if (isCancellation(err)) {
      state.cancelledBy ??= 'unknown';
      enter('cancelled', `cancelled by ${state.cancelledBy}`);
      // The branch keeps the work so far; a sandbox already gone has nothing more to save.
      const id = sandboxId;
      if (id) {
        await CancellationScope.nonCancellable(() =>
          workspace.checkpoint({ taskId, sandboxId: id, repo: input.repo, branch, baseSha, step: state.step, lastPushed: state.checkpoint?.sha }).catch(() => undefined),
        );
      }
    } else {
      state.error = describeFailure(err);
      enter('failed', 'failed');
    }
    throw err;
  } finally {
    if (sandboxId && !keepSandbox) {
      const id = sandboxId;
      // Runs even when the task was cancelled: a cancelled scope cannot skip cleanup.
      await CancellationScope.nonCancellable(() => sandbox.destroySandbox({ sandboxId: id }));
    }
  }
}

/** The text of `finish` (summary) or `submit_plan` (plan), or an error result the model can correct. */
function endingText(call: ToolCall, mode: 'plan' | 'work'): string | { content: string; isError: true; malformed: true } {
  const field = mode === 'plan' ? 'plan' : 'summary';
  try {
    const text = (JSON.parse(call.arguments || '{}') as Record<string, unknown>)[field];
    if (typeof text === 'string' && text.trim()) return text.trim();
  } catch {
    // fall through to the error below
  }
  const hint = mode === 'plan' ? 'the steps you will take, the files you will change, how you will test' : 'what you changed and why';
  return { content: `error: ${call.name} needs {"${field}": "<${hint}>"}`, isError: true, malformed: true };
}

function commitTitle(prompt: string): string {
  const firstLine = prompt.trim().split('\n')[0] ?? '';
  return firstLine.length > 72 ? `${firstLine.slice(0, 69)}...` : firstLine;
}

function workInProgressBody(input: TaskInput): string {
  return [
    '> **Work in progress**: Errand is working on this; the branch is updated as it goes. It is marked ready when it is done and the review approves.',
    '',
    `## Task`,
    `> ${input.prompt.trim().split('\n').join('\n> ')}`,
    '',
    taskLine(input),
  ].join('\n');
}

function pullRequestBody(input: TaskInput, state: TaskState, summary: string, stopNote?: string): string {
  const test = state.test;
  const testLog = input.links?.task ? ` ([log](${input.links.task}/logs/test))` : '';
  const testLine = test ? `\`${test.command}\` ${test.passed ? 'passed' : `failed (exit ${test.exitCode})`}${testLog}` : 'no test command found';
  const tokens = state.tokens.prompt + state.tokens.completion;
  const review = state.review;
  return [
    ...(stopNote ? [`> **Incomplete**: the agent ${stopNote}. Review before merging.`, ``] : []),
    `## Summary`,
    summary,
    ``,
    ...(state.plan ? [`## Plan${state.planApprovedBy ? ` (approved by ${state.planApprovedBy})` : ''}`, state.plan, ``] : []),
    `## Tests`,
    testLine,
    ``,
    ...(review
      ? [
          `## Review`,
          `${review.verdict === 'approve' ? 'Approved' : 'Changes requested'} by the review agent after ${review.rounds} round${review.rounds === 1 ? '' : 's'}: ${review.summary}`,
          ...(review.unresolved.length ? ['', 'Unresolved comments:', ...review.unresolved.map((c) => `- ${where(c)} (${c.severity}): ${c.body}`)] : []),
          ...(review.outsideAllowedPaths.length ? ['', `Files outside the paths this task may change: ${review.outsideAllowedPaths.map((f) => `\`${f}\``).join(', ')}`] : []),
          ``,
        ]
      : []),
    ...(state.losses?.length ? [`## Sandbox losses`, ...state.losses.map(describeLoss), ``] : []),
    `## Task`,
    `> ${input.prompt.trim().split('\n').join('\n> ')}`,
    ``,
    `${taskLine(input)}: ${state.step} steps, ${tokens} tokens, $${state.costUsd.toFixed(4)}.`,
  ].join('\n');
}

/** One lost sandbox, as the PR tells it. */
function describeLoss(loss: SandboxLoss): string {
  const lost =
    loss.lostAfterStep === undefined
      ? 'nothing was lost'
      : `the changes made after ${loss.lostAfterStep ? `step ${loss.lostAfterStep}` : 'the start'} were lost; the agent was told and went on from there`;
  return `- ${loss.at}: the sandbox was lost during ${loss.during}; restored from ${loss.restoredFrom}; ${lost}.`;
}

function startedComment(input: TaskInput): string {
  const task = input.links?.task ? `[task \`${input.taskId}\`](${input.links.task})` : `task \`${input.taskId}\``;
  const run = input.links?.temporalUi ? `, [run](${input.links.temporalUi})` : '';
  return `Errand is on it: ${task}${run}. A pull request follows${input.followUp ? ` on #${input.followUp.prNumber}` : ''}.`;
}

function taskLine(input: TaskInput): string {
  const task = input.links?.task ? `[\`${input.taskId}\`](${input.links.task})` : `\`${input.taskId}\``;
  const run = input.links?.temporalUi ? ` ([run in Temporal UI](${input.links.temporalUi}))` : '';
  return `Errand task ${task}${run}${input.requester ? `, requested by ${input.requester}` : ''}`;
}

function where(c: ReviewComment): string {
  return `\`${c.file}${c.line ? `:${c.line}` : ''}\``;
}

function reviewNote(summary: string, comments: ReviewComment[], round: number, maxRounds: number): string {
  return [
    `[errand] The reviewer requested changes (round ${round} of at most ${maxRounds}): ${summary}`,
    ...comments.map((c) => `- ${where(c)} (${c.severity}): ${c.body}`),
    'Address them, run the tests, then call finish again.',
  ].join('\n');
}

/** The innermost message: an ActivityFailure wraps the activity's own ApplicationFailure. */
function describeFailure(err: unknown): string {
  let cur: unknown = err;
  while (cur instanceof ActivityFailure && cur.cause) cur = cur.cause;
  return cur instanceof Error ? cur.message : String(err);
}
