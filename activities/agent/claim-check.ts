// Keeps a tool call small enough for workflow history: large arguments (a whole file to write)
// are stored and passed by key, and the text of an ending tool, which the workflow reads, is
// capped; the tool activity puts stored arguments back.
import { endingText, ENDING_TOOLS, type EndingTool, type ToolCall } from '../../workflows/tool-calls.js';
import type { BlobStore } from '../../lib/storage/storage.js';
import { taskKeys } from '../../lib/storage/keys.js';
import { truncateMiddle } from '../sandbox/sandboxd/truncate.js';

/** Tool-call arguments above this size go to the store, not history. */
const INLINE_ARGUMENTS_BYTES = 8_000;
const MAX_ENDING_TEXT_BYTES = 8_000;

export async function claimCheck(store: BlobStore, taskId: string, step: number, call: ToolCall): Promise<ToolCall> {
  const rule = ENDING_TOOLS[call.name as EndingTool];
  if (rule) {
    const text = endingText(call);
    return text === undefined ? call : { ...call, arguments: JSON.stringify({ [rule.field]: truncateMiddle(text, MAX_ENDING_TEXT_BYTES).text }) };
  }
  if (Buffer.byteLength(call.arguments) <= INLINE_ARGUMENTS_BYTES) return call;
  const argumentsKey = taskKeys(taskId).toolArguments(step, call.id);
  await store.put(argumentsKey, call.arguments);
  return { ...call, arguments: '', argumentsKey };
}

/** The call with its arguments back from the store, when they were kept there. */
export async function withArguments(store: BlobStore, call: ToolCall): Promise<ToolCall> {
  return call.argumentsKey ? { ...call, arguments: (await store.get(call.argumentsKey)) ?? '' } : call;
}
