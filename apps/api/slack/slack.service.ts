// Slack as a way in. Requests reach it raw (server.ts keeps /webhooks/ bodies raw): the signature
// and timestamp are checked on the exact bytes with @slack/bolt's verifier, a request already
// handled (Slack's retries, a replay) acts once, and the rest is handed to a Bolt app whose
// listeners do what a person asked: a mention starts a task in the thread (its earlier messages
// as context, bounded and redacted), a reply in that thread steers it, the plan's Approve and
// Cancel buttons act, each with the Slack user's Errand identity and scopes from the operator's
// file. Anyone or any channel not in it is refused, in the thread, in words. The task itself
// reports back to the thread (workflows/coding-task/origin.ts).
import { createHash } from 'node:crypto';
import { BadRequestException, HttpException, Inject, Injectable, UnauthorizedException, type OnModuleInit } from '@nestjs/common';
import { App, verifySlackRequest, type Receiver, type ReceiverEvent } from '@slack/bolt';
import { Redactor } from '../../../lib/storage/redactor.js';
import { slackRequestKey, slackThreadKey } from '../../../lib/storage/keys.js';
import type { Storage } from '../../../lib/storage/storage.js';
import type { Forge } from '../../../lib/forge/forge.js';
import { SlackAccess, type SlackUser } from '../../../lib/slack/slack-access.js';
import { APPROVE_ACTION, CANCEL_ACTION, planDecided, refusal, said, taskStarted, type SlackMessage } from '../../../lib/slack/slack-messages.js';
import { plainText, splitRepository, unescapeMrkdwn } from '../../../lib/slack/slack-text.js';
import { SlackThreads } from '../../../lib/slack/slack-threads.js';
import { TASK_ID } from '../../../workflows/names.js';
import type { Config } from '../../config.js';
import type { Logger } from '../../logger.js';
import type { AuditLog } from '../audit/audit-log.js';
import { problemText } from '../problems/problem-text.js';
import { header } from '../webhooks/header.js';
import { TaskControl } from '../tasks/task-control.js';
import { idFromKey, TaskStarting } from '../tasks/task-starting.js';
import type { ApiMetrics } from '../metrics/api-metrics.js';
import { AUDIT, CONFIG, FORGE, LOGGER, METRICS, STORAGE } from '../tokens.js';

/** How much of a thread becomes a task's context: its last messages, and at most this much text. */
const CONTEXT_MESSAGES = 20;
const CONTEXT_CHARS = 8_000;
/** A request or reply longer than this is no request Errand takes from chat. */
const MAX_TEXT = 20_000;
/** NUL and the other control characters but tab and newline, as every API input refuses them. */
const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/;

export interface SlackOutcome {
  status: 'task_started' | 'message_sent' | 'approved' | 'cancelled' | 'refused' | 'ignored' | 'duplicate';
  detail: string;
  taskId?: string;
}

interface Mention {
  user?: string;
  text?: string;
  ts: string;
  thread_ts?: string;
  channel: string;
  bot_id?: string;
  subtype?: string;
}

