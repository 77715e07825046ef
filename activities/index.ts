// createActivities: every activity the worker registers, built from the providers it is given,
// so tests pass real local providers and production passes Kubernetes/GitHub ones.
import { ApplicationFailure } from '@temporalio/common';
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import type { ModelTurnResult, PullRequestRef, TestResult, ToolCall, ToolOutcome } from '../workflows/contracts.js';
import { fitToWindow } from './agent/context-window.js';
import { loadConversation, saveStep } from './agent/conversation.js';
import { callCost, type ModelClient } from './agent/model-client.js';
import { coderSystemPrompt, type TaskBrief } from './agent/prompts.js';
import { setupRepository, type RepoSetup } from './agent/repo-setup.js';
import { runToolCall, toolDefinitions, type AgentMode } from './agent/tools.js';
import type { Forge, OpenPullRequest } from './forge/forge.js';
import * as git from './git/workspace.js';
import { withHeartbeat } from './heartbeat.js';
import type { SandboxProvider } from './sandbox/provider.js';
import { SandboxdClient } from './sandbox/sandboxd-client.js';
import { truncateMiddle } from './sandbox/truncate.js';
import type { ArtifactStore } from './store/artifact-store.js';
import { recordEvent } from './store/events.js';
import type { Redactor } from './store/redactor.js';

