// GitHub webhooks: the signature is checked on the raw bytes before anything is parsed; each
// signed event acts once, however often it is delivered and under whatever delivery id (the
// signature covers the body only, so the body is what identifies it); stale deliveries are
// refused. A labelled issue starts a
// task; a review or comment that mentions the bot on an Errand PR, from someone with write
// access, becomes another round: a signal to the task when it still listens, else a follow-up
// task on the same branch that updates the same PR.
import { createHash } from 'node:crypto';
import { BadRequestException, Inject, Injectable, UnauthorizedException } from '@nestjs/common';
import { verify } from '@octokit/webhooks-methods';
import { Client } from '@temporalio/client';
import type { Forge } from '../../../activities/forge/forge.js';
import type { ArtifactStore } from '../../../activities/store/artifact-store.js';
import { webhookEventKey } from '../../../activities/store/keys.js';
import { feedbackSignal } from '../../../workflows/contracts.js';
import { taskIdOfBranch, taskWorkflowId } from '../../../workflows/names.js';
import type { Config } from '../../config.js';
import type { Logger } from '../../logger.js';
import { TasksService, idFromKey } from '../tasks/tasks.service.js';
import { ARTIFACT_STORE, CONFIG, FORGE, LOGGER, TEMPORAL_CLIENT } from '../tokens.js';

export interface WebhookOutcome {
  status: 'task_started' | 'feedback_sent' | 'ignored' | 'duplicate';
  detail: string;
  taskId?: string;
  /** The GitHub login of the person whose event started or steered the task. */
  sender?: string;
}

const WRITERS = ['admin', 'maintain', 'write'];
/** GitHub's delivery ids are GUIDs; anything else is refused before it is used anywhere. */
const DELIVERY_ID = /^[A-Fa-f0-9-]{1,64}$/;

type Payload = Record<string, any>;

