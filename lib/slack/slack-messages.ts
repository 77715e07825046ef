// What Errand says in a Slack thread, as Slack messages (mrkdwn text and blocks): the task it
// started, its plan with Approve and Cancel buttons, its PR, how it ended, and refusals. Pure.
// Everything that is not Errand's own words (a prompt, a plan, a summary, an error: model output
// or user input) is escaped, so it can never mention @channel, a user or a group, or make a link.
import type { PullRequestRef } from '../../workflows/contracts/task.js';

export interface SlackMessage {
  text: string;
  blocks?: unknown[];
}

/** The action ids of the plan's buttons; their value is the task id. */
export const APPROVE_ACTION = 'errand_approve_plan';
export const CANCEL_ACTION = 'errand_cancel_task';

/** Slack's control sequences (`<!channel>`, `<@U…>`, `<url|text>`) start with `<`; `&` starts its escapes. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** At most `max` characters, cut on a line where it can be, saying so. */
function bounded(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, max);
  return `${cut.slice(0, Math.max(cut.lastIndexOf('\n'), max / 2))}\n…`;
}

/** A link Slack shows as `label`; the URL is Errand's own (a task page, a PR). */
const link = (url: string | undefined, label: string) => (url ? `<${url}|${escapeMrkdwn(label)}>` : escapeMrkdwn(label));

const section = (text: string) => ({ type: 'section', text: { type: 'mrkdwn', text } });

export function taskStarted(t: { taskId: string; repo: string; url?: string; requester: string }): SlackMessage {
  const text = `On it: task ${link(t.url, t.taskId)} on \`${escapeMrkdwn(t.repo)}\`, for ${escapeMrkdwn(t.requester)}. I'll post here when there is a plan to approve, a pull request, and when it ends; reply in this thread to steer it.`;
  return { text, blocks: [section(text)] };
}

export function planToApprove(t: { taskId: string; url?: string; plan: string }): SlackMessage {
  const text = `Task ${link(t.url, t.taskId)} has a plan and waits for approval:\n>>> ${escapeMrkdwn(bounded(t.plan, 2_500))}`;
  return {
    text,
    blocks: [
      section(text),
      {
        type: 'actions',
        elements: [
          { type: 'button', style: 'primary', text: { type: 'plain_text', text: 'Approve' }, action_id: APPROVE_ACTION, value: t.taskId },
          { type: 'button', style: 'danger', text: { type: 'plain_text', text: 'Cancel' }, action_id: CANCEL_ACTION, value: t.taskId },
        ],
      },
    ],
  };
}

/** The plan's message once someone acted on it: its buttons gone, who did what said. */
export function planDecided(t: { taskId: string; url?: string; plan: string; decision: string }): SlackMessage {
  const text = `Task ${link(t.url, t.taskId)}'s plan: ${escapeMrkdwn(t.decision)}\n>>> ${escapeMrkdwn(bounded(t.plan, 2_500))}`;
  return { text, blocks: [section(text)] };
}

export function pullRequestOpened(t: { taskId: string; url?: string; pr: PullRequestRef }): SlackMessage {
  const text = `Task ${link(t.url, t.taskId)} opened ${t.pr.draft ? 'a draft pull request' : 'a pull request'}: ${link(t.pr.url, `#${t.pr.number} ${t.pr.title}`)}`;
  return { text, blocks: [section(text)] };
}

export function taskEnded(t: { taskId: string; url?: string; phase: 'completed' | 'failed' | 'cancelled'; summary?: string; pr?: PullRequestRef; error?: string; cancelledBy?: string }): SlackMessage {
  const pr = t.pr ? ` ${link(t.pr.url, `PR #${t.pr.number}`)}${t.pr.draft ? ' (draft)' : ''}.` : '';
  const how =
    t.phase === 'completed'
      ? `is done.${pr}${t.summary ? `\n>>> ${escapeMrkdwn(bounded(t.summary, 2_500))}` : ''}`
      : t.phase === 'failed'
        ? `failed: ${escapeMrkdwn(bounded(t.error ?? 'see its page', 1_500))}${pr}`
        : `was cancelled${t.cancelledBy ? ` by ${escapeMrkdwn(t.cancelledBy)}` : ''}.${pr}`;
  const text = `Task ${link(t.url, t.taskId)} ${how}`;
  return { text, blocks: [section(text)] };
}

/** Errand's answer when it will not do what was asked, and why (escaped: it may quote what was asked). */
export function refusal(why: string): SlackMessage {
  return { text: `I can't do that: ${escapeMrkdwn(why)}` };
}

/** A line of Errand's (escaped: it may quote a task id or a person's name). */
export function said(what: string): SlackMessage {
  return { text: escapeMrkdwn(what) };
}
