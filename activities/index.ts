// createActivities: every activity the worker registers, built from the providers it is given,
// so tests pass real local providers and production passes Kubernetes/GitHub ones.
import { createHash } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { z } from 'zod';
import { FailureType, IMAGE_REFERENCE, type ModelTurnResult, type SandboxLoss, type PullRequestRef, type ReviewResult, type TestResult, type ToolCall, type ToolOutcome } from '../workflows/contracts.js';
import { fitToWindow } from './agent/context-window.js';
import { loadConversation, saveStep } from './agent/conversation.js';
import { callCost, type ModelClient } from './agent/model-client.js';
import { coderSystemPrompt, type TaskBrief } from './agent/prompts.js';
import { setupRepository, type RepoSetup } from './agent/repo-setup.js';
import { runToolCall, toolDefinitions, type AgentMode } from './agent/tools.js';
import type { Forge, OpenPullRequest, UpdatePullRequest } from './forge/forge.js';
import { pushFromSandbox } from './git/transfer.js';
import * as git from './git/workspace.js';
import { withHeartbeat } from './heartbeat.js';
import { describeSecrets, findSecrets, outsideAllowedPaths, parseDiff } from './review/checks.js';
import { runReview } from './review/reviewer.js';
import type { SandboxProvider } from './sandbox/provider.js';
import { SandboxdClient } from './sandbox/sandboxd-client.js';
import { truncateMiddle } from './sandbox/truncate.js';
import type { ArtifactStore } from './store/artifact-store.js';
import { recordEvent } from './store/events.js';
import { REDACTED, type Redactor } from './store/redactor.js';

export interface ActivityDeps {
  sandboxes: SandboxProvider;
  /** What Temporal says of a workflow, for the reaper. */
  workflows?: { status(workflowId: string): Promise<'running' | 'closed' | 'unknown'> };
  forge: Forge;
  /** Undefined when no model is configured: the API refuses tasks before they get here. */
  models: { coder?: ModelClient; reviewer?: ModelClient };
  /** Already redacting (RedactingStore): everything put here is safe to show. */
  store: ArtifactStore;
  redactor: Redactor;
  limits: { setupTimeoutMs: number };
}

const NUDGE = 'Continue with the tools. When the task is done, call finish with a summary.';
const EXCERPT = 500;
/** Tool-call arguments above this size (a whole file to write) go to the store, not history. */
const INLINE_ARGUMENTS_BYTES = 8_000;
const MAX_SUMMARY_BYTES = 8_000;
/** Tools whose text the workflow itself reads, so they stay inline (capped). */
const ENDING_FIELDS: Record<string, string> = { finish: 'summary', submit_plan: 'plan' };
const MAX_TEXT_BYTES = 2_000;

