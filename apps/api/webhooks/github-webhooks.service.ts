// GitHub webhooks: the signature is checked on the raw bytes before anything is parsed; each
// signed event acts once, however often it is delivered and under whatever delivery id (the
// signature covers the body only, so the body is what identifies it); stale deliveries are
// refused. A labelled issue starts a
// task; a review or comment that mentions the bot on an Errand PR, from someone with write
// access, becomes another round: a signal to the task when it still listens, else a follow-up
// task on the same branch that updates the same PR.
// A signed body is still input: the fields each event Errand acts on uses are validated by a
// schema (400 naming each one), text is bounded by GitHub's own limits, and what would go into a
// task carries no control characters, like every other input of the API.
import { createHash } from 'node:crypto';
import { BadRequestException, Inject, Injectable, UnauthorizedException } from '@nestjs/common';
import { verify } from '@octokit/webhooks-methods';
import { Client } from '@temporalio/client';
import { z } from 'zod';
import type { Forge } from '../../../lib/forge/forge.js';
import { parseRepoName } from '../../../lib/forge/github.js';
import type { Storage } from '../../../lib/storage/storage.js';
import { webhookEventKey } from '../../../lib/storage/keys.js';
import { feedbackSignal } from '../../../workflows/contracts/control.js';
import { taskIdOfBranch, taskWorkflowId } from '../../../workflows/names.js';
import type { Config } from '../../config.js';
import type { Logger } from '../../logger.js';
import { TaskStarting, idFromKey } from '../tasks/task-starting.js';
import { header } from './header.js';
import { badRequest, ZodPipe } from '../tasks/task-request.js';
import { CONFIG, FORGE, LOGGER, STORAGE, TEMPORAL_CLIENT } from '../tokens.js';

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
/**
 * How deep a body's arrays and objects may nest. GitHub's payloads nest under 10 deep; one nested
 * far deeper is no delivery of GitHub's, and would overflow the stack of whatever serialises it.
 */
const MAX_NESTING = 64;

type Payload = Record<string, unknown>;

/**
 * Text as GitHub limits it: at most `max` characters as it counts them (code points). GitHub
 * sends no longer title (256) or body (65,536), so a longer one is refused, not cut (a cut issue
 * asks for something else); a task's prompt thus stays near 66,000 characters, far under
 * Temporal's 4 MB payload limit.
 */
function githubText(max: number) {
  return z.string().refine((s) => s.length <= max || (s.length <= 2 * max && [...s].length <= max), `too long: GitHub allows at most ${max.toLocaleString('en')} characters`);
}
const TITLE = githubText(256).min(1, 'required: the issue needs a title');
const BODY = githubText(65_536).nullish();
const NUMBER = z.number().int().positive();
const TIME = z.iso.datetime({ offset: true });
const URL_ = z.url({ protocol: /^https?$/ });
const REF = z.string().min(1).max(255);
const Repository = z.object({
  full_name: z.string().refine((name) => {
    const parsed = parseRepoName(name);
    return parsed !== undefined && `${parsed.owner}/${parsed.repo}` === name;
  }, 'must be owner/name'),
});
/** Logins are letters, digits and dashes (underscores for managed users), apps' with `[bot]`. */
const Sender = z.object({ login: z.string().max(100).regex(/^[A-Za-z0-9][A-Za-z0-9_-]*(\[bot\])?$/, 'must be a GitHub login'), id: NUMBER });
const PullRequest = z.object({ number: NUMBER, head: z.object({ ref: REF }), base: z.object({ ref: REF }) });
const Comment = z.object({ body: BODY, html_url: URL_, updated_at: TIME });

/** Per event and action Errand acts on, the fields it reads (the rest of the body is dropped). */
const ACTED_ON = {
  'issues.labeled': z.object({
    action: z.literal('labeled'),
    label: z.object({ name: z.string().max(100) }),
    issue: z.object({ number: NUMBER, title: TITLE, body: BODY, html_url: URL_, updated_at: TIME }),
    repository: Repository,
    sender: Sender,
  }),
  'issue_comment.created': z.object({
    action: z.literal('created'),
    issue: z.object({ number: NUMBER, pull_request: z.object({}).nullish() }),
    comment: Comment,
    repository: Repository,
    sender: Sender,
  }),
  'pull_request_review.submitted': z.object({
    action: z.literal('submitted'),
    pull_request: PullRequest,
    review: z.object({ body: BODY, html_url: URL_, submitted_at: TIME }),
    repository: Repository,
    sender: Sender,
  }),
  'pull_request_review_comment.created': z.object({
    action: z.literal('created'),
    pull_request: PullRequest,
    comment: Comment.extend({ path: z.string().max(4_096).nullish(), line: z.number().int().nullish() }),
    repository: Repository,
    sender: Sender,
  }),
};
type ActedOn = { [K in keyof typeof ACTED_ON]: { kind: K; p: z.output<(typeof ACTED_ON)[K]> } }[keyof typeof ACTED_ON];

