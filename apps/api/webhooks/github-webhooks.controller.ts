// POST /webhooks/github: the body reaches the service as raw bytes (server.ts reads it for this
// path with the raw parser, bounded like every body), so the signature is checked on exactly the
// bytes GitHub signed.
import type { IncomingMessage } from 'node:http';
import { Controller, HttpCode, Inject, Post, Req } from '@nestjs/common';
import { GitHubWebhooksService } from './github-webhooks.service.js';
import { Answers } from '../openapi/document.js';
import { OVER_DAILY_BUDGET, WebhookResult } from '../openapi/responses.js';
import { JSON_BODY_LIMIT_TEXT } from '../problems/problem-details.js';
import type { ApiMetrics } from '../metrics/api-metrics.js';
import { AUDIT, METRICS } from '../tokens.js';
import type { AuditLog } from '../audit/audit-log.js';

const KNOWN_EVENTS = ['issues', 'issue_comment', 'pull_request_review', 'pull_request_review_comment', 'ping'];

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
    problems: {
      400: 'a stale or malformed delivery: not a JSON object, nested too deep, or an event Errand acts on with a field missing, malformed, longer than GitHub allows, or (what would become a task) holding control characters; `issues` names each',
      401: 'the signature does not match',
      413: `a body over ${JSON_BODY_LIMIT_TEXT}, refused before it is parsed or verified: \`issues\` names \`body\``,
      429: `${OVER_DAILY_BUDGET}; the requester is the delivery's sender`,
    },
    open: true,
  })
  async github(@Req() req: IncomingMessage & { body?: unknown }) {
    // No body at all: the raw parser leaves none, and the signature of nothing does not match.
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    // The event header is the sender's: only the events Errand knows become a label.
    const header = String(req.headers['x-github-event'] ?? '');
    const event = KNOWN_EVENTS.includes(header) ? header : 'other';
    try {
      const outcome = await this.webhooks.handle(raw, req.headers);
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