export function createActivities({ sandboxes, workflows, forge, models, store, redactor, limits }: ActivityDeps) {
  const connect = async (sandboxId: string, signal?: AbortSignal) =>
    new SandboxdClient(sandboxId, await sandboxes.endpoint(sandboxId), signal);
  const event = (taskId: string, e: Parameters<typeof recordEvent>[2]) => recordEvent(store, taskId, e);
  /**
   * A lost sandbox, told where people look: a `sandbox_lost` event, the `tool_result` of the call
   * it interrupted (with the reason, not a half-finished output), and one log line in words.
   */
  const tellLoss = async (taskId: string, loss: SandboxLoss, interrupted?: { step: number; tool: string; toolCallId: string }) => {
    const lost = loss.lostAfterStep === undefined ? 'nothing' : `the changes made after ${loss.lostAfterStep ? `step ${loss.lostAfterStep}` : 'the start'}`;
    await event(taskId, { id: `sandbox-lost:${loss.sandboxId}`, type: 'sandbox_lost', ...loss, lost, lostAfterStep: loss.lostAfterStep ?? null });
    if (interrupted) {
      await event(taskId, {
        id: `step:${interrupted.step}:${interrupted.toolCallId}:result`,
        type: 'tool_result',
        step: interrupted.step,
        tool: interrupted.tool,
        toolCallId: interrupted.toolCallId,
        isError: true,
        output: 'the sandbox was lost while this ran',
      });
    }
    Context.current().log.warn(`task ${taskId}: sandbox ${loss.sandboxId} was lost during ${loss.during} (${loss.why}); it is replaced, restored from ${loss.restoredFrom}; lost: ${lost}`, { taskId });
  };
  /**
   * `client`, telling the task's events when a call fails in a way the retry policy retries
   * (429, 5xx, unreachable), with the reason and how long until the next attempt: nobody
   * watches, and a task waiting on a rate limit should say so.
   */
  const tellingRetries = (client: ModelClient, taskId: string, at: { step: number } | { round: number }): ModelClient => ({
    model: client.model,
    settings: client.settings,
    complete: async (req, signal) => {
      try {
        return await client.complete(req, signal);
      } catch (err) {
        if (err instanceof ApplicationFailure && err.type === FailureType.ModelUnavailable) {
          const attempt = Context.current().info.attempt;
          const retryIn = typeof err.nextRetryDelay === 'number' ? err.nextRetryDelay / 1000 : null;
          const label = 'step' in at ? `step:${at.step}` : `review:${at.round}`;
          await event(taskId, { id: `${label}:model-retry:${attempt}`, type: 'model_retry', ...at, attempt, reason: err.message, retryInSeconds: retryIn });
        }
        throw err;
      }
    },
  });

  /**
   * Keeps a tool call small enough for history: large arguments are stored and passed by key,
   * and the finish summary (which the workflow reads) is capped.
   */
  const claimCheck = async (taskId: string, step: number, call: ToolCall): Promise<ToolCall> => {
    const field = ENDING_FIELDS[call.name];
    if (field) {
      const text = parseField(call.arguments, field);
      return text === undefined ? call : { ...call, arguments: JSON.stringify({ [field]: truncateMiddle(text, MAX_SUMMARY_BYTES).text }) };
    }
    if (Buffer.byteLength(call.arguments) <= INLINE_ARGUMENTS_BYTES) return call;
    // The call's id is the model's to choose: it names the key only through a hash.
    const argumentsKey = `tasks/${taskId}/tool-arguments/${String(step).padStart(6, '0')}-${createHash('sha256').update(call.id).digest('hex').slice(0, 16)}.json`;
    await store.put(argumentsKey, call.arguments);
    return { id: call.id, name: call.name, arguments: '', argumentsKey };
  };

  return redactFailures(redactor, {
    /** `replacing`: the lost sandbox this one replaces, which the task's events and the log tell of first. */
    async provisionSandbox(req: {
      taskId: string;
      sandboxId: string;
      allowNetwork: boolean;
      image?: string;
      replacing?: { loss: SandboxLoss; interrupted?: { step: number; tool: string; toolCallId: string } };
    }): Promise<{ sandboxId: string }> {
      const { replacing, ...spec } = req;
      if (replacing) await tellLoss(req.taskId, replacing.loss, replacing.interrupted);
      const sandbox = await sandboxes.provision(spec);
      await event(req.taskId, { id: `sandbox:${sandbox.sandboxId}`, type: 'sandbox_provisioned', sandboxId: sandbox.sandboxId, provider: sandboxes.name });
      return sandbox;
    },

    async destroySandbox(req: { sandboxId: string }): Promise<void> {
      await sandboxes.destroy(req.sandboxId);
    },

    /** Deletes the sandboxes whose workflow has closed or is unknown; keeps those still running. */
    async reapSandboxes(): Promise<{ deleted: { sandboxId: string; workflowId?: string; why: string }[]; kept: number }> {
      const deleted: { sandboxId: string; workflowId?: string; why: string }[] = [];
      let kept = 0;
      for (const { sandboxId, workflowId } of await sandboxes.list()) {
        const status = workflowId && workflows ? await workflows.status(workflowId) : 'unknown';
        if (status === 'running') {
          kept++;
          continue;
        }
        await sandboxes.destroy(sandboxId);
        deleted.push({ sandboxId, workflowId, why: workflowId ? `workflow ${workflowId} is ${status}` : 'no workflow is named on it' });
      }
      return { deleted, kept };
    },

    async prepareWorkspace(req: {
      taskId: string;
      sandboxId: string;
      repo: string;
      baseBranch: string;
      branch: string;
      testCommand?: string;
      /** The checkpoint commit on the task branch that setupRepository restores the work from. */
      restoreFrom?: string;
    }): Promise<git.PreparedWorkspace> {
      const remote = await forge.cloneRemote(req.repo);
      const prepared = await withHeartbeat(async (signal) => git.prepareWorkspace(await connect(req.sandboxId, signal), { ...req, remote }));
      await event(req.taskId, {
        id: `workspace:${req.sandboxId}`,
        type: 'workspace_ready',
        sandboxId: req.sandboxId,
        baseSha: prepared.baseSha,
        testCommand: prepared.testCommand ?? null,
      });
      return prepared;
    },

    /**
     * The repository's setup on the base as the base branch holds it (its instructions, its
     * setup script), in a sandbox where nothing of the agent's has run yet; then the work is
     * restored from `restoreFrom`. So an agent that edits the setup script or the instructions
     * never gets them run or read with the setup's network.
     * `network`: for the setup script; `agentNetwork`: for everything after it.
     */
    async setupRepository(req: {
      taskId: string;
      sandboxId: string;
      setupScript?: string;
      network: boolean;
      agentNetwork?: boolean;
      /** Work to put back after setup: `ref` (none: the base branch, as prepared), told as `from`. */
      restore?: { ref?: string; from: string };
    }): Promise<RepoSetup> {
      const { setup, head } = await withHeartbeat(async (signal) => {
        const sandbox = await connect(req.sandboxId, signal);
        const done = await setupRepository(sandbox, store, { ...req, timeoutMs: limits.setupTimeoutMs });
        return { setup: done, head: req.restore ? await git.restoreWork(sandbox, req.restore.ref) : undefined };
      });
      if (req.network && req.agentNetwork === false) await sandboxes.restrictEgress?.(req.sandboxId);
      await event(req.taskId, { id: `setup:${req.sandboxId}`, type: 'setup_finished', instructionsFrom: setup.instructionsFrom ?? null, setupLogKey: setup.setupLogKey ?? null });
      if (req.restore) await event(req.taskId, { id: `workspace:${req.sandboxId}:restored`, type: 'workspace_restored', sandboxId: req.sandboxId, from: req.restore.from, sha: head });
      return setup;
    },

    async modelTurn(req: {
      taskId: string;
      step: number;
      /** Given on the first step only: it starts the conversation. */
      task?: TaskBrief;
      toolResults: ToolOutcome[];
      /** Messages from people and notes from Errand, read after the tool results. */
      messages?: string[];
      /** While planning the model gets read-only tools and submit_plan. */
      mode?: AgentMode;
      used: { tokens: number; costUsd: number };
    }): Promise<ModelTurnResult> {
      const coder = models.coder;
      if (!coder) throw new Error('no model is configured: set ERRAND_MODEL_BASE_URL and ERRAND_MODEL');
      await event(req.taskId, { id: `step:${req.step}:started`, type: 'step_started', step: req.step });
      let history = await loadConversation(store, req.taskId, req.step);
      if (history.length === 0) {
        if (!req.task) throw new Error(`the transcript of task ${req.taskId} is missing its start`);
        const instructions = req.task.instructionsKey ? await store.get(req.task.instructionsKey) : undefined;
        history = [
          { role: 'system', content: coderSystemPrompt(req.task, instructions) },
          { role: 'user', content: req.task.prompt },
        ];
        await saveStep(store, req.taskId, 0, history);
      }
      const incoming: ChatCompletionMessageParam[] = [
        ...req.toolResults.map((r): ChatCompletionMessageParam => ({ role: 'tool', tool_call_id: r.toolCallId, content: r.content })),
        ...(req.messages ?? []).map((text): ChatCompletionMessageParam => ({ role: 'user', content: text })),
      ];
      const last = history[history.length - 1];
      if (incoming.length === 0 && last?.role === 'assistant') incoming.push({ role: 'user', content: NUDGE });
      const fitted = fitToWindow([...history, ...incoming], coder.settings.contextTokens);
      const tools = toolDefinitions(req.mode ?? 'work');
      const model = tellingRetries(coder, req.taskId, { step: req.step });
      const res = await withHeartbeat((signal) => model.complete({ messages: fitted.messages, tools, tool_choice: 'auto' }, signal));
      const message = res.choices[0]!.message;
      const toolCalls: ToolCall[] = [];
      for (const c of message.tool_calls ?? []) {
        if (c.type !== 'function') continue;
        // The answer arrives redacted (RedactingModelClient): a secret never flows from the model
        // into the sandbox or history, and the model is told.
        const args = c.function.arguments;
        const call: ToolCall = { id: c.id, name: c.function.name, arguments: args, ...(args.includes(REDACTED) && { redacted: true }) };
        toolCalls.push(await claimCheck(req.taskId, req.step, call));
      }
      const answer: ChatCompletionMessageParam = {
        role: 'assistant',
        content: message.content ?? null,
        ...(message.tool_calls?.length ? { tool_calls: message.tool_calls } : {}),
      };
      await saveStep(store, req.taskId, req.step, [...incoming, answer]);
      const usage = { prompt: res.usage?.prompt_tokens ?? 0, completion: res.usage?.completion_tokens ?? 0 };
      const costUsd = callCost(coder.settings, usage);
      await event(req.taskId, {
        id: `step:${req.step}:model`,
        type: 'model_answered',
        step: req.step,
        toolCalls: toolCalls.map((c) => c.name),
        text: message.content?.slice(0, EXCERPT) ?? null,
        elidedToolOutputs: fitted.elided,
        usage,
        costUsd,
      });
      await event(req.taskId, {
        id: `step:${req.step}:budget`,
        type: 'budget_used',
        step: req.step,
        tokens: req.used.tokens + usage.prompt + usage.completion,
        costUsd: req.used.costUsd + costUsd,
      });
      const text = message.content ? truncateMiddle(message.content, MAX_TEXT_BYTES).text : undefined;
      return { toolCalls, text, usage, costUsd };
    },

    async runTool(req: { taskId: string; sandboxId: string; step: number; call: ToolCall; mode?: AgentMode }): Promise<ToolOutcome> {
      const call = req.call.argumentsKey ? { ...req.call, arguments: (await store.get(req.call.argumentsKey)) ?? '' } : req.call;
      const base = { step: req.step, tool: call.name, toolCallId: call.id };
      await event(req.taskId, { id: `step:${req.step}:${call.id}:called`, type: 'tool_called', ...base, arguments: call.arguments.slice(0, EXCERPT) });
      const outcome = await withHeartbeat(async (signal) => runToolCall(call, await connect(req.sandboxId, signal), req.mode ?? 'work'));
      // Tool output enters workflow history as this activity's result: redact it here.
      const note = call.redacted ? '\n[errand: your arguments held something that looks like a secret; it was replaced with [REDACTED]. Read secrets from the environment instead of writing them.]' : '';
      const safe = { ...outcome, content: redactor.redact(outcome.content) + note };
      await event(req.taskId, { id: `step:${req.step}:${req.call.id}:result`, type: 'tool_result', ...base, isError: safe.isError, output: safe.content.slice(0, EXCERPT) });
      return safe;
    },

    async runTests(req: { taskId: string; sandboxId: string; command: string }): Promise<TestResult> {
      const test = await withHeartbeat(async (signal) => git.runTests(await connect(req.sandboxId, signal), store, req));
      const safe = { ...test, outputTail: redactor.redact(test.outputTail) };
      await event(req.taskId, { id: 'tests', type: 'tests_finished', command: safe.command, passed: safe.passed, exitCode: safe.exitCode });
      return safe;
    },

    /**
     * Commits the work in progress and pushes it when it changed since `lastPushed`; a branch
     * that would publish a secret is not pushed, and the caller hears what was found where.
     */
    async checkpoint(req: { taskId: string; sandboxId: string; repo: string; branch: string; baseSha: string; step: number; lastPushed?: string }): Promise<{ sha?: string; blocked?: string }> {
      return withHeartbeat(async (signal) => {
        const sandbox = await connect(req.sandboxId, signal);
        const head = await git.commitWorkInProgress(sandbox, req);
        if (head === (req.lastPushed ?? req.baseSha)) return {};
        const secrets = findSecrets(await git.branchDiff(sandbox, req.baseSha), redactor);
        if (secrets.length) {
          const blocked = describeSecrets(secrets);
          await event(req.taskId, { id: `checkpoint:${head}`, type: 'checkpoint_blocked', step: req.step, secrets: blocked });
          return { blocked };
        }
        await pushFromSandbox(sandbox, { branch: req.branch, baseSha: req.baseSha, remote: await forge.pushRemote(req.repo) });
        await event(req.taskId, { id: `checkpoint:${head}`, type: 'checkpoint', step: req.step, sha: head });
        return { sha: head };
      });
    },

    /** The deterministic checks, then the reviewer model, on the branch as it stands. */
    async review(req: {
      taskId: string;
      sandboxId: string;
      baseSha: string;
      round: number;
      prompt: string;
      summary: string;
      test?: TestResult;
      instructionsKey?: string;
      allowedPaths?: string[];
    }): Promise<{ review: ReviewResult; usage: { prompt: number; completion: number }; costUsd: number }> {
      const reviewer = models.reviewer ?? models.coder;
      if (!reviewer) throw new Error('no model is configured: set ERRAND_MODEL_BASE_URL and ERRAND_MODEL');
      return withHeartbeat(async (signal) => {
        const sandbox = await connect(req.sandboxId, signal);
        const diff = await git.branchDiff(sandbox, req.baseSha);
        const files = parseDiff(diff);
        if (files.length === 0) {
          throw ApplicationFailure.nonRetryable('no changes: the agent finished without changing any file, so there is nothing to review or publish', FailureType.NoChanges);
        }
        const secrets = findSecrets(diff, redactor);
        if (secrets.length) {
          throw ApplicationFailure.nonRetryable(
            `the change adds what looks like a secret (${describeSecrets(secrets)}), so it was blocked and not pushed; keep secrets out of the repository (environment variables, a secret manager)`,
            FailureType.SecretInDiff,
          );
        }
        const outside = outsideAllowedPaths(files, req.allowedPaths);
        await event(req.taskId, { id: `review:${req.round}:started`, type: 'review_started', round: req.round, files: files.length, outsideAllowedPaths: outside });
        const instructions = req.instructionsKey ? await store.get(req.instructionsKey) : undefined;
        const run = await runReview(tellingRetries(reviewer, req.taskId, { round: req.round }), { ...req, diff, instructions, outsideAllowedPaths: outside }, signal);
        await store.put(`tasks/${req.taskId}/review/round-${req.round}.json`, JSON.stringify(run.messages));
        const review: ReviewResult = { ...run.result, outsideAllowedPaths: outside };
        await event(req.taskId, { id: `review:${req.round}:finished`, type: 'review_finished', round: req.round, verdict: review.verdict, comments: review.comments.length, valid: review.valid });
        return { review, usage: run.usage, costUsd: callCost(reviewer.settings, run.usage) };
      });
    },

    /** The final commit (checkpoints squashed, co-author trailer), checked for secrets and pushed. */
    async publishBranch(req: { taskId: string; sandboxId: string; repo: string; branch: string; baseSha: string; message: string; coAuthor?: string }): Promise<{ headSha: string; diffKey: string }> {
      return withHeartbeat(async (signal) => {
        const sandbox = await connect(req.sandboxId, signal);
        const headSha = await git.squashForPublishing(sandbox, req);
        const diff = await git.branchDiff(sandbox, req.baseSha);
        const secrets = findSecrets(diff, redactor);
        if (secrets.length) throw ApplicationFailure.nonRetryable(`not pushed: the change adds what looks like a secret (${describeSecrets(secrets)})`, FailureType.SecretInDiff);
        await pushFromSandbox(sandbox, { branch: req.branch, baseSha: req.baseSha, remote: await forge.pushRemote(req.repo) });
        const diffKey = `tasks/${req.taskId}/diff.patch`;
        await store.put(diffKey, diff);
        await event(req.taskId, { id: `published:${headSha}`, type: 'branch_published', sha: headSha });
        return { headSha, diffKey };
      });
    },

    /** Fails at once, with the forge's message, on a missing repo or branch or missing permissions. */
    /**
     * Also reads the repository's `.errand/sandbox.json`, where a repository names the sandbox
     * image its toolchain needs (`{"image": "ghcr.io/acme/sandbox-node22:1"}`).
     */
    async checkRepository(req: { repo: string; baseBranch: string }): Promise<{ baseBranch: string; sandboxImage?: string }> {
      const { baseBranch } = await forge.checkRepository(req.repo, req.baseBranch);
      const raw = await forge.readFile(req.repo, baseBranch, SANDBOX_CONFIG_FILE);
      return { baseBranch, ...(raw !== undefined && { sandboxImage: parseSandboxConfig(raw) }) };
    },

    /** The diff travels by key (claim-check): it can be far larger than a history payload. */
    async openPullRequest(req: Omit<OpenPullRequest, 'diff'> & { diffKey?: string }): Promise<PullRequestRef> {
      const { diffKey, ...pr } = req;
      const diff = diffKey ? await store.get(diffKey) : undefined;
      const opened = await forge.openPullRequest({ ...pr, diff });
      await event(req.taskId, { id: `pr:${opened.number}`, type: 'pr_opened', number: opened.number, url: opened.url, draft: opened.draft });
      return opened;
    },

    /** `round` (the feedback round) keeps the event of a retried update from counting twice. */
    async updatePullRequest(req: Omit<UpdatePullRequest, 'diff'> & { taskId: string; diffKey?: string; round: number }): Promise<PullRequestRef> {
      const { diffKey, taskId, round, ...update } = req;
      const diff = diffKey ? await store.get(diffKey) : undefined;
      const updated = await forge.updatePullRequest({ ...update, diff });
      await event(taskId, { id: `pr:${updated.number}:round:${round}:${update.body ? 'published' : 'found'}`, type: 'pr_updated', number: updated.number, url: updated.url, draft: updated.draft });
      return updated;
    },

    async comment(req: { repo: string; number: number; body: string }): Promise<void> {
      await forge.comment({ ...req, body: redactor.redact(req.body) });
    },
  });
}

