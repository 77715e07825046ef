// The agent's activities: one model call (the conversation kept in the store, the answer's tool
// calls made small for history) and one tool call run in the sandbox.
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import type { AgentMode, ModelTurnResult, ToolCall, ToolOutcome } from '../../workflows/tool-calls.js';
import { EVENT_EXCERPT, type ActivityContext } from '../context.js';
import { withHeartbeat } from '../heartbeat.js';
import { truncateMiddle } from '../sandbox/sandboxd/truncate.js';
import { REDACTED } from '../../lib/storage/redactor.js';
import { refusal, type Forbidden } from '../playbooks/forbidden.js';
import { claimCheck, withArguments } from './claim-check.js';
import { fitToWindow } from './context-window.js';
import { ConversationCache } from './conversation.js';
import { callCost } from './model-client.js';
import { tellingRetries } from './model-retries.js';
import { coderSystemPrompt, type TaskBrief } from './prompts.js';
import { ToolSet } from './tools/registry.js';
import { SANDBOX_TOOLS } from './tools/sandbox-tools.js';
import { findTools, mcpRecords, type FoundTool, type FoundTools } from './mcp/mcp-tools.js';
import { taskKeys } from '../../lib/storage/keys.js';
import { appendAudit } from '../../lib/storage/audit.js';

const NUDGE = 'Continue with the tools. When the task is done, call finish with a summary.';
/** The assistant's text the workflow keeps (the transcript keeps all of it). */
const MAX_TEXT_BYTES = 2_000;
const SECRET_NOTE =
  '\n[errand: your arguments held something that looks like a secret; it was replaced with [REDACTED]. Read secrets from the environment instead of writing them.]';

