// Keeps a long conversation inside the model's context window: when it nears the limit, the
// bulky parts of old steps (tool outputs, and the arguments of old tool calls such as a whole
// file written) are elided oldest first, so step 200 still fits. Pure; the stored transcript
// keeps everything.
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';

/** A rough, model-independent estimate: about four characters a token for code and prose. */
export function estimateTokens(messages: ChatCompletionMessageParam[]): number {
  return Math.ceil(JSON.stringify(messages).length / 4);
}

export interface Fitted {
  messages: ChatCompletionMessageParam[];
  elided: number;
}

/** Parts shorter than this are left alone: eliding them saves little and loses meaning. */
const MIN_ELIDED_CHARS = 200;

/**
 * Returns messages that fit in `windowTokens` (aiming at 80% to leave room for the answer),
 * eliding tool outputs and tool-call arguments oldest first, and stopping as soon as it fits, so
 * recent steps are elided only when older ones were not enough. The system prompt, the task and
 * the latest message are never touched.
 */
export function fitToWindow(messages: ChatCompletionMessageParam[], windowTokens: number): Fitted {
  const target = Math.floor(windowTokens * 0.8);
  let estimate = estimateTokens(messages);
  if (estimate <= target) return { messages, elided: 0 };
  const out = [...messages];
  let elided = 0;
  for (let i = 0; i < out.length - 1 && estimate > target; i++) {
    const m = out[i]!;
    if (m.role === 'tool' && typeof m.content === 'string' && m.content.length >= MIN_ELIDED_CHARS) {
      const note = `[output elided to fit the context window: ${m.content.length} characters; run the tool again if you need it]`;
      estimate -= Math.floor((m.content.length - note.length) / 4);
      out[i] = { ...m, content: note };
      elided++;
    } else if (m.role === 'assistant' && m.tool_calls?.some((c) => c.type === 'function' && c.function.arguments.length >= MIN_ELIDED_CHARS)) {
      const tool_calls = m.tool_calls.map((c) => {
        if (c.type !== 'function' || c.function.arguments.length < MIN_ELIDED_CHARS) return c;
        // Still valid JSON: some endpoints parse the arguments of past calls.
        const note = JSON.stringify({ elided: `${c.function.arguments.length} characters of arguments, elided to fit the context window` });
        estimate -= Math.floor((c.function.arguments.length - note.length) / 4);
        elided++;
        return { ...c, function: { ...c.function, arguments: note } };
      });
      out[i] = { ...m, tool_calls };
    }
  }
  return { messages: out, elided };
}