export interface ActivityDeps {
  sandboxes: SandboxProvider;
  forge: Forge;
  /** Undefined when no model is configured: the API refuses tasks before they get here. */
  models: { coder?: ModelClient };
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
const MAX_TEXT_BYTES = 2_000;

export function createActivities({ sandboxes, forge, models, store, redactor, limits }: ActivityDeps) {
  const connect = async (sandboxId: string, signal?: AbortSignal) =>
    new SandboxdClient(sandboxId, await sandboxes.endpoint(sandboxId), signal);
  const event = (taskId: string, e: Parameters<typeof recordEvent>[2]) => recordEvent(store, taskId, e);

  /**
   * Keeps a tool call small enough for history: large arguments are stored and passed by key,
   * and the finish summary (which the workflow reads) is capped.
   */
  const claimCheck = async (taskId: string, step: number, call: ToolCall): Promise<ToolCall> => {
    if (call.name === 'finish') {
      const summary = parseSummary(call.arguments);
      return summary === undefined ? call : { ...call, arguments: JSON.stringify({ summary: truncateMiddle(summary, MAX_SUMMARY_BYTES).text }) };
    }
    if (Buffer.byteLength(call.arguments) <= INLINE_ARGUMENTS_BYTES) return call;
    const argumentsKey = `tasks/${taskId}/tool-arguments/${String(step).padStart(6, '0')}-${call.id.replace(/[^\w-]/g, '_')}.json`;
    await store.put(argumentsKey, call.arguments);
    return { id: call.id, name: call.name, arguments: '', argumentsKey };
  };

  return redactFailures(redactor, {
    async provisionSandbox(req: { taskId: string; sandboxId: string; allowNetwork: boolean }): Promise<{ sandboxId: string }> {
      const sandbox = await sandboxes.provision(req);
      await event(req.taskId, { id: `sandbox:${sandbox.sandboxId}`, type: 'sandbox_provisioned', sandboxId: sandbox.sandboxId, provider: sandboxes.name });
      return sandbox;
    },

    async destroySandbox(req: { sandboxId: string }): Promise<void> {
      await sandboxes.destroy(req.sandboxId);
    },

    async prepareWorkspace(req: {
      taskId: string;
      sandboxId: string;
      repo: string;
      baseBranch: string;
      branch: string;
      testCommand?: string;
      /** Restore the work in progress from this checkpoint commit on the task branch. */
      restoreFrom?: string;
    }): Promise<git.PreparedWorkspace> {
      const prepared = await withHeartbeat(async (signal) => git.prepareWorkspace(await connect(req.sandboxId, signal), req));
      await event(req.taskId, {
        id: `workspace:${req.sandboxId}`,
        type: req.restoreFrom ? 'workspace_restored' : 'workspace_ready',
        sandboxId: req.sandboxId,
        baseSha: prepared.baseSha,
        restoredFrom: req.restoreFrom ?? null,
        testCommand: prepared.testCommand ?? null,
      });
      return prepared;
    },

    async setupRepository(req: { taskId: string; sandboxId: string; setupScript?: string; network: boolean }): Promise<RepoSetup> {
      const setup = await withHeartbeat(async (signal) =>
        setupRepository(await connect(req.sandboxId, signal), store, { ...req, timeoutMs: limits.setupTimeoutMs }),
      );
      await event(req.taskId, { id: `setup:${req.sandboxId}`, type: 'setup_finished', instructionsFrom: setup.instructionsFrom ?? null, setupLogKey: setup.setupLogKey ?? null });
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
      const res = await withHeartbeat((signal) => coder.complete({ messages: fitted.messages, tools, tool_choice: 'auto' }, signal));
      const message = res.choices[0]!.message;
      const toolCalls: ToolCall[] = [];
      for (const c of message.tool_calls ?? []) {
        if (c.type !== 'function') continue;
        toolCalls.push(await claimCheck(req.taskId, req.step, { id: c.id, name: c.function.name, arguments: redactor.redact(c.function.arguments) }));
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
      const text = message.content ? truncateMiddle(redactor.redact(message.content), MAX_TEXT_BYTES).text : undefined;
      return { toolCalls, text, usage, costUsd };
    },

    async runTool(req: { taskId: string; sandboxId: string; step: number; call: ToolCall; mode?: AgentMode }): Promise<ToolOutcome> {
      const call = req.call.argumentsKey ? { ...req.call, arguments: (await store.get(req.call.argumentsKey)) ?? '' } : req.call;
      const base = { step: req.step, tool: call.name, toolCallId: call.id };
      await event(req.taskId, { id: `step:${req.step}:${call.id}:called`, type: 'tool_called', ...base, arguments: call.arguments.slice(0, EXCERPT) });
      const outcome = await withHeartbeat(async (signal) => runToolCall(call, await connect(req.sandboxId, signal), req.mode ?? 'work'));
      // Tool output enters workflow history as this activity's result: redact it here.
      const safe = { ...outcome, content: redactor.redact(outcome.content) };
      await event(req.taskId, { id: `step:${req.step}:${req.call.id}:result`, type: 'tool_result', ...base, isError: safe.isError, output: safe.content.slice(0, EXCERPT) });
      return safe;
    },

    async runTests(req: { taskId: string; sandboxId: string; command: string }): Promise<TestResult> {
      const test = await withHeartbeat(async (signal) => git.runTests(await connect(req.sandboxId, signal), store, req));
      const safe = { ...test, outputTail: redactor.redact(test.outputTail) };
      await event(req.taskId, { id: 'tests', type: 'tests_finished', command: safe.command, passed: safe.passed, exitCode: safe.exitCode });
      return safe;
    },

    /** Commits and pushes the work in progress when it changed since the last checkpoint. */
    async checkpoint(req: { taskId: string; sandboxId: string; repo: string; branch: string; baseSha: string; step: number }): Promise<{ sha?: string }> {
      const saved = await withHeartbeat(async (signal) => git.checkpoint(await connect(req.sandboxId, signal), req));
      if (saved.sha) await event(req.taskId, { id: `checkpoint:${saved.sha}`, type: 'checkpoint', step: req.step, sha: saved.sha });
      return saved;
    },

    async commitAndPush(req: { taskId: string; sandboxId: string; repo: string; branch: string; baseSha: string; message: string }) {
      return withHeartbeat(async (signal) => git.commitAndPush(await connect(req.sandboxId, signal), store, req));
    },

    /** The diff travels by key (claim-check): it can be far larger than a history payload. */
    async openPullRequest(req: Omit<OpenPullRequest, 'diff'> & { diffKey: string }): Promise<PullRequestRef> {
      const diff = (await store.get(req.diffKey)) ?? '';
      const { diffKey: _unused, ...pr } = req;
      const opened = await forge.openPullRequest({ ...pr, diff });
      await event(req.taskId, { id: 'pr', type: 'pr_opened', number: opened.number, url: opened.url, draft: opened.draft });
      return opened;
    },
  });
}

function parseSummary(args: string): string | undefined {
  try {
    const summary = (JSON.parse(args) as { summary?: unknown }).summary;
    return typeof summary === 'string' ? summary : undefined;
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
