// Linear as a way in. A delivery reaches it raw (server.ts keeps /webhooks/ bodies raw) and is
// verified by @linear/sdk's webhook client: its signature over the exact body, and the signed
// timestamp within a minute; a delivery already handled (a redelivery, a replay) acts once. An
// issue given the configured label, or assigned to Errand's own Linear user, by someone the
// operator named, starts a task on the repository its team maps to, with the issue's title,
// description and comments as the prompt (bounded, redacted, no control characters); a comment
// that mentions Errand on an issue with a running task steers it. What Errand will not do is
// said in a comment on the issue. The task itself comments and moves the issue as it goes
// (workflows/coding-task/origin.ts).
import { createHash } from 'node:crypto';
import { BadRequestException, HttpException, Inject, Injectable, UnauthorizedException } from '@nestjs/common';
import { LinearWebhookClient } from '@linear/sdk/webhooks';
import { z } from 'zod';
import { LinearAccess } from '../../../lib/linear/linear-access.js';
import { LinearIssues } from '../../../lib/linear/linear-issues.js';
import { issueComments } from '../../../lib/linear/linear-messages.js';
import { linearDeliveryKey, linearIssueKey } from '../../../lib/storage/keys.js';
import { Redactor } from '../../../lib/storage/redactor.js';
import type { Storage } from '../../../lib/storage/storage.js';
import type { Forge } from '../../../lib/forge/forge.js';
import type { Config } from '../../config.js';
import type { Logger } from '../../logger.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { ApiMetrics } from '../metrics/api-metrics.js';
import { problemText } from '../problems/problem-text.js';
import { header } from '../webhooks/header.js';
import { TaskControl } from '../tasks/task-control.js';
import { idFromKey, TaskStarting } from '../tasks/task-starting.js';
import { AUDIT, CONFIG, FORGE, LOGGER, METRICS, STORAGE } from '../tokens.js';

/** How much of an issue becomes a prompt: its last comments, and at most this much text. */
const MAX_COMMENTS = 20;
const MAX_PROMPT = 20_000;
const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/;

export interface LinearOutcome {
  status: 'task_started' | 'message_sent' | 'refused' | 'ignored' | 'duplicate';
  detail: string;
  taskId?: string;
}

/** What Errand reads of the deliveries it acts on; the rest of a signed body is dropped. */
const Id = z.uuid();
const IssueDelivery = z.object({
  type: z.literal('Issue'),
  action: z.enum(['create', 'update']),
  actor: z.object({ id: z.string().max(100) }).optional(),
  data: z.object({
    id: Id,
    identifier: z.string().max(50),
    teamId: z.string().max(100),
    team: z.object({ key: z.string().max(10) }).optional(),
    labels: z.array(z.object({ id: z.string(), name: z.string().max(200) })).default([]),
    assigneeId: z.string().max(100).nullish(),
  }),
  updatedFrom: z.object({ labelIds: z.array(z.string()).optional(), assigneeId: z.string().nullish() }).loose().optional(),
  url: z.string().max(2_000).optional(),
});
const CommentDelivery = z.object({
  type: z.literal('Comment'),
  action: z.literal('create'),
  data: z.object({ id: z.string().max(100), body: z.string().max(65_536), issueId: Id.nullish(), userId: z.string().max(100).nullish() }),
});