@Injectable()
export class GitHubWebhooksService {
  constructor(
    @Inject(CONFIG) private readonly config: Config,
    @Inject(TEMPORAL_CLIENT) private readonly client: Client,
    @Inject(ARTIFACT_STORE) private readonly store: ArtifactStore,
    @Inject(FORGE) private readonly forge: Forge,
    @Inject(TasksService) private readonly tasks: TasksService,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  async handle(raw: Buffer, headers: Record<string, string | string[] | undefined>): Promise<WebhookOutcome> {
    const secret = this.config.webhooks.secret;
    if (!secret) throw new UnauthorizedException('webhooks are off: set ERRAND_GITHUB_WEBHOOK_SECRET to the secret configured on GitHub');
    const signature = header(headers, 'x-hub-signature-256');
    if (!signature || !(await verify(secret, raw.toString('utf8'), signature).catch(() => false))) {
      throw new UnauthorizedException('the X-Hub-Signature-256 header is missing or does not match the body signed with the webhook secret');
    }
    const delivery = header(headers, 'x-github-delivery');
    const event = header(headers, 'x-github-event');
    if (!delivery || !event) throw new BadRequestException('X-GitHub-Delivery and X-GitHub-Event headers are required');
    if (!DELIVERY_ID.test(delivery)) throw new BadRequestException('X-GitHub-Delivery: must be the GUID GitHub gives each delivery (hex digits and dashes)');
    let payload: Payload;
    try {
      payload = JSON.parse(raw.toString('utf8')) as Payload;
    } catch {
      throw new BadRequestException('the body is not JSON; set the webhook content type to application/json');
    }
    const at = eventTime(event, payload);
    const maxAgeMs = this.config.webhooks.maxAgeMinutes * 60_000;
    if (at && Date.now() - at.getTime() > maxAgeMs) {
      throw new BadRequestException(`stale delivery: the ${event} event happened at ${at.toISOString()}, more than ${this.config.webhooks.maxAgeMinutes} minutes ago`);
    }
    // The event's identity is what was signed, the body: a captured delivery replayed under a
    // new id, or under another event header, is the same event and acts at most once.
    const signed = createHash('sha256').update(raw).digest('hex');
    const seen = webhookEventKey(signed);
    if (!(await this.store.createExclusive(seen, JSON.stringify({ event, delivery, at: new Date().toISOString() })))) {
      return { status: 'duplicate', detail: `this ${event} event was handled already (delivery ${delivery})` };
    }
    try {
      const outcome = await this.route(event, payload, signed);
      this.log.info({ delivery, event, action: payload.action, outcome }, 'github webhook');
      return outcome;
    } catch (err) {
      // Not acted on: a redelivery of the same event may try again.
      await this.store.delete(seen);
      throw err;
    }
  }

  /** `signed`: the event's identity, which task ids and start requests derive from. */
  private async route(event: string, p: Payload, signed: string): Promise<WebhookOutcome> {
    const collaboration = this.forge.collaboration;
    if (!collaboration) return ignored('this Errand does not use the GitHub forge (ERRAND_FORGE=github)');
    const repo = p.repository?.full_name as string | undefined;
    if (!repo) return ignored('the payload names no repository');
    if (event === 'issues' && p.action === 'labeled') {
      if (p.label?.name !== this.config.webhooks.triggerLabel) return ignored(`label ${p.label?.name} is not ${this.config.webhooks.triggerLabel}`);
      return this.startFromIssue(repo, p, signed);
    }
    const mention = feedbackOf(event, p);
    if (!mention) return ignored(`${event}.${p.action} is not something Errand acts on`);
    if (!this.mentionsBot(mention.body)) return ignored(`the ${event} does not mention @${this.config.webhooks.botLogin}`);
    const login = p.sender?.login as string;
    const permission = await collaboration.permissionOf(repo, login);
    if (!WRITERS.includes(permission)) return ignored(`${login} has ${permission} access to ${repo}; only people with write access steer Errand`);
    const refs = mention.head && mention.base ? { head: mention.head, base: mention.base } : await collaboration.pullRequestRefs(repo, mention.prNumber);
    const head = refs.head;
    const parentTaskId = taskIdOfBranch(head);
    if (!parentTaskId) return ignored(`pull request #${mention.prNumber} (${head}) is not an Errand pull request`);
    return this.feedback(repo, { ...mention, head, base: refs.base, parentTaskId, login }, signed);
  }

  private async startFromIssue(repo: string, p: Payload, signed: string): Promise<WebhookOutcome> {
    const issue = p.issue;
    const taskId = idFromKey(`github-event:${signed}`);
    const login = p.sender.login as string;
    const input = this.tasks.taskInput(taskId, {
      repo,
      baseBranch: '',
      prompt: `${issue.title}\n\n${issue.body ?? ''}\n\n(GitHub issue #${issue.number}: ${issue.html_url})`.trim(),
      requester: login,
      coAuthor: coAuthorFor(p.sender),
      notify: { issueNumber: issue.number },
    });
    await this.tasks.start(input, signed, true);
    return { status: 'task_started', detail: `issue #${issue.number} labelled ${p.label.name}`, taskId, sender: login };
  }

  private async feedback(
    repo: string,
    m: { prNumber: number; head: string; body: string; url?: string; base: string; parentTaskId: string; login: string },
    signed: string,
  ): Promise<WebhookOutcome> {
    // A task still running reads the feedback itself: now if it is working, else in another
    // round once its PR is up to date.
    const handle = this.client.workflow.getHandle(taskWorkflowId(m.parentTaskId));
    const description = await handle.describe().catch(() => undefined);
    if (description?.status.name === 'RUNNING') {
      await handle.signal(feedbackSignal, { from: `@${m.login}`, body: m.body, url: m.url });
      return { status: 'feedback_sent', detail: `task ${m.parentTaskId} is still running; it reads the feedback next`, taskId: m.parentTaskId, sender: m.login };
    }
    const taskId = idFromKey(`github-event:${signed}`);
    const input = this.tasks.taskInput(taskId, {
      repo,
      baseBranch: m.base,
      prompt: `Follow-up on pull request #${m.prNumber}, asked by @${m.login}:\n\n${m.body}`,
      requester: m.login,
      followUp: { branch: m.head, prNumber: m.prNumber, parentTaskId: m.parentTaskId },
      notify: { issueNumber: m.prNumber },
    });
    await this.tasks.start(input, signed, true);
    return { status: 'task_started', detail: `follow-up on #${m.prNumber} (${m.head})`, taskId, sender: m.login };
  }

  private mentionsBot(body: string): boolean {
    const login = this.config.webhooks.botLogin.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    return new RegExp(`(^|[^\\w-])@${login}(?![\\w-])`, 'i').test(body);
  }
}

function ignored(detail: string): WebhookOutcome {
  return { status: 'ignored', detail };
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** When the event happened, from the payload (GitHub signs no timestamp). */
function eventTime(event: string, p: Payload): Date | undefined {
  const at =
    event === 'issues' ? p.issue?.updated_at : event === 'pull_request_review' ? p.review?.submitted_at : event.endsWith('comment') ? (p.comment?.updated_at ?? p.comment?.created_at) : undefined;
  const date = typeof at === 'string' ? new Date(at) : undefined;
  return date && !Number.isNaN(date.getTime()) ? date : undefined;
}

/** The PR feedback in a review or comment event, if this event carries any. */
function feedbackOf(event: string, p: Payload): { prNumber: number; head?: string; base?: string; body: string; url?: string } | undefined {
  if (event === 'issue_comment' && p.action === 'created' && p.issue?.pull_request) {
    return { prNumber: p.issue.number, body: p.comment.body ?? '', url: p.comment.html_url };
  }
  if (event === 'pull_request_review' && p.action === 'submitted') {
    return { prNumber: p.pull_request.number, head: p.pull_request.head.ref, base: p.pull_request.base.ref, body: p.review.body ?? '', url: p.review.html_url };
  }
  if (event === 'pull_request_review_comment' && p.action === 'created') {
    const where = p.comment.path ? ` (on ${p.comment.path}${p.comment.line ? `:${p.comment.line}` : ''})` : '';
    return { prNumber: p.pull_request.number, head: p.pull_request.head.ref, base: p.pull_request.base.ref, body: `${p.comment.body ?? ''}${where}`, url: p.comment.html_url };
  }
  return undefined;
}

/** GitHub's no-reply address for a user, which credits them on the commit. */
function coAuthorFor(sender: { login: string; id: number }): string {
  return `${sender.login} <${sender.id}+${sender.login}@users.noreply.github.com>`;
}
