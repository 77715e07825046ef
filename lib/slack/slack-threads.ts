// Errand's side of a Slack thread, through Slack's Web API (@slack/web-api, as @slack/bolt
// bundles it): post and update its messages, and read what was said before it was mentioned.
import { WebClient } from '@slack/web-api';
import type { SlackMessage } from './slack-messages.js';

export interface ThreadMessage {
  user?: string;
  text: string;
  ts: string;
}

export class SlackThreads {
  readonly client: WebClient;

  constructor(settings: { botToken: string; apiUrl: string }) {
    // Retries with back-off on 429 and 5xx are the Web API client's; a caller (an activity) retries the rest.
    this.client = new WebClient(settings.botToken, { slackApiUrl: settings.apiUrl, retryConfig: { retries: 2 } });
  }

  /** Posts in the thread `threadTs` of `channel`; the new message's ts. */
  async post(channel: string, threadTs: string, message: SlackMessage): Promise<string> {
    const res = await this.client.chat.postMessage({ channel, thread_ts: threadTs, text: message.text, ...(message.blocks && { blocks: message.blocks as never }), unfurl_links: false, unfurl_media: false });
    return String(res.ts);
  }

  async update(channel: string, ts: string, message: SlackMessage): Promise<void> {
    await this.client.chat.update({ channel, ts, text: message.text, blocks: (message.blocks ?? []) as never });
  }

  /** The thread's messages before `before` (its ts), oldest first, at most `limit`. */
  async earlier(channel: string, threadTs: string, before: string, limit: number): Promise<ThreadMessage[]> {
    const res = await this.client.conversations.replies({ channel, ts: threadTs, limit: limit + 1, inclusive: true });
    return (res.messages ?? [])
      .filter((m) => m.ts !== undefined && Number(m.ts) < Number(before))
      .slice(-limit)
      .map((m) => ({ ...(m.user && { user: m.user }), text: m.text ?? '', ts: m.ts! }));
  }
}