@Injectable()
export class SlackService implements OnModuleInit {
  private readonly receiver = new DispatchingReceiver();
  private app?: App;
  private threads?: SlackThreads;
  private access?: SlackAccess;
  private readonly redactor: Redactor;

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    @Inject(STORAGE) private readonly storage: Storage,
    @Inject(FORGE) private readonly forge: Forge,
    @Inject(TaskStarting) private readonly tasks: TaskStarting,
    @Inject(TaskControl) private readonly control: TaskControl,
    @Inject(AUDIT) private readonly audit: AuditLog,
    @Inject(LOGGER) private readonly log: Logger,
    @Inject(METRICS) private readonly metrics: ApiMetrics,
  ) {
    this.redactor = new Redactor(config.secrets);
  }

  onModuleInit(): void {
    const slack = this.config.slack;
    if (!slack) return;
    this.threads = new SlackThreads(slack);
    this.access = new SlackAccess(slack.access);
    const app = new App({ token: slack.botToken, receiver: this.receiver, clientOptions: { slackApiUrl: slack.apiUrl }, logger: quietLogger(this.log) });
    app.event('app_mention', async ({ event, context }) => void this.outcome(await this.mention(event as Mention, context.botUserId)));
    app.message(async ({ message, context }) => void this.outcome(await this.reply(message as Mention, context.botUserId)));
    app.action({ action_id: APPROVE_ACTION }, async ({ ack, body, action }) => {
      await ack();
      void this.outcome(await this.decide('approve', body as unknown as ActionBody, (action as { value?: string }).value));
    });
    app.action({ action_id: CANCEL_ACTION }, async ({ ack, body, action }) => {
      await ack();
      void this.outcome(await this.decide('cancel', body as unknown as ActionBody, (action as { value?: string }).value));
    });
    app.error(async (err) => this.log.error({ err }, 'slack listener failed'));
    this.app = app;
  }

  /**
   * A request from Slack, as its raw body and headers: 401 unless it is signed with the app's
   * signing secret within the last five minutes; a URL verification is answered; one handled
   * already is a duplicate; the rest is acknowledged at once and acted on after (Slack waits
   * three seconds for an answer, then sends the request again).
   */
  async handle(raw: Buffer, headers: Record<string, string | string[] | undefined>): Promise<unknown> {
    const slack = this.config.slack;
    if (!slack || !this.app) throw new UnauthorizedException('Slack is off: set ERRAND_SLACK_SIGNING_SECRET, ERRAND_SLACK_BOT_TOKEN and ERRAND_SLACK_CONFIG (README "Slack")');
    const body = raw.toString('utf8');
    try {
      verifySlackRequest({ signingSecret: slack.signingSecret, body, headers: { 'x-slack-signature': header(headers, 'x-slack-signature') ?? '', 'x-slack-request-timestamp': Number(header(headers, 'x-slack-request-timestamp')) } });
    } catch (err) {
      throw new UnauthorizedException(`not a request from Slack: ${(err as Error).message.replace(/^Failed to verify authenticity: /, '')} (it must be signed with the app's signing secret, within five minutes)`);
    }
    const parsed = parseBody(body, header(headers, 'content-type'));
    if (parsed.type === 'url_verification') return { challenge: String(parsed.challenge ?? '') };
    // A request's identity is what Slack signed, its body: a retry or a replay acts once.
    const signed = createHash('sha256').update(raw).digest('hex');
    if (!(await this.storage.blobs.createIfAbsent(slackRequestKey(signed), JSON.stringify({ at: new Date().toISOString() })))) {
      this.counted('duplicate');
      return { status: 'duplicate', detail: 'this request was handled already' };
    }
    return this.receiver.dispatch(parsed, header(headers, 'x-slack-retry-num'));
  }

  /** A mention: a task on the repository it names (or the channel's), for the mapped requester. */
  private async mention(event: Mention, botUserId?: string): Promise<SlackOutcome> {
    const threadTs = event.thread_ts ?? event.ts;
    const refuse = (why: string) => this.refuse(event, threadTs, why);
    const access = this.access!;
    const user = event.user && access.user(event.user, 'tasks:write');
    if (!user) return refuse(`you (${event.user ?? 'unknown'}) are not one of the people this Errand takes tasks from; its operator can add your member id to ERRAND_SLACK_CONFIG`);
    const channel = access.channel(event.channel);
    if (!channel) return refuse(`tasks cannot be started from this channel (${event.channel}); its operator can add it to ERRAND_SLACK_CONFIG`);
    const text = plainText(event.text ?? '', botUserId);
    if (text.length > MAX_TEXT) return refuse(`the request is too long: at most ${MAX_TEXT.toLocaleString('en')} characters`);
    if (CONTROL.test(text)) return refuse('the request holds control characters; send plain text');
    const { repo: named, rest } = splitRepository(text);
    const asked = named ?? channel.defaultRepo;
    if (!asked) return refuse(`name the repository first (tasks from this channel may work on ${channel.repos.join(', ')}), then what to change`);
    if (!rest.trim()) return refuse(`say what to change in ${asked}`);
    const resolved = await this.forge.resolveRepository(asked);
    if ('field' in resolved) return refuse(resolved.message);
    if (!access.allows(event.channel, resolved.repo)) return refuse(`tasks from this channel may work on ${channel.repos.join(', ')}, not ${resolved.repo}`);

    const context = event.thread_ts ? await this.context(event) : '';
    const taskId = idFromKey(`slack:${event.channel}:${event.ts}`);
    const input = this.tasks.taskInput(taskId, {
      repo: resolved.repo,
      baseBranch: resolved.baseBranch,
      prompt: `${rest.trim()}${context}\n\n(Asked in Slack by ${user.requester})`,
      requester: user.requester,
      ...(channel.requirePlanApproval && { requirePlanApproval: true }),
      origin: { kind: 'slack', channel: event.channel, threadTs },
    });
    try {
      await this.tasks.start(input, `slack:${taskId}`, true, undefined, 'slack');
    } catch (err) {
      if (err instanceof HttpException && err.getStatus() < 500) return refuse(problemText(err));
      throw err;
    }
    await this.storage.blobs.put(slackThreadKey(event.channel, threadTs), taskId);
    await this.audit.record({ actor: user.requester, via: 'webhook', action: 'slack.task_started', taskId, repo: resolved.repo, from: `slack ${event.channel} ${event.ts}` });
    await this.post(event.channel, threadTs, taskStarted({ taskId, repo: resolved.repo, url: this.taskUrl(taskId), requester: user.requester }));
    return { status: 'task_started', detail: `task ${taskId} on ${resolved.repo}`, taskId };
  }

  /** A reply in a task's thread: a message for its agent, from someone allowed to steer. */
  private async reply(message: Mention, botUserId?: string): Promise<SlackOutcome> {
    // Errand's own messages, edits and joins, other bots, messages outside a thread, and
    // mentions (those are the mention's to handle) are not replies to act on.
    if (!message.thread_ts || message.subtype || message.bot_id || !message.user || message.user === botUserId) return { status: 'ignored', detail: 'not a reply in a thread' };
    if (botUserId && message.text?.includes(`<@${botUserId}>`)) return { status: 'ignored', detail: 'a mention: handled as one' };
    const taskId = await this.storage.blobs.get(slackThreadKey(message.channel, message.thread_ts));
    if (!taskId) return { status: 'ignored', detail: 'a thread without a task' };
    const user = this.access!.user(message.user, 'tasks:control');
    if (!user) return this.refuse(message, message.thread_ts, `only the people this Errand's operator lets steer tasks can; your reply did not reach task ${taskId}`);
    const text = plainText(message.text ?? '', botUserId);
    if (!text.trim() || text.length > MAX_TEXT || CONTROL.test(text)) return this.refuse(message, message.thread_ts, `a message for the agent is plain text of at most ${MAX_TEXT.toLocaleString('en')} characters`);
    try {
      const accepted = await this.control.sendMessage(taskId, { text, from: user.requester });
      await this.audit.record({ actor: user.requester, via: 'webhook', action: 'slack.message_sent', taskId, from: `slack ${message.channel} ${message.ts}` });
      await this.ephemeral(message, message.thread_ts, said(`Task ${taskId} took your message (#${accepted.seq}); its agent reads it before its next step.`));
      return { status: 'message_sent', detail: `message #${accepted.seq} to task ${taskId}`, taskId };
    } catch (err) {
      if (err instanceof HttpException && err.getStatus() < 500) return this.refuse(message, message.thread_ts, `task ${taskId} cannot take messages now: ${problemText(err)}. Mention me to start another task.`);
      throw err;
    }
  }

  /** The plan's Approve or Cancel, by someone allowed to control tasks, for the task of that thread. */
  private async decide(decision: 'approve' | 'cancel', body: ActionBody, value: string | undefined): Promise<SlackOutcome> {
    const channel = body.channel?.id ?? body.container?.channel_id;
    const messageTs = body.message?.ts ?? body.container?.message_ts;
    const threadTs = body.message?.thread_ts ?? body.container?.thread_ts ?? messageTs;
    if (!channel || !messageTs || !threadTs || !value || !TASK_ID.test(value)) return { status: 'ignored', detail: 'a button without its task' };
    const where = { user: body.user?.id, channel, ts: messageTs };
    // The button is the thread's own task's, or nothing: a value is no way to reach another task.
    if ((await this.storage.blobs.get(slackThreadKey(channel, threadTs))) !== value) return this.refuse(where, threadTs, `that button is not for this thread's task`);
    const user: SlackUser | undefined = body.user?.id ? this.access!.user(body.user.id, 'tasks:control') : undefined;
    if (!user) return this.refuse(where, threadTs, `only the people this Errand's operator lets control tasks can ${decision} one`);
    try {
      if (decision === 'approve') await this.control.approve(value, user.requester);
      else await this.control.cancel(value, user.requester);
    } catch (err) {
      if (err instanceof HttpException && err.getStatus() < 500) return this.refuse(where, threadTs, `task ${value} cannot be ${decision === 'approve' ? 'approved' : 'cancelled'} now: ${problemText(err)}`);
      throw err;
    }
    await this.audit.record({ actor: user.requester, via: 'webhook', action: decision === 'approve' ? 'task.approve' : 'task.cancel', taskId: value, from: `slack ${channel} ${messageTs}` });
    const plan = body.message?.text?.split('\n>>> ').slice(1).join('\n>>> ') ?? '';
    const decided = decision === 'approve' ? `approved by ${user.requester}` : `cancelled by ${user.requester}`;
    await this.threads!.update(channel, messageTs, planDecided({ taskId: value, url: this.taskUrl(value), plan: unescapeMrkdwn(plan), decision: decided }));
    return { status: decision === 'approve' ? 'approved' : 'cancelled', detail: `task ${value} ${decided}`, taskId: value };
  }

  /** The thread before the mention, as the task's context: its last messages, redacted, bounded. */
  private async context(event: Mention): Promise<string> {
    const earlier = await this.threads!.earlier(event.channel, event.thread_ts!, event.ts, CONTEXT_MESSAGES);
    const lines: string[] = [];
    let size = 0;
    for (const m of [...earlier].reverse()) {
      const line = `> ${m.user ?? 'someone'}: ${plainText(m.text).replace(CONTROL, '').replace(/\n/g, '\n> ')}`;
      if (size + line.length > CONTEXT_CHARS) break;
      lines.unshift(line);
      size += line.length;
    }
    return lines.length ? `\n\nEarlier in the Slack thread (the ${lines.length} most recent messages before the request):\n${this.redactor.redact(lines.join('\n'))}` : '';
  }

  private async refuse(where: { user?: string; channel: string }, threadTs: string, why: string): Promise<SlackOutcome> {
    await this.ephemeral(where, threadTs, refusal(why));
    return { status: 'refused', detail: why };
  }

  /** Only the person sees it, in the thread; someone Slack cannot show it to gets it in the thread. */
  private async ephemeral(where: { user?: string; channel: string }, threadTs: string, message: SlackMessage): Promise<void> {
    const client = this.threads!.client;
    if (where.user) {
      const sent = await client.chat.postEphemeral({ channel: where.channel, user: where.user, thread_ts: threadTs, text: message.text }).catch(() => undefined);
      if (sent?.ok) return;
    }
    await this.post(where.channel, threadTs, message);
  }

  private post(channel: string, threadTs: string, message: SlackMessage): Promise<string> {
    return this.threads!.post(channel, threadTs, message);
  }

  private taskUrl(taskId: string): string | undefined {
    return this.config.api.publicUrl ? `${this.config.api.publicUrl.replace(/\/$/, '')}/console#/tasks/${taskId}` : undefined;
  }

  private outcome(outcome: SlackOutcome): SlackOutcome {
    this.log.info({ outcome }, 'slack');
    this.counted(outcome.status);
    return outcome;
  }

  private counted(result: SlackOutcome['status']): void {
    this.metrics.slackRequests.inc({ result });
  }
}

