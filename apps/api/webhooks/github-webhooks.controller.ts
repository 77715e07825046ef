// POST /webhooks/github: the raw body reaches the service unparsed (the JSON parser skips this
// path), so the signature is checked on exactly the bytes GitHub signed.
import type { IncomingMessage } from 'node:http';
import { Controller, HttpCode, Inject, Post, Req, PayloadTooLargeException } from '@nestjs/common';
import { GitHubWebhooksService } from './github-webhooks.service.js';
import { Answers } from '../openapi/document.js';
import { OVER_DAILY_BUDGET, WebhookResult } from '../openapi/responses.js';
import type { ApiMetrics } from '../metrics/api-metrics.js';
import { AUDIT, METRICS } from '../tokens.js';
import type { AuditLog } from '../audit/audit-log.js';

const KNOWN_EVENTS = ['issues', 'issue_comment', 'pull_request_review', 'pull_request_review_comment', 'ping'];

/** GitHub caps payloads at 25 MB. */
const MAX_PAYLOAD_BYTES = 25 * 1024 * 1024;

@Controller('webhooks')
export class GitHubWebhooksController {
  constructor(
    @Inject(GitHubWebhooksService) private readonly webhooks: GitHubWebhooksService,
    @Inject(METRICS) private readonly metrics: ApiMetrics,
    @Inject(AUDIT) private readonly audit: AuditLog,
  ) {}

  @Post('github')
  @HttpCode(202)
  @Answers({
    summary: 'GitHub webhooks (issues, comments, reviews)',
    description: 'Authenticated by X-Hub-Signature-256 over the exact body, not by a token.',
    ok: { description: 'what was done with the delivery', schema: WebhookResult },
    problems: { 400: 'a stale, malformed or unsigned delivery', 401: 'the signature does not match', 413: 'a payload over 25 MB', 429: `${OVER_DAILY_BUDGET}; the requester is the delivery's sender` },
    open: true,
  })
  async github(@Req() req: IncomingMessage) {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_PAYLOAD_BYTES) throw new PayloadTooLargeException('webhook payloads are at most 25 MB');
      chunks.push(chunk);
    }
    // The event header is the sender's: only the events Errand knows become a label.
    const header = String(req.headers['x-github-event'] ?? '');
    const event = KNOWN_EVENTS.includes(header) ? header : 'other';
    try {
      const outcome = await this.webhooks.handle(Buffer.concat(chunks), req.headers);
      this.metrics.webhookDeliveries.inc({ event, result: outcome.status });
      if (outcome.sender && (outcome.status === 'task_started' || outcome.status === 'feedback_sent')) {
        await this.audit.record({ actor: `github:${outcome.sender}`, via: 'webhook', action: `webhook.${outcome.status}`, taskId: outcome.taskId, from: `delivery ${String(req.headers['x-github-delivery'])}` });
      }
      return outcome;
    } catch (err) {
      this.metrics.webhookDeliveries.inc({ event, result: 'refused' });
      throw err;
    }
  }
}
