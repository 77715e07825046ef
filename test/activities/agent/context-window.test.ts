// Context management: a long conversation is cut down to the model's window by eliding the
// bulk of old steps, never the instructions, the task or the latest message.
import { describe, expect, it } from '@jest/globals';
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { estimateTokens, fitToWindow } from '../../../activities/agent/context-window.js';

function conversation(steps: number): ChatCompletionMessageParam[] {
  const messages: ChatCompletionMessageParam[] = [
    { role: 'system', content: 'You are Errand. '.repeat(200) },
    { role: 'user', content: 'Fix the flaky test in src/queue.ts' },
  ];
  for (let step = 1; step <= steps; step++) {
    const id = `call_${step}`;
    messages.push({ role: 'assistant', content: null, tool_calls: [{ id, type: 'function', function: { name: 'write_file', arguments: JSON.stringify({ path: `f${step}.ts`, content: 'y'.repeat(3_000) }) } }] });
    messages.push({ role: 'tool', tool_call_id: id, content: `output of step ${step}\n${'x'.repeat(6_000)}` });
  }
  return messages;
}

describe('fitToWindow', () => {
  it('leaves a conversation that fits untouched', () => {
    const messages = conversation(3);
    expect(fitToWindow(messages, 128_000)).toEqual({ messages, elided: 0 });
  });

  it('fits step 200 into a 32k window, eliding oldest first and keeping the start and the latest step', () => {
    const messages = conversation(200);
    expect(estimateTokens(messages)).toBeGreaterThan(400_000);
    const fitted = fitToWindow(messages, 32_000);
    expect(estimateTokens(fitted.messages)).toBeLessThanOrEqual(32_000 * 0.8);
    expect(fitted.messages).toHaveLength(messages.length); // elided, never dropped: tool calls keep their results
    expect(fitted.messages.slice(0, 2)).toEqual(messages.slice(0, 2));
    expect(fitted.messages.at(-1)).toEqual(messages.at(-1));
    expect(fitted.messages[3]).toMatchObject({ role: 'tool', content: expect.stringContaining('output elided to fit the context window: 6') });
    const oldCall = fitted.messages[2] as { tool_calls: { function: { arguments: string } }[] };
    expect(JSON.parse(oldCall.tool_calls[0]!.function.arguments)).toEqual({ elided: expect.stringContaining('characters of arguments') });
    // The most recent steps that fit are kept whole.
    expect(fitted.messages.at(-3)).toEqual(messages.at(-3));
    expect(fitted.elided).toBeGreaterThan(300);
  });

  it('never touches short messages, whose meaning is worth more than their size', () => {
    const messages = conversation(2).map((m) => (m.role === 'tool' ? { ...m, content: 'ok' } : m));
    const fitted = fitToWindow(messages, 100);
    expect(fitted.messages.filter((m) => m.role === 'tool').map((m) => m.content)).toEqual(['ok', 'ok']);
  });
});