@Injectable()
export class GitHubWebhooksService {
  constructor(
    @Inject(CONFIG) private readonly config: Config,
    @Inject(TEMPORAL_CLIENT) private readonly client: Client,
    @Inject(STORAGE) private readonly storage: Storage,
    @Inject(FORGE) private readonly forge: Forge,
    @Inject(TaskStarting) private readonly tasks: TaskStarting,
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
    const payload = parsePayload(raw);
    const acted = actedOn(event, payload);
    const at = eventTime(event, payload);
    const maxAgeMs = this.config.webhooks.maxAgeMinutes * 60_000;
    if (at && Date.now() - at.getTime() > maxAgeMs) {
      throw new BadRequestException(`stale delivery: the ${event} event happened at ${at.toISOString()}, more than ${this.config.webhooks.maxAgeMinutes} minutes ago`);
    }
    // The event's identity is what was signed, the body: a captured delivery replayed under a
    // new id, or under another event header, is the same event and acts at most once.
    const signed = createHash('sha256').update(raw).digest('hex');
    const seen = webhookEventKey(signed);
    if (!(await this.storage.blobs.createIfAbsent(seen, JSON.stringify({ event, delivery, at: new Date().toISOString() })))) {
      return { status: 'duplicate', detail: `this ${event} event was handled already (delivery ${delivery})` };
    }
    try {
      const outcome = await this.route(event, payload, acted, signed);
      this.log.info({ delivery, event, action: actionOf(payload), outcome }, 'github webhook');
      return outcome;
    } catch (err) {
      // Not acted on: a redelivery of the same event may try again.
      await this.storage.blobs.delete(seen);
      throw err;
    }
  }

  /** `signed`: the event's identity, which task ids and start requests derive from. */
  private async route(event: string, payload: Payload, acted: ActedOn | undefined, signed: string): Promise<WebhookOutcome> {
    const collaboration = this.forge.collaboration;
    if (!collaboration) return ignored('this Errand does not use the GitHub forge (ERRAND_FORGE=github)');
    const action = actionOf(payload);
    if (!acted) return ignored(`${event}${action ? `.${action}` : ''} is not something Errand acts on`);
    if (acted.kind === 'issues.labeled') {
      const { label } = acted.p;
      if (label.name !== this.config.webhooks.triggerLabel) return ignored(`label ${label.name} is not ${this.config.webhooks.triggerLabel}`);
      refuseControlCharacters(acted);
      return this.startFromIssue(acted.p, signed);
    }
    const mention = feedbackOf(acted);
    if (!mention) return ignored(`${event}.${action} is not something Errand acts on`);
    if (!this.mentionsBot(mention.body)) return ignored(`the ${event} does not mention @${this.config.webhooks.botLogin}`);
    refuseControlCharacters(acted);
    const repo = acted.p.repository.full_name;
    const login = acted.p.sender.login;
    const permission = await collaboration.permissionOf(repo, login);
    if (!WRITERS.includes(permission)) return ignored(`${login} has ${permission} access to ${repo}; only people with write access steer Errand`);
    const refs = mention.head && mention.base ? { head: mention.head, base: mention.base } : await collaboration.pullRequestRefs(repo, mention.prNumber);
    const head = refs.head;
    const parentTaskId = taskIdOfBranch(head);
    if (!parentTaskId) return ignored(`pull request #${mention.prNumber} (${head}) is not an Errand pull request`);
    return this.feedback(repo, { ...mention, head, base: refs.base, parentTaskId, login }, signed);
  }

