// What Errand writes for people: the commit title, the pull request's body (while the work is
// in progress, and when it is done), the comment on the issue a task came from, and the note
// that hands a review back to the agent. Pure.
import type { AttemptChoice, AttemptRow } from '../contracts/attempts.js';
import type { PlaybookRun, PostconditionResult } from '../contracts/playbooks.js';
import type { ReviewComment } from '../contracts/review.js';
import type { SandboxLoss, TaskInput, TaskState, TestResult } from '../contracts/task.js';

/** How long a title may be: git's customary subject line (GitHub takes 256). */
export const TITLE_MAX = 72;

/**
 * The commit subject and PR title: never cut mid-word. The prompt's first line when it fits; else
 * its first sentence; else the summary's first line or sentence (the agent's account of what it
 * did); else the prompt's first line cut after its last whole word that fits, with an ellipsis.
 */
export function commitTitle(prompt: string, summary?: string, max = TITLE_MAX): string {
  const fits = (text: string | undefined) => {
    const line = firstLine(text ?? '');
    if (!line) return undefined;
    if (line.length <= max) return line;
    const sentence = /^(.+?)[.!?](?:\s|$)/.exec(line)?.[1];
    return sentence && sentence.length <= max ? sentence : undefined;
  };
  // The ellipsis takes one character; one more is read to see whether a word ends at the limit.
  const line = firstLine(prompt);
  const cut = line.slice(0, max).replace(/\s*\S*$/, '').replace(/[\s,;:(-]+$/, '');
  return fits(prompt) ?? fits(summary) ?? `${cut || line.slice(0, max - 1)}…`;
}

/** The published commit's message: the title, then what the agent says it did. */
export function commitMessage(title: string, summary: string): string {
  return summary.trim() && summary.trim() !== title ? `${title}\n\n${summary.trim()}` : title;
}

const firstLine = (text: string) => text.trim().split('\n')[0]!.trim();

/**
 * The PR of a task that ended before it published (cancelled, failed): says so first, why, and
 * that the branch holds the work so far; then what the task was.
 */
export function endedBody(input: TaskInput, state: TaskState, how: string): string {
  const tokens = state.tokens.prompt + state.tokens.completion;
  return [
    `> **${state.phase === 'cancelled' ? 'Cancelled' : 'Failed'}**: ${how}. Errand stopped at step ${state.step}; this branch holds the work so far${state.checkpoint ? ` (\`${state.checkpoint.sha.slice(0, 12)}\`)` : ''}. Review it before you build on it; it is not marked ready.`,
    '',
    ...(state.summary ? ['## Summary', state.summary, ''] : []),
    ...(state.plan ? ['## Plan', state.plan, ''] : []),
    ...(state.losses?.length ? ['## Sandbox losses', ...state.losses.map(describeLoss), ''] : []),
    ...(input.change ? [] : ['## Task', quote(input.prompt), '']),
    ...campaignSection(input),
    `${taskLine(input)}: ${state.step} steps, ${tokens} tokens, $${state.costUsd.toFixed(4)}.`,
  ].join('\n');
}

export function workInProgressBody(input: TaskInput): string {
  return [
    '> **Work in progress**: Errand is working on this; the branch is updated as it goes. It is marked ready when it is done and the review approves.',
    '',
    `## Task`,
    quote(input.prompt),
    '',
    ...campaignSection(input),
    taskLine(input),
  ].join('\n');
}

export function pullRequestBody(input: TaskInput, state: TaskState, summary: string, stopNote?: string): string {
  const test = state.test;
  const testLog = input.links?.task ? ` ([log](${input.links.task}/logs/test))` : '';
  const testLine = test ? `\`${test.command}\` ${test.passed ? 'passed' : `failed (exit ${test.exitCode})`}${testLog}` : 'no test command found';
  const tokens = state.tokens.prompt + state.tokens.completion;
  const review = state.review;
  return [
    ...(stopNote ? [`> **Incomplete**: the agent ${stopNote}. Review before merging.`, ``] : []),
    `## Summary`,
    summary,
    ``,
    ...(state.plan ? [`## Plan${state.planApprovedBy ? ` (approved by ${state.planApprovedBy})` : ''}`, state.plan, ``] : []),
    `## Tests`,
    testLine,
    ...(test && !test.passed ? ['', '<details><summary>The end of the output</summary>', '', '```', test.outputTail.replace(/```/g, "'''"), '```', '</details>'] : []),
    ``,
    ...(review
      ? [
          `## Review`,
          review.checksOnly
            ? `Not reviewed by a model (none is configured): ${review.summary}`
            : `${review.verdict === 'approve' ? 'Approved' : 'Changes requested'} by the review agent after ${review.rounds} review${review.rounds === 1 ? '' : 's'}: ${review.summary}`,
          ...(review.unresolved.length ? ['', 'Unresolved comments:', ...review.unresolved.map((c) => `- ${where(c)} (${c.severity}): ${c.body}`)] : []),
          ...(review.outsideAllowedPaths.length ? ['', `Files outside the paths this task may change: ${review.outsideAllowedPaths.map((f) => `\`${f}\``).join(', ')}`] : []),
          ``,
        ]
      : []),
    ...(input.playbook ? [...playbookSection(input.playbook, state.postconditions), ``] : []),
    ...(state.losses?.length ? [`## Sandbox losses`, ...state.losses.map(describeLoss), ``] : []),
    // A prepared change's summary is its own account; its prompt is for the agent.
    ...(input.change ? [] : [`## Task`, quote(input.prompt), ``]),
    ...campaignSection(input),
    `${taskLine(input)}: ${state.step} steps, ${tokens} tokens, $${state.costUsd.toFixed(4)}.`,
  ].join('\n');
}

export function startedComment(input: TaskInput): string {
  const task = input.links?.task ? `[task \`${input.taskId}\`](${input.links.task})` : `task \`${input.taskId}\``;
  const run = input.links?.temporalUi ? `, [run](${input.links.temporalUi})` : '';
  return `Errand is on it: ${task}${run}. A pull request follows${input.followUp ? ` on #${input.followUp.prNumber}` : ''}.`;
}

export function reviewNote(summary: string, comments: ReviewComment[], round: number, maxRounds: number): string {
  return [
    `[errand] The reviewer requested changes (round ${round} of changes, of at most ${maxRounds}): ${summary}`,
    ...comments.map((c) => `- ${where(c)} (${c.severity}): ${c.body}`),
    'Address them, run the tests, then call finish again.',
  ].join('\n');
}

export function brokenChangeNote(test: TestResult): string {
  return [
    `[errand] The update was made, but \`${test.command}\` ${test.exitCode === 0 ? 'passed' : `exited ${test.exitCode}`}; the end of its output:`,
    test.outputTail,
    'Make the code work with the new versions (keep them), run the tests, then call finish.',
  ].join('\n');
}

export function postconditionsNote(failed: PostconditionResult[], round: number, maxRounds: number): string {
  return [
    `[errand] The playbook's postconditions do not hold yet (round ${round} of changes, of at most ${maxRounds}); Errand ran them and these failed:`,
    ...failed.map((p) => `- \`${p.command}\` exited ${p.exitCode}; the end of its output:\n${p.outputTail}`),
    'Make them pass, then call finish again.',
  ].join('\n');
}

/** One lost sandbox, as the PR tells it. */
function describeLoss(loss: SandboxLoss): string {
  const lost =
    loss.lostAfterStep === undefined
      ? 'nothing was lost'
      : `the changes made after ${loss.lostAfterStep ? `step ${loss.lostAfterStep}` : 'the start'} were lost; the agent was told and went on from there`;
  return `- ${loss.at}: the sandbox was lost during ${loss.during}; restored from ${loss.restoredFrom}; ${lost}.`;
}

function playbookSection(playbook: PlaybookRun, results: PostconditionResult[] = []): string[] {
  const params = Object.entries(playbook.params);
  return [
    `## Playbook`,
    `\`${playbook.name}\` version ${playbook.version} (${playbook.source})${params.length ? ` with ${params.map(([k, v]) => `\`${k}\`=\`${JSON.stringify(v)}\``).join(', ')}` : ''}.`,
    ...(results.length ? ['', 'Postconditions, run by Errand:', ...results.map((p) => `- ${p.passed ? 'passed' : `**failed** (exit ${p.exitCode})`}: \`${p.command}\``)] : []),
  ];
}

/** The campaign a task is one of: a link to it, and its other repositories' tasks. */
function campaignSection(input: TaskInput): string[] {
  const c = input.campaign;
  if (!c) return [];
  const campaign = c.url ? `[\`${c.id}\`](${c.url})` : `\`${c.id}\``;
  const more = c.repos - 1 - c.siblings.length;
  return [
    `## Campaign`,
    `One of ${c.repos} repositories in campaign ${campaign}. The others:`,
    ...c.siblings.map((s) => `- ${code(s.repo)}: ${s.url ? `[\`${s.taskId}\`](${s.url})` : `\`${s.taskId}\``}`),
    ...(more > 0 ? [`- and ${more} more`] : []),
    '',
  ];
}

/**
 * The attempts behind a PR: which was chosen and by what rules, then each attempt, its branch
 * and how it ended. `url` gives an attempt's task page, when there are pages.
 */
export function attemptsSection(attempts: AttemptRow[], choice: AttemptChoice, url: (taskId: string) => string | undefined): string {
  const line = (a: AttemptRow) => {
    const page = url(a.taskId);
    const task = page ? `[${code(a.taskId)}](${page})` : code(a.taskId);
    const tests = a.test ? (a.test.passed ? ', tests passed' : ', tests failed') : '';
    const size = a.size ? `, ${a.size.lines} changed lines in ${a.size.files} file${a.size.files === 1 ? '' : 's'}` : '';
    return `- attempt ${a.n}${a.n === choice.n ? ' (this PR)' : ''}: ${task} on ${code(a.branch)}, ${a.status}${tests}${size}${a.error ? `: ${a.error}` : ''}`;
  };
  return [
    `## Attempts`,
    `Errand made ${attempts.length} attempts at this task, each by its own agent in its own sandbox, and chose attempt ${choice.n}:`,
    ...choice.reasons.map((r) => `- ${r}`),
    '',
    ...attempts.map(line),
    '',
    'The other attempts keep their branches; a person can open a PR for one instead (`POST /tasks/<id>/attempts/<n>/promote`).',
  ].join('\n');
}

/** Text as inline Markdown code, whatever it holds: a fence longer than any run of backticks in it, on one line. */
export function code(text: string): string {
  const flat = text.replace(/[\r\n]+/g, ' ');
  const fence = '`'.repeat(Math.max(0, ...(flat.match(/`+/g) ?? []).map((run) => run.length)) + 1);
  const pad = flat.startsWith('`') || flat.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${flat}${pad}${fence}`;
}

function taskLine(input: TaskInput): string {
  const task = input.links?.task ? `[\`${input.taskId}\`](${input.links.task})` : `\`${input.taskId}\``;
  const run = input.links?.temporalUi ? ` ([run in Temporal UI](${input.links.temporalUi}))` : '';
  return `Errand task ${task}${run}${input.requester ? `, requested by ${input.requester}` : ''}`;
}

function quote(text: string): string {
  return `> ${text.trim().split('\n').join('\n> ')}`;
}

function where(c: ReviewComment): string {
  return `\`${c.file}${c.line ? `:${c.line}` : ''}\``;
}
