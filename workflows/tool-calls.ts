// What the model asks for and what it gets back, as the workflow and the activities both see
// it: tool calls, their outcomes, and the rules of the two tools that end a turn (finish ends
// the work with a summary, submit_plan ends planning with a plan). Workflow-safe.

/** One tool call the model asked for, as the workflow sees it. */
export interface ToolCall {
  id: string;
  name: string;
  /** Raw JSON arguments as the model sent them; parsed by the tool activity. Empty when stored. */
  arguments: string;
  /** Large arguments (a whole file to write) stay in storage (blobs), out of history. */
  argumentsKey?: string;
  /** Something in the arguments looked like a secret and was replaced with [REDACTED]. */
  redacted?: boolean;
  /** The tool changes nothing (the registry says so when the model asks): it runs like the read tools. */
  readOnly?: boolean;
  /** The tool's effects are outside the sandbox: called at most once; after a crash during it, its outcome is unknown. */
  atMostOnce?: boolean;
}

export interface ToolOutcome {
  toolCallId: string;
  /** What goes back to the model (already truncated). */
  content: string;
  isError: boolean;
  /** The call itself was unusable (bad JSON, unknown tool, wrong arguments), not its result. */
  malformed?: boolean;
}

export interface ModelTurnResult {
  toolCalls: ToolCall[];
  /** Assistant text without tool calls, if any. */
  text?: string;
  usage: { prompt: number; completion: number };
  costUsd: number;
}

export type AgentMode = 'plan' | 'work';

/**
 * How long a search may run in the sandbox before the model is told it timed out (narrow it).
 * Tools that only read run as local activities limited to three times this: a slow search (a
 * huge repository, a costly pattern: both are the attacker's to choose) must come back as a
 * tool error, never time out the activity and fail the task.
 */
export const SEARCH_SECONDS = 20;

/**
 * How long one MCP tool call may take before the model is told it timed out. A read-only one
 * runs as a local activity like the read tools, so this stays under their limit too.
 */
export const MCP_CALL_SECONDS = 40;

/** What the model hears when a call that runs at most once was interrupted: it is never made again. */
export function unknownOutcome(call: Pick<ToolCall, 'id' | 'name'>, why: string): ToolOutcome {
  return {
    toolCallId: call.id,
    content: `error: the outcome of this ${call.name} call is unknown (${why}); it was not made again. Check whether it took effect before calling it again.`,
    isError: true,
  };
}

/** The tools that end a turn: in which mode, the field the workflow reads, and what it asks for. */
export const ENDING_TOOLS = {
  finish: { mode: 'work', field: 'summary', hint: 'what you changed and why' },
  submit_plan: { mode: 'plan', field: 'plan', hint: 'the steps you will take, the files you will change, how you will test' },
} as const;
export type EndingTool = keyof typeof ENDING_TOOLS;

/** The tool that ends a turn in `mode`. */
export const endingTool = (mode: AgentMode): EndingTool => (mode === 'plan' ? 'submit_plan' : 'finish');

/** A call's arguments as an object, or undefined when they are not a JSON object. */
export function parseToolArguments(args: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(args || '{}');
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The text an ending tool carries (its field), or undefined when it carries none. */
export function endingText(call: Pick<ToolCall, 'name' | 'arguments'>): string | undefined {
  const rule = ENDING_TOOLS[call.name as EndingTool];
  const text = rule ? parseToolArguments(call.arguments)?.[rule.field] : undefined;
  return typeof text === 'string' && text.trim() ? text.trim() : undefined;
}