const SANDBOX_CONFIG_FILE = '.errand/sandbox.json';
const SandboxConfig = z.strictObject({ image: z.string().regex(IMAGE_REFERENCE, 'must be an image reference') });

function parseSandboxConfig(raw: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw ApplicationFailure.nonRetryable(`${SANDBOX_CONFIG_FILE} is not JSON; it should read {"image": "<image reference>"}`, FailureType.RepoUnavailable);
  }
  const config = SandboxConfig.safeParse(parsed);
  if (!config.success) throw ApplicationFailure.nonRetryable(`${SANDBOX_CONFIG_FILE} is not valid: ${z.prettifyError(config.error)}`, FailureType.RepoUnavailable);
  return config.data.image;
}

function parseField(args: string, field: string): string | undefined {
  try {
    const text = (JSON.parse(args) as Record<string, unknown>)[field];
    return typeof text === 'string' ? text : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Failure messages enter workflow history and the task state, and often quote command output
 * (a failed clone, a setup log): every activity's failure is redacted on its way out.
 */
function redactFailures<T extends Record<string, (...args: never[]) => Promise<unknown>>>(redactor: Redactor, activities: T): T {
  const wrapped: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(activities)) {
    wrapped[name] = async (...args: never[]) => {
      try {
        return await fn(...args);
      } catch (err) {
        throw redactFailure(redactor, err);
      }
    };
  }
  return wrapped as T;
}

function redactFailure(redactor: Redactor, err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const message = redactor.redact(err.message);
  if (message === err.message) return err;
  if (err instanceof ApplicationFailure) {
    return ApplicationFailure.create({
      message,
      type: err.type ?? undefined,
      nonRetryable: err.nonRetryable ?? undefined,
      details: err.details ?? undefined,
      nextRetryDelay: err.nextRetryDelay,
    });
  }
  err.message = message;
  err.stack = undefined;
  return err;
}
