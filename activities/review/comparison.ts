// The review agent's comparison of several attempts at one task: it reads the task and each
// attempt's summary, tests and diff, and names the one it would publish, with its reasons,
// through one tool whose arguments are validated (an answer that never validates names none).
import type { ChatCompletionMessageParam, ChatCompletionTool } from 'openai/resources/chat/completions';
import { z } from 'zod';
import type { TestResult } from '../../workflows/contracts/task.js';
import type { ModelClient } from '../agent/model-client.js';
import { truncateMiddle } from '../sandbox/sandboxd/truncate.js';
import { parseAnswer, REVIEW_ATTEMPTS } from './reviewer.js';

export const ComparisonAnswer = z.strictObject({
  preferred: z.number().int().positive().nullable(),
  reasons: z.string().trim().min(1).max(4_000),
});

const SUBMIT_COMPARISON: ChatCompletionTool = {
  type: 'function',
  function: {
    name: 'submit_comparison',
    description: 'Name the attempt you would publish (its number), or null when you have no preference, and say why.',
    parameters: z.toJSONSchema(ComparisonAnswer, { target: 'draft-7' }) as Record<string, unknown>,
  },
};

export interface ComparedAttempt {
  n: number;
  summary?: string;
  diff: string;
  test?: Pick<TestResult, 'command' | 'passed' | 'exitCode'>;
}

export interface ComparisonRun {
  /** Unset when it has no preference, or its answer never validated. */
  preferred?: number;
  reasons: string;
  usage: { prompt: number; completion: number };
}

export async function runComparison(reviewer: ModelClient, prompt: string, attempts: ComparedAttempt[], signal?: AbortSignal): Promise<ComparisonRun> {
  // Half the window for the diffs, shared evenly; the rest for the instructions and the answer.
  const perDiff = Math.floor((reviewer.settings.contextTokens * 4 * 0.5) / attempts.length);
  const messages: ChatCompletionMessageParam[] = [
    {
      role: 'system',
      content: [
        "You are Errand's reviewer. Several agents each made an attempt at the same task in the same repository; one attempt will become the pull request.",
        'Compare them: prefer the attempt that does what the task asks, correctly, with the least risk and the most focused change. Do not prefer an attempt for doing more than the task asks.',
        'Answer only by calling submit_comparison with the number of the attempt you would publish (or null if they are equally good) and your reasons, naming the attempts.',
      ].join('\n'),
    },
    {
      role: 'user',
      content: [
        `## Task\n${prompt}`,
        ...attempts.map((a) => {
          const test = a.test ? `\`${a.test.command}\` ${a.test.passed ? 'passed' : `failed (exit ${a.test.exitCode})`}` : 'no test command';
          return `## Attempt ${a.n}\nWhat its agent says it did: ${a.summary ?? '(nothing)'}\nTests: ${test}\n\`\`\`diff\n${truncateMiddle(a.diff, perDiff).text}\n\`\`\``;
        }),
      ].join('\n\n'),
    },
  ];
  const usage = { prompt: 0, completion: 0 };
  let lastError = 'no answer';
  for (let attempt = 1; attempt <= REVIEW_ATTEMPTS; attempt++) {
    const res = await reviewer.complete({ messages, tools: [SUBMIT_COMPARISON], tool_choice: { type: 'function', function: { name: 'submit_comparison' } } }, signal);
    usage.prompt += res.usage?.prompt_tokens ?? 0;
    usage.completion += res.usage?.completion_tokens ?? 0;
    const message = res.choices[0]!.message;
    const call = message.tool_calls?.find((c) => c.type === 'function' && c.function.name === 'submit_comparison');
    messages.push({ role: 'assistant', content: message.content ?? null, ...(message.tool_calls?.length ? { tool_calls: message.tool_calls } : {}) });
    if (!call || call.type !== 'function') {
      lastError = 'the reviewer did not call submit_comparison';
      messages.push({ role: 'user', content: 'Answer by calling submit_comparison with the attempt you prefer and your reasons.' });
      continue;
    }
    const parsed = parseAnswer(call.function.arguments, ComparisonAnswer);
    if (parsed.success) return { ...(parsed.data.preferred !== null && { preferred: parsed.data.preferred }), reasons: parsed.data.reasons, usage };
    lastError = parsed.error;
    messages.push({ role: 'tool', tool_call_id: call.id, content: `error: your answer does not validate: ${parsed.error}. Call submit_comparison again with valid arguments.` });
  }
  return { reasons: `its answer did not validate after ${REVIEW_ATTEMPTS} tries (${lastError})`, usage };
}
