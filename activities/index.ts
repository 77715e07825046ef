// createActivities: every activity the worker registers, built from the providers it is given,
// so tests pass real local providers and production passes Kubernetes/GitHub ones.
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import type { ModelTurnResult, PullRequestRef, TestResult, ToolCall, ToolOutcome } from '../workflows/contracts.js';
import { loadConversation, saveStep } from './agent/conversation.js';
import type { ModelClient } from './agent/model-client.js';
import { coderSystemPrompt, type TaskBrief } from './agent/prompts.js';
import { runToolCall, TOOL_DEFINITIONS } from './agent/tools.js';
import type { Forge, OpenPullRequest } from './forge/forge.js';
import * as git from './git/workspace.js';
import { withHeartbeat } from './heartbeat.js';
import type { SandboxProvider } from './sandbox/provider.js';
import { SandboxdClient } from './sandbox/sandboxd-client.js';
import type { ArtifactStore } from './store/artifact-store.js';

export interface ActivityDeps {
  sandboxes: SandboxProvider;
  forge: Forge;
  /** Undefined when no model is configured: the API refuses tasks before they get here. */
  models: { coder?: ModelClient };
  store: ArtifactStore;
}

const NUDGE = 'Continue with the tools. When the task is done, call finish with a summary.';

export function createActivities({ sandboxes, forge, models, store }: ActivityDeps) {
  const connect = async (sandboxId: string, signal?: AbortSignal) =>
    new SandboxdClient(sandboxId, await sandboxes.endpoint(sandboxId), signal);

  return {
    async provisionSandbox(req: { taskId: string }): Promise<{ sandboxId: string }> {
      return sandboxes.provision({ taskId: req.taskId });
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
    }): Promise<git.PreparedWorkspace> {
      return withHeartbeat(async (signal) => git.prepareWorkspace(await connect(req.sandboxId, signal), req));
    },

    async modelTurn(req: { taskId: string; step: number; task: TaskBrief; toolResults: ToolOutcome[] }): Promise<ModelTurnResult> {
      const coder = models.coder;
      if (!coder) throw new Error('no model is configured: set ERRAND_MODEL_BASE_URL and ERRAND_MODEL');
      let history = await loadConversation(store, req.taskId, req.step);
      if (history.length === 0) {
        history = [
          { role: 'system', content: coderSystemPrompt(req.task) },
          { role: 'user', content: req.task.prompt },
        ];
        await saveStep(store, req.taskId, 0, history);
      }
      const incoming: ChatCompletionMessageParam[] = req.toolResults.map((r) => ({ role: 'tool', tool_call_id: r.toolCallId, content: r.content }));
      const last = history[history.length - 1];
      if (incoming.length === 0 && last?.role === 'assistant') incoming.push({ role: 'user', content: NUDGE });
      const res = await withHeartbeat((signal) =>
        coder.complete({ messages: [...history, ...incoming], tools: TOOL_DEFINITIONS, tool_choice: 'auto' }, signal),
      );
      const message = res.choices[0]!.message;
      const toolCalls: ToolCall[] = (message.tool_calls ?? [])
        .filter((c) => c.type === 'function')
        .map((c) => ({ id: c.id, name: c.function.name, arguments: c.function.arguments }));
      const answer: ChatCompletionMessageParam = {
        role: 'assistant',
        content: message.content ?? null,
        ...(message.tool_calls?.length ? { tool_calls: message.tool_calls } : {}),
      };
      await saveStep(store, req.taskId, req.step, [...incoming, answer]);
      return {
        toolCalls,
        text: message.content ?? undefined,
        usage: { prompt: res.usage?.prompt_tokens ?? 0, completion: res.usage?.completion_tokens ?? 0 },
      };
    },

    async runTool(req: { taskId: string; sandboxId: string; call: ToolCall }): Promise<ToolOutcome> {
      return withHeartbeat(async (signal) => runToolCall(req.call, await connect(req.sandboxId, signal)));
    },

    async runTests(req: { taskId: string; sandboxId: string; command: string }): Promise<TestResult> {
      return withHeartbeat(async (signal) => git.runTests(await connect(req.sandboxId, signal), store, req));
    },

    async commitAndPush(req: { taskId: string; sandboxId: string; branch: string; baseSha: string; message: string }) {
      return withHeartbeat(async (signal) => git.commitAndPush(await connect(req.sandboxId, signal), store, req));
    },

    /** The diff travels by key (claim-check): it can be far larger than a history payload. */
    async openPullRequest(req: Omit<OpenPullRequest, 'diff'> & { diffKey: string }): Promise<PullRequestRef> {
      const diff = (await store.get(req.diffKey)) ?? '';
      const { diffKey: _unused, ...pr } = req;
      return forge.openPullRequest({ ...pr, diff });
    },
  };
}
