// What Errand writes on a Linear issue (Markdown comments): the task it started, its plan, its
// PR, how it ended, and refusals. Pure. What is not Errand's own words (a plan, a summary, an
// error: model output) is quoted as text: every line a quote, markup characters escaped, so it
// can neither mention anyone nor make a link or an image.
import type { PullRequestRef } from '../../workflows/contracts/task.js';

/** Markdown's punctuation escaped, then each line quoted. */
export function quoted(text: string, max = 4_000): string {
  const cut = text.length > max ? `${text.slice(0, max)}…` : text;
  return cut
    .replace(/([\\`*_{}[\]()#+\-.!<>|@~])/g, '\\$1')
    .split('\n')
    .map((line) => `> ${line}`)
    .join('\n');
}

const link = (url: string | undefined, label: string) => (url ? `[${label}](${url})` : `\`${label}\``);

export const issueComments = {
  started: (t: { taskId: string; url?: string; repo: string; requester: string }) =>
    `Errand is on it: task ${link(t.url, t.taskId)} on \`${t.repo.replace(/`/g, '')}\`, for ${t.requester}. It comments here with its pull request and when it ends; a comment that mentions Errand steers it.`,
  plan: (t: { taskId: string; url?: string; plan: string }) => `Task ${link(t.url, t.taskId)} has a plan and waits for approval (in Errand's console, or \`errand task approve ${t.taskId}\`):\n\n${quoted(t.plan)}`,
  pullRequest: (t: { taskId: string; url?: string; pr: PullRequestRef }) => `Task ${link(t.url, t.taskId)} opened ${t.pr.draft ? 'a draft pull request' : 'a pull request'}: [#${t.pr.number}](${t.pr.url})`,
  ended: (t: { taskId: string; url?: string; phase: 'completed' | 'failed' | 'cancelled'; summary?: string; pr?: PullRequestRef; error?: string; cancelledBy?: string }) => {
    const pr = t.pr ? ` [PR #${t.pr.number}](${t.pr.url})${t.pr.draft ? ' (draft)' : ''}.` : '';
    if (t.phase === 'completed') return `Task ${link(t.url, t.taskId)} is done.${pr}${t.summary ? `\n\n${quoted(t.summary)}` : ''}`;
    if (t.phase === 'failed') return `Task ${link(t.url, t.taskId)} failed.${pr}\n\n${quoted(t.error ?? 'see its page', 1_500)}`;
    return `Task ${link(t.url, t.taskId)} was cancelled${t.cancelledBy ? ` by ${quoted(t.cancelledBy, 200).slice(2)}` : ''}.${pr}`;
  },
  refused: (why: string) => `Errand can't do that: ${quoted(why, 1_000).slice(2)}`,
  messageTaken: (taskId: string, seq: number) => `Task \`${taskId}\` took the message (#${seq}); its agent reads it before its next step.`,
};
