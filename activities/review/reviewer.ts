// The review agent: a second model, with its own settings, reads the task, the repository's
// instructions, the diff and the test output, and answers through one tool whose arguments are
// validated. An answer that does not validate is sent back with the error, then, if it still
// does not, counts as "changes requested" with the reason.
import type { ChatCompletionMessageParam, ChatCompletionTool } from 'openai/resources/chat/completions';
import { z } from 'zod';
import type { ReviewResult } from '../../workflows/contracts/review.js';
import type { TestResult } from '../../workflows/contracts/task.js';
import type { ModelClient } from '../agent/model-client.js';
import { truncateMiddle } from '../sandbox/sandboxd/truncate.js';

export const ReviewAnswer = z.strictObject({
  verdict: z.enum(['approve', 'request_changes']),
  summary: z.string().trim().min(1).max(4_000),
  comments: z
    .array(
      z.strictObject({
        file: z.string().trim().min(1),
        line: z.number().int().positive().optional(),
        severity: z.enum(['blocking', 'suggestion', 'nit']),
        body: z.string().trim().min(1).max(2_000),
      }),
    )
    .max(50),
});

const SUBMIT_REVIEW: ChatCompletionTool = {
  type: 'function',
  function: {
    name: 'submit_review',
    description: 'Submit your review of the change.',
    parameters: z.toJSONSchema(ReviewAnswer, { target: 'draft-7' }) as Record<string, unknown>,
  },
};

/** Attempts at an answer that validates before the review counts as "changes requested". */
export const REVIEW_ATTEMPTS = 3;

export interface ReviewInput {
  prompt: string;
  summary: string;
  diff: string;
  test?: TestResult;
  instructions?: string;
  outsideAllowedPaths: string[];
  round: number;
}

export interface ReviewRun {
  result: Omit<ReviewResult, 'outsideAllowedPaths'>;
  messages: ChatCompletionMessageParam[];
  usage: { prompt: number; completion: number };
}

export async function runReview(reviewer: ModelClient, input: ReviewInput, signal?: AbortSignal): Promise<ReviewRun> {
  // Leave half the window for the instructions, the answer and any retry.
  const diff = truncateMiddle(input.diff, Math.floor(reviewer.settings.contextTokens * 4 * 0.5)).text;
  const messages: ChatCompletionMessageParam[] = [
    { role: 'system', content: reviewerSystemPrompt(input.instructions) },
    { role: 'user', content: reviewRequest({ ...input, diff }) },
  ];
  const usage = { prompt: 0, completion: 0 };
  let lastError = 'no answer';
  for (let attempt = 1; attempt <= REVIEW_ATTEMPTS; attempt++) {
    const res = await reviewer.complete({ messages, tools: [SUBMIT_REVIEW], tool_choice: { type: 'function', function: { name: 'submit_review' } } }, signal);
    usage.prompt += res.usage?.prompt_tokens ?? 0;
    usage.completion += res.usage?.completion_tokens ?? 0;
    const message = res.choices[0]!.message;
    const call = message.tool_calls?.find((c) => c.type === 'function' && c.function.name === 'submit_review');
    messages.push({ role: 'assistant', content: message.content ?? null, ...(message.tool_calls?.length ? { tool_calls: message.tool_calls } : {}) });
    if (!call || call.type !== 'function') {
      lastError = 'the reviewer did not call submit_review';
      messages.push({ role: 'user', content: 'Answer by calling submit_review with your verdict, summary and comments.' });
      continue;
    }
    const parsed = parseAnswer(call.function.arguments, ReviewAnswer);
    if (parsed.success) return { result: { ...parsed.data, valid: true }, messages, usage };
    lastError = parsed.error;
    messages.push({ role: 'tool', tool_call_id: call.id, content: `error: your review does not validate: ${parsed.error}. Call submit_review again with valid arguments.` });
  }
  return {
    result: {
      verdict: 'request_changes',
      summary: `The reviewer's answer did not validate after ${REVIEW_ATTEMPTS} attempts (${lastError}), so the change counts as not approved.`,
      comments: [],
      valid: false,
    },
    messages,
    usage,
  };
}

/** A tool call's arguments checked against `schema`: the data, or what is wrong, in words to send back. */
export function parseAnswer<S extends z.ZodType>(args: string, schema: S): { success: true; data: z.output<S> } | { success: false; error: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(args);
  } catch {
    return { success: false, error: 'the arguments are not valid JSON' };
  }
  const parsed = schema.safeParse(raw);
  return parsed.success ? { success: true, data: parsed.data } : { success: false, error: z.prettifyError(parsed.error).replace(/\n/g, '; ') };
}

function reviewerSystemPrompt(instructions?: string): string {
  return [
    "You are Errand's reviewer. Another agent made the change below to carry out a task in this repository; nobody else has read it yet.",
    'Decide whether it should go to a human as it is. Approve when it does what the task asks, the tests pass or their failure is explained, and nothing in it is wrong or risky.',
    'Otherwise request changes. Each comment names a file and, where you can, a line; severity `blocking` for what must be fixed, `suggestion` or `nit` for the rest.',
    'Review the change, not the repository: do not ask for work the task did not ask for.',
    'Answer only by calling submit_review.',
    ...(instructions ? ['', "The repository's instructions for agents, which the change must follow:", '<repository-instructions>', instructions, '</repository-instructions>'] : []),
  ].join('\n');
}

function reviewRequest(input: ReviewInput): string {
  const test = input.test
    ? `\`${input.test.command}\` ${input.test.passed ? 'passed' : `failed (exit ${input.test.exitCode})`}; the end of its output:\n\`\`\`\n${input.test.outputTail}\n\`\`\``
    : 'No test command was found for this repository.';
  return [
    `## Task\n${input.prompt}`,
    `## What the agent says it did\n${input.summary}`,
    `## Tests\n${test}`,
    ...(input.outsideAllowedPaths.length ? [`## Files outside the paths this task may change\n${input.outsideAllowedPaths.map((f) => `- ${f}`).join('\n')}`] : []),
    `## Diff (review round ${input.round})\n\`\`\`diff\n${input.diff}\n\`\`\``,
  ].join('\n\n');
}
