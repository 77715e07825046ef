// The agent's tools as one registry: each tool is one record (name, description, argument
// schema, the modes that offer it, whether it only reads, how it runs), and everything else is
// derived from the records: the definitions sent to the model, the names each mode offers,
// argument validation, dispatch, and what a call says of itself to the workflow (read-only,
// at most once). Built-in tools run in the sandbox; MCP servers add records of their own.
import type { ChatCompletionTool } from 'openai/resources/chat/completions';
import { z } from 'zod';
import { parseToolArguments, type AgentMode, type ToolCall, type ToolOutcome } from '../../../workflows/tool-calls.js';
import { SandboxdRequestError, type SandboxdClient } from '../../sandbox/sandboxd-client.js';
import { truncateMiddle } from '../../sandbox/sandboxd/truncate.js';

/** What one tool result may put into the conversation (and so into history). */
export const MAX_TOOL_RESULT_BYTES = 16_000;

/** What a running tool may use: the task's sandbox (connected on first use) and its cancellation. */
export interface ToolEnv {
  taskId: string;
  sandbox(): Promise<SandboxdClient>;
  signal: AbortSignal;
}

export interface ToolResult {
  content: string;
  isError?: boolean;
}

export interface ToolRecord {
  name: string;
  description: string;
  /** The arguments' JSON Schema, as the model sees it. */
  parameters: Record<string, unknown>;
  /** Validates (and defaults) the arguments before `run` sees them. */
  args: z.ZodType;
  modes: readonly AgentMode[];
  /** Changes nothing anywhere: runs like the read tools (and may run again after a crash). */
  readOnly: boolean;
  /**
   * Its effects are outside the sandbox, where no checkpoint can undo or redo them: called at
   * most once per step, and after a crash during the call the agent hears the outcome is unknown.
   */
  atMostOnce: boolean;
  /** Where it comes from: `errand`, or the MCP server that offers it. */
  source: string;
  /** How it runs; absent for the tools that end a turn (the workflow answers those). */
  run?: (args: never, env: ToolEnv) => Promise<ToolResult>;
}

/** A record whose parameters are its zod schema's. */
export function tool<S extends z.ZodType>(record: Omit<ToolRecord, 'parameters' | 'args' | 'run' | 'source' | 'atMostOnce'> & { args: S; run?: (args: z.output<S>, env: ToolEnv) => Promise<ToolResult> }): ToolRecord {
  const { $schema: _, ...parameters } = z.toJSONSchema(record.args) as Record<string, unknown>;
  return { ...record, parameters, source: 'errand', atMostOnce: false, run: record.run as ToolRecord['run'] };
}

/** The tools one task has: the built-in ones and those its MCP servers add. */
export class ToolSet {
  private readonly byName: Map<string, ToolRecord>;

  constructor(readonly records: readonly ToolRecord[]) {
    this.byName = new Map(records.map((r) => [r.name, r]));
  }

  names(mode: AgentMode): string[] {
    return this.records.filter((r) => r.modes.includes(mode)).map((r) => r.name);
  }

  /** What the model is offered in `mode`. */
  definitions(mode: AgentMode): ChatCompletionTool[] {
    return this.records
      .filter((r) => r.modes.includes(mode))
      .map((r) => ({ type: 'function', function: { name: r.name, description: r.description, parameters: r.parameters } }));
  }

  /** What a call says of itself to the workflow: an unknown tool reads nothing but may not be assumed to. */
  stamp(call: ToolCall): ToolCall {
    const r = this.byName.get(call.name);
    return { ...call, readOnly: r?.readOnly ?? false, ...(r?.atMostOnce && { atMostOnce: true }) };
  }

  /**
   * Runs `call` in `mode`. Every failure the model can correct becomes a result it reads; a call
   * it could not have meant (bad JSON, unknown tool, wrong arguments) is marked malformed.
   */
  async run(call: ToolCall, mode: AgentMode, env: ToolEnv): Promise<ToolOutcome> {
    const result = (content: string, isError = false, malformed = false): ToolOutcome => ({
      toolCallId: call.id,
      content: truncateMiddle(content, MAX_TOOL_RESULT_BYTES).text,
      isError,
      ...(malformed ? { malformed } : {}),
    });
    const raw = parseToolArguments(call.arguments);
    if (raw === undefined) return result(`error: the arguments of ${call.name} are not valid JSON (${call.arguments.slice(0, 200)}); send a JSON object`, true, true);
    const record = this.byName.get(call.name);
    if (!record?.run || !record.modes.includes(mode)) {
      const why = record?.run && mode === 'plan' ? `"${call.name}" cannot be used until your plan is approved` : `unknown tool "${call.name}"`;
      return result(`error: ${why}; the tools are ${this.names(mode).join(', ')}`, true, true);
    }
    const args = record.args.safeParse(raw);
    if (!args.success) return result(`error: bad arguments for ${call.name}: ${z.prettifyError(args.error)}`, true, true);
    try {
      const r = await record.run(args.data as never, env);
      return result(r.content, r.isError ?? false);
    } catch (err) {
      if (err instanceof SandboxdRequestError && err.status < 500) return result(`error: ${err.message}`, true);
      throw err;
    }
  }
}
