// POST /webhooks/github: the raw body reaches the service unparsed (the JSON parser skips this
// path), so the signature is checked on exactly the bytes GitHub signed.
import type { IncomingMessage } from 'node:http';
import { Controller, HttpCode, Inject, Post, Req, PayloadTooLargeException } from '@nestjs/common';
import { GitHubWebhooksService } from './github-webhooks.service.js';
import { Answers } from '../openapi/document.js';
import { WebhookResult } from '../openapi/responses.js';

/** GitHub caps payloads at 25 MB. */
const MAX_PAYLOAD_BYTES = 25 * 1024 * 1024;

@Controller('webhooks')
export class GitHubWebhooksController {
  constructor(@Inject(GitHubWebhooksService) private readonly webhooks: GitHubWebhooksService) {}

  @Post('github')
  @HttpCode(202)
  @Answers({
    summary: 'GitHub webhooks (issues, comments, reviews)',
    description: 'Authenticated by X-Hub-Signature-256 over the exact body, not by a token.',
    ok: { description: 'what was done with the delivery', schema: WebhookResult },
    problems: { 400: 'a stale, malformed or unsigned delivery', 401: 'the signature does not match', 413: 'a payload over 25 MB' },
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
    return this.webhooks.handle(Buffer.concat(chunks), req.headers);
  }
}