/** What a block_actions payload holds that Errand reads. */
interface ActionBody {
  user?: { id?: string };
  channel?: { id?: string };
  container?: { channel_id?: string; message_ts?: string; thread_ts?: string };
  message?: { ts?: string; thread_ts?: string; text?: string };
}

/**
 * Bolt's receiver, for requests Nest has already received and verified: each is handed to the
 * app's listeners, and Slack is answered as soon as Bolt acknowledges it (before an event's
 * listeners run; an action's listener acknowledges first thing), or once the listeners are done.
 */
class DispatchingReceiver implements Receiver {
  private app?: App;

  init(app: App): void {
    this.app = app;
  }

  start(): Promise<void> {
    return Promise.resolve();
  }

  stop(): Promise<void> {
    return Promise.resolve();
  }

  dispatch(body: Record<string, unknown>, retryNum?: string): Promise<unknown> {
    return new Promise((answer) => {
      const event: ReceiverEvent = { body, ack: async (response) => answer(response ?? ''), ...(retryNum !== undefined && { retryNum: Number(retryNum) }) };
      // A listener's failure is Bolt's error handler's (logged); Slack has its answer by then.
      void this.app!.processEvent(event).catch(() => undefined).finally(() => answer(''));
    });
  }
}


/** Events come as JSON; interactivity as a form with the JSON in `payload`. */
function parseBody(body: string, contentType: string | undefined): Record<string, unknown> {
  try {
    const parsed = contentType?.includes('application/x-www-form-urlencoded') ? JSON.parse(new URLSearchParams(body).get('payload') ?? '') : JSON.parse(body);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // refused below
  }
  throw new BadRequestException('the body is not a Slack event (JSON) or interaction (a form with payload=<JSON>)');
}


function quietLogger(log: Logger) {
  let level = 'info';
  return {
    debug: () => undefined,
    info: () => undefined,
    warn: (...msg: unknown[]) => log.warn({ slack: true }, msg.map(String).join(' ')),
    error: (...msg: unknown[]) => log.error({ slack: true }, msg.map(String).join(' ')),
    setLevel: (l: string) => void (level = l),
    getLevel: () => level,
    setName: () => undefined,
  } as never;
}

