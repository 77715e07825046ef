// POST /webhooks/github: the raw body reaches the service unparsed (the JSON parser skips this
// path), so the signature is checked on exactly the bytes GitHub signed.
import type { IncomingMessage } from 'node:http';
import { Controller, HttpCode, Inject, Post, Req, PayloadTooLargeException } from '@nestjs/common';
import { GitHubWebhooksService } from './github-webhooks.service.js';

/** GitHub caps payloads at 25 MB. */
const MAX_PAYLOAD_BYTES = 25 * 1024 * 1024;

@Controller('webhooks')
export class GitHubWebhooksController {
  constructor(@Inject(GitHubWebhooksService) private readonly webhooks: GitHubWebhooksService) {}

  @Post('github')
  @HttpCode(202)
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