export function createAgentActivities({ connect, event, models, blobs, redactor, mcp, storage }: ActivityContext) {
  const conversations = new ConversationCache(blobs);
  const toolSets = new Map<string, Promise<ToolSet>>();
  const builtIn = new ToolSet(SANDBOX_TOOLS);

  /**
   * The task's tools: Errand's own and, when MCP servers are configured, those found at its first
   * model call (`repo` given then), kept in the store so every worker offers the same.
   */
  async function toolsOf(taskId: string, repo?: string): Promise<ToolSet> {
    if (!mcp) return builtIn;
    let set = toolSets.get(taskId);
    if (!set) {
      set = mcpToolsOf(taskId, repo);
      toolSets.set(taskId, set);
      set.catch(() => toolSets.delete(taskId));
      // A worker serves many tasks over its life: keep the recent ones.
      if (toolSets.size > 1000) toolSets.delete(toolSets.keys().next().value!);
    }
    return set;
  }

  async function mcpToolsOf(taskId: string, repo?: string): Promise<ToolSet> {
    const key = taskKeys(taskId).mcpTools;
    let kept = await blobs.get(key);
    if (kept === undefined) {
      if (!repo) return builtIn; // a task older than its MCP servers keeps the tools it had
      const found = await withHeartbeat(async () => findTools(mcp!.connections, mcp!.config, taskId, repo, await blobs.get(taskKeys(taskId).repoMcp)));
      kept = JSON.stringify({ repo, ...found });
      if (!(await blobs.createIfAbsent(key, kept))) kept = (await blobs.get(key))!;
      else await toolsEvent(taskId, found);
    }
    const { repo: taskRepo, tools } = JSON.parse(kept) as FoundTools & { repo: string };
    const audit = async (id: string, t: FoundTool) => {
      await appendAudit(storage.logs, { actor: 'agent', via: 'agent', action: `mcp.call ${t.name}`, taskId: id, from: `mcp:${t.server}/${t.tool}` });
    };
    return new ToolSet([...SANDBOX_TOOLS, ...mcpRecords(tools, { ...mcp!, repo: taskRepo, audit })]);
  }

  async function toolsEvent(taskId: string, found: FoundTools): Promise<void> {
    await event(
      taskId,
      {
        id: 'mcp:tools',
        type: 'mcp_tools',
        servers: found.servers,
        tools: found.tools.map((t) => ({ name: t.name, readOnly: t.readOnly, description: t.description })),
      },
      ...found.servers.filter((s) => !s.ready).map((s) => ({ id: `mcp:failed:${s.name}`, type: 'mcp_server_failed', server: s.name, why: s.why ?? '' })),
      ...found.refused.map((why, i) => ({ id: `mcp:refused:${i}`, type: 'mcp_server_refused', why })),
    );
  }

  return {
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
      let history = await conversations.load(req.taskId, req.step);
      if (history.length === 0) {
        if (!req.task) throw new Error(`the transcript of task ${req.taskId} is missing its start`);
        const instructions = req.task.instructionsKey ? await blobs.get(req.task.instructionsKey) : undefined;
        history = [
          { role: 'system', content: coderSystemPrompt(req.task, instructions) },
          { role: 'user', content: req.task.prompt },
        ];
        await conversations.save(req.taskId, 0, [], history);
      }
      const incoming: ChatCompletionMessageParam[] = [
        ...req.toolResults.map((r): ChatCompletionMessageParam => ({ role: 'tool', tool_call_id: r.toolCallId, content: r.content })),
        ...(req.messages ?? []).map((text): ChatCompletionMessageParam => ({ role: 'user', content: text })),
      ];
      if (incoming.length === 0 && history.at(-1)?.role === 'assistant') incoming.push({ role: 'user', content: NUDGE });
      const fitted = fitToWindow([...history, ...incoming], coder.settings.contextTokens);
      const model = tellingRetries(coder, event, req.taskId, { step: req.step });
      const tools = await toolsOf(req.taskId, req.task?.repo);
      const res = await withHeartbeat((signal) => model.complete({ messages: fitted.messages, tools: tools.definitions(req.mode ?? 'work'), tool_choice: 'auto' }, signal));
      const message = res.choices[0]!.message;
      const toolCalls: ToolCall[] = [];
      for (const c of message.tool_calls ?? []) {
        if (c.type !== 'function') continue;
        // The answer arrives redacted (RedactingModelClient): a secret never flows from the model
        // into the sandbox or history, and the model is told.
        const args = c.function.arguments;
        const call = tools.stamp({ id: c.id, name: c.function.name, arguments: args, ...(args.includes(REDACTED) && { redacted: true }) });
        toolCalls.push(await claimCheck(blobs, req.taskId, req.step, call));
      }
      const answer: ChatCompletionMessageParam = { role: 'assistant', content: message.content ?? null, ...(message.tool_calls?.length ? { tool_calls: message.tool_calls } : {}) };
      await conversations.save(req.taskId, req.step, history, [...incoming, answer]);
      const usage = { prompt: res.usage?.prompt_tokens ?? 0, completion: res.usage?.completion_tokens ?? 0 };
      const costUsd = callCost(coder.settings, usage);
      await event(
        req.taskId,
        {
          id: `step:${req.step}:model`,
          type: 'model_answered',
          step: req.step,
          toolCalls: toolCalls.map((c) => c.name),
          text: message.content?.slice(0, EVENT_EXCERPT) ?? null,
          elidedToolOutputs: fitted.elided,
          usage,
          costUsd,
        },
        { id: `step:${req.step}:budget`, type: 'budget_used', step: req.step, tokens: req.used.tokens + usage.prompt + usage.completion, costUsd: req.used.costUsd + costUsd },
      );
      const text = message.content ? truncateMiddle(message.content, MAX_TEXT_BYTES).text : undefined;
      return { toolCalls, text, usage, costUsd };
    },

    async runTool(req: { taskId: string; sandboxId: string; step: number; call: ToolCall; mode?: AgentMode; forbidden?: Forbidden }): Promise<ToolOutcome> {
      const call = await withArguments(blobs, req.call);
      const base = { step: req.step, tool: call.name, toolCallId: call.id };
      await event(req.taskId, { id: `step:${req.step}:${call.id}:called`, type: 'tool_called', ...base, arguments: call.arguments.slice(0, EVENT_EXCERPT) });
      const refused = refusal(call, req.forbidden);
      const outcome = refused
        ? { toolCallId: call.id, content: `error: ${refused}`, isError: true }
        : await withHeartbeat(async (signal) => (await toolsOf(req.taskId)).run(call, req.mode ?? 'work', { taskId: req.taskId, signal, sandbox: () => connect(req.sandboxId, signal) }));
      // Tool output enters workflow history as this activity's result: redact it here.
      const safe = { ...outcome, content: redactor.redact(outcome.content) + (call.redacted ? SECRET_NOTE : '') };
      await event(req.taskId, { id: `step:${req.step}:${req.call.id}:result`, type: 'tool_result', ...base, isError: safe.isError, output: safe.content.slice(0, EVENT_EXCERPT) });
      return safe;
    },
  };
}