  private async startFromIssue({ issue, label, repository, sender }: Extract<ActedOn, { kind: 'issues.labeled' }>['p'], signed: string): Promise<WebhookOutcome> {
    const taskId = idFromKey(`github-event:${signed}`);
    const input = this.tasks.taskInput(taskId, {
      repo: repository.full_name,
      baseBranch: '',
      prompt: `${issue.title}\n\n${issue.body ?? ''}\n\n(GitHub issue #${issue.number}: ${issue.html_url})`.trim(),
      requester: sender.login,
      coAuthor: coAuthorFor(sender),
      notify: { issueNumber: issue.number },
    });
    await this.tasks.start(input, signed, true, undefined, 'github');
    return { status: 'task_started', detail: `issue #${issue.number} labelled ${label.name}`, taskId, sender: sender.login };
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
    await this.tasks.start(input, signed, true, undefined, 'github');
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


/** The body as a JSON object; 400 when it is none, or nests deeper than any GitHub delivery. */
function parsePayload(raw: Buffer): Payload {
  if (nestsDeeperThan(raw, MAX_NESTING)) throw badRequest([{ field: 'body', message: `nested deeper than ${MAX_NESTING} levels; GitHub's payloads nest under 10` }]);
  let payload: unknown;
  try {
    payload = JSON.parse(raw.toString('utf8'));
  } catch {
    throw badRequest([{ field: 'body', message: 'not JSON; set the webhook content type to application/json' }]);
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) throw badRequest([{ field: 'body', message: 'send a JSON object, as GitHub does' }]);
  return payload as Payload;
}

/** Whether the arrays and objects of a JSON text nest deeper than `max`, read from its bytes before any parser builds them. */
function nestsDeeperThan(raw: Buffer, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < raw.length; i++) {
    const byte = raw[i];
    if (inString) {
      if (byte === 0x5c /* \ */) i++;
      else if (byte === 0x22 /* " */) inString = false;
    } else if (byte === 0x22) inString = true;
    else if (byte === 0x5b /* [ */ || byte === 0x7b /* { */) {
      if (++depth > max) return true;
    } else if (byte === 0x5d /* ] */ || byte === 0x7d /* } */) depth--;
  }
  return false;
}

/** The payload's action, as far as it names one (it is only echoed in answers and the log). */
function actionOf(payload: Payload): string | undefined {
  return typeof payload.action === 'string' ? payload.action.slice(0, 100) : undefined;
}

/** The fields an event Errand acts on uses, validated (400 naming each one); undefined for the events it ignores. */
function actedOn(event: string, payload: Payload): ActedOn | undefined {
  const kind = `${event}.${String(actionOf(payload))}`;
  if (!Object.hasOwn(ACTED_ON, kind)) return undefined;
  const parsed = ACTED_ON[kind as ActedOn['kind']].safeParse(payload);
  if (!parsed.success) throw badRequest(parsed.error.issues.map((issue) => ({ field: issue.path.join('.') || 'body', message: issue.message })));
  return { kind, p: parsed.data } as ActedOn;
}

/**
 * The fields of an event Errand acts on, once it is known to: refused (400, by field) if one holds
 * a control character, as every input of the API is (a NUL or an escape sequence in a prompt
 * reaches a commit, a terminal, a log line). Checked only then: a title Errand was not asked to
 * act on is none of its business.
 */
function refuseControlCharacters(acted: ActedOn): void {
  new ZodPipe<z.ZodType>(ACTED_ON[acted.kind]).transform(acted.p);
}

/** When the event happened, from the payload (GitHub signs no timestamp). */
function eventTime(event: string, p: Record<string, any>): Date | undefined {
  const at =
    event === 'issues' ? p.issue?.updated_at : event === 'pull_request_review' ? p.review?.submitted_at : event.endsWith('comment') ? (p.comment?.updated_at ?? p.comment?.created_at) : undefined;
  const date = typeof at === 'string' ? new Date(at) : undefined;
  return date && !Number.isNaN(date.getTime()) ? date : undefined;
}

/** The PR feedback in a review or comment event, if this event carries any. */
function feedbackOf(acted: Exclude<ActedOn, { kind: 'issues.labeled' }>): { prNumber: number; head?: string; base?: string; body: string; url?: string } | undefined {
  switch (acted.kind) {
    case 'issue_comment.created': {
      const { issue, comment } = acted.p;
      return issue.pull_request ? { prNumber: issue.number, body: comment.body ?? '', url: comment.html_url } : undefined;
    }
    case 'pull_request_review.submitted': {
      const { pull_request: pr, review } = acted.p;
      return { prNumber: pr.number, head: pr.head.ref, base: pr.base.ref, body: review.body ?? '', url: review.html_url };
    }
    case 'pull_request_review_comment.created': {
      const { pull_request: pr, comment } = acted.p;
      const where = comment.path ? ` (on ${comment.path}${comment.line ? `:${comment.line}` : ''})` : '';
      return { prNumber: pr.number, head: pr.head.ref, base: pr.base.ref, body: `${comment.body ?? ''}${where}`, url: comment.html_url };
    }
  }
}

/** GitHub's no-reply address for a user, which credits them on the commit. */
function coAuthorFor(sender: { login: string; id: number }): string {
  return `${sender.login} <${sender.id}+${sender.login}@users.noreply.github.com>`;
}