@Injectable()
export class LinearService {
  private readonly webhooks?: LinearWebhookClient;
  private readonly issues?: LinearIssues;
  private readonly access?: LinearAccess;
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
    if (!config.linear) return;
    this.webhooks = new LinearWebhookClient(config.linear.webhookSecret);
    this.issues = new LinearIssues(config.linear);
    this.access = new LinearAccess(config.linear.access);
  }

  async handle(raw: Buffer, headers: Record<string, string | string[] | undefined>): Promise<LinearOutcome> {
    if (!this.webhooks) throw new UnauthorizedException('Linear is off: set ERRAND_LINEAR_WEBHOOK_SECRET, ERRAND_LINEAR_API_KEY and ERRAND_LINEAR_CONFIG (README "Linear")');
    const signature = header(headers, 'linear-signature');
    let payload: unknown;
    try {
      if (!signature) throw new Error('no linear-signature header');
      // The time Linear signed, in the body (a header's would not be signed): the client refuses it over a minute away.
      const signedAt = (JSON.parse(raw.toString('utf8')) as { webhookTimestamp?: unknown })?.webhookTimestamp;
      if (typeof signedAt !== 'number' || !Number.isFinite(signedAt)) throw new Error('no webhookTimestamp in the body');
      payload = this.webhooks.parseData(raw, signature, signedAt);
    } catch (err) {
      throw new UnauthorizedException(`not a delivery from Linear: ${(err as Error).message} (it must be signed with the webhook's secret, with a webhookTimestamp within the last minute)`);
    }
    const signed = createHash('sha256').update(raw).digest('hex');
    if (!(await this.storage.blobs.createIfAbsent(linearDeliveryKey(signed), JSON.stringify({ at: new Date().toISOString() })))) {
      return this.counted({ status: 'duplicate', detail: 'this delivery was handled already' });
    }
    try {
      const outcome = await this.route(payload, signed);
      this.log.info({ outcome }, 'linear webhook');
      return this.counted(outcome);
    } catch (err) {
      // Not acted on: a redelivery may try again.
      await this.storage.blobs.delete(linearDeliveryKey(signed));
      throw err;
    }
  }

  private async route(payload: unknown, signed: string): Promise<LinearOutcome> {
    const type = (payload as { type?: unknown })?.type;
    if (type === 'Issue') {
      const issue = IssueDelivery.safeParse(payload);
      if (!issue.success) throw invalid(issue.error);
      return this.issueChanged(issue.data, signed);
    }
    if (type === 'Comment') {
      const comment = CommentDelivery.safeParse(payload);
      if (!comment.success) return { status: 'ignored', detail: 'a comment change Errand does not act on' };
      return this.commented(comment.data);
    }
    return { status: 'ignored', detail: `${String(type)} deliveries are not something Errand acts on` };
  }

  /** The label added, or the issue assigned to Errand: a task, for a requester the operator named. */
  private async issueChanged(d: z.output<typeof IssueDelivery>, signed: string): Promise<LinearOutcome> {
    const access = this.access!;
    const issues = this.issues!;
    const label = d.data.labels.find((l) => l.name.toLowerCase() === access.file.label.toLowerCase());
    const labelAdded = label !== undefined && (d.action === 'create' || (d.updatedFrom?.labelIds !== undefined && !d.updatedFrom.labelIds.includes(label.id)));
    const viewer = access.file.assign ? await issues.viewerId() : undefined;
    const assigned = viewer !== undefined && d.data.assigneeId === viewer && (d.action === 'create' || (d.updatedFrom !== undefined && 'assigneeId' in d.updatedFrom && d.updatedFrom.assigneeId !== viewer));
    if (!labelAdded && !assigned) return { status: 'ignored', detail: `${d.data.identifier} was neither labelled ${access.file.label} nor assigned to Errand` };
    const issueId = d.data.id;
    const refuse = (why: string) => this.refuse(issueId, why);
    const user = d.actor && access.user(d.actor.id, 'tasks:write');
    if (!user) return refuse(`whoever ${labelAdded ? 'labelled' : 'assigned'} ${d.data.identifier} is not one of the people this Errand takes tasks from; its operator can add their Linear user id to ERRAND_LINEAR_CONFIG`);
    const issue = await issues.read(issueId, MAX_COMMENTS);
    const team = access.team(issue.teamKey);
    if (!team) return refuse(`issues of team ${issue.teamKey} have no repository in ERRAND_LINEAR_CONFIG; its operator can map the team to one`);
    const prompt = this.promptOf(issue);
    if (CONTROL.test(prompt)) return refuse('the issue holds control characters; edit it to plain text and label it again');
    const resolved = await this.forge.resolveRepository(team.repo);
    if ('field' in resolved) return refuse(`team ${issue.teamKey}'s repository cannot be used: ${resolved.message}`);

    const taskId = idFromKey(`linear:${issueId}:${signed}`);
    const input = this.tasks.taskInput(taskId, {
      repo: resolved.repo,
      baseBranch: resolved.baseBranch,
      prompt,
      requester: user.requester,
      origin: { kind: 'linear', issueId, ...(Object.keys(team.states).length && { states: { pullRequest: team.states.pullRequest, done: team.states.done, failed: team.states.failed } }) },
    });
    try {
      await this.tasks.start(input, `linear:${signed}`, true, undefined, 'linear');
    } catch (err) {
      if (err instanceof HttpException && err.getStatus() < 500) return refuse(problemText(err));
      throw err;
    }
    await this.storage.blobs.put(linearIssueKey(issueId), taskId);
    await this.audit.record({ actor: user.requester, via: 'webhook', action: 'linear.task_started', taskId, repo: resolved.repo, from: `linear ${issue.identifier}` });
    await issues.comment(issueId, issueComments.started({ taskId, url: this.taskUrl(taskId), repo: resolved.repo, requester: user.requester }));
    if (team.states.started) await issues.moveTo(issueId, team.states.started);
    return { status: 'task_started', detail: `${issue.identifier}: task ${taskId} on ${resolved.repo}`, taskId };
  }

  /** A comment that mentions Errand, on an issue whose task runs: a message for its agent. */
  private async commented(d: z.output<typeof CommentDelivery>): Promise<LinearOutcome> {
    const { body, issueId, userId } = d.data;
    if (!issueId || !userId) return { status: 'ignored', detail: 'a comment not on an issue, or not by a person' };
    if (userId === (await this.issues!.viewerId())) return { status: 'ignored', detail: "Errand's own comment" };
    if (!this.access!.mentions(body)) return { status: 'ignored', detail: `the comment does not mention ${this.access!.file.mention}` };
    const taskId = await this.storage.blobs.get(linearIssueKey(issueId));
    if (!taskId) return { status: 'ignored', detail: 'an issue without a task' };
    const user = this.access!.user(userId, 'tasks:control');
    if (!user) return this.refuse(issueId, `only the people this Errand's operator lets steer tasks can; the comment did not reach task ${taskId}`);
    if (CONTROL.test(body) || body.length > MAX_PROMPT) return this.refuse(issueId, `a message for the agent is plain text of at most ${MAX_PROMPT.toLocaleString('en')} characters`);
    try {
      const accepted = await this.control.sendMessage(taskId, { text: body, from: user.requester });
      await this.audit.record({ actor: user.requester, via: 'webhook', action: 'linear.message_sent', taskId, from: `linear comment ${d.data.id}` });
      await this.issues!.comment(issueId, issueComments.messageTaken(taskId, accepted.seq));
      return { status: 'message_sent', detail: `message #${accepted.seq} to task ${taskId}`, taskId };
    } catch (err) {
      if (err instanceof HttpException && err.getStatus() < 500) return this.refuse(issueId, `task ${taskId} cannot take messages now: ${problemText(err)}`);
      throw err;
    }
  }

  /** Title, description and the last comments, redacted and bounded: what the agent is asked. */
  private promptOf(issue: Awaited<ReturnType<LinearIssues['read']>>): string {
    const comments = issue.comments.map((c) => `> ${c.userId ?? 'someone'}: ${c.body.replace(/\n/g, '\n> ')}`);
    const text = [
      issue.title,
      issue.description ?? '',
      comments.length ? `Comments on the issue (the ${comments.length} most recent):\n${comments.join('\n')}` : '',
      `(Linear issue ${issue.identifier})`,
    ]
      .filter(Boolean)
      .join('\n\n');
    const bounded = text.length > MAX_PROMPT ? `${text.slice(0, MAX_PROMPT)}\n…(cut: the issue is longer than ${MAX_PROMPT.toLocaleString('en')} characters)` : text;
    return this.redactor.redact(bounded);
  }

  private async refuse(issueId: string, why: string): Promise<LinearOutcome> {
    await this.issues!.comment(issueId, issueComments.refused(why));
    return { status: 'refused', detail: why };
  }

  private taskUrl(taskId: string): string | undefined {
    return this.config.api.publicUrl ? `${this.config.api.publicUrl.replace(/\/$/, '')}/console#/tasks/${taskId}` : undefined;
  }

  private counted(outcome: LinearOutcome): LinearOutcome {
    this.metrics.linearDeliveries.inc({ result: outcome.status });
    return outcome;
  }
}


function invalid(error: z.ZodError): BadRequestException {
  return new BadRequestException({ message: `not an issue delivery Errand can read: ${z.prettifyError(error).replace(/\n/g, '; ')}`, issues: error.issues.map((i) => ({ field: i.path.join('.'), message: i.message })) });
}


