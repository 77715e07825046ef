// POST /webhooks/linear: the Linear webhook's URL. The body arrives raw (server.ts), so the
// signature is checked on exactly the bytes Linear signed (apps/api/linear/linear.service.ts).
import type { IncomingMessage } from 'node:http';
import { Controller, HttpCode, Inject, Post, Req } from '@nestjs/common';
import { Answers } from '../openapi/document.js';
import { WebhookResult } from '../openapi/responses.js';
import { JSON_BODY_LIMIT_TEXT } from '../problems/problem-details.js';
import { LinearService } from './linear.service.js';

@Controller('webhooks')
export class LinearController {
  constructor(@Inject(LinearService) private readonly linear: LinearService) {}

  @Post('linear')
  @HttpCode(200)
  @Answers({
    summary: 'Linear webhooks: a labelled or assigned issue starts a task, a comment that mentions Errand steers it',
    description: "Authenticated by the linear-signature header over the exact body, with the body's webhookTimestamp within a minute, not by a token.",
    ok: { description: 'what was done with the delivery', schema: WebhookResult },
    problems: {
      400: 'an issue delivery without the fields Errand reads; `issues` names each',
      401: "not signed with the webhook's secret, or its webhookTimestamp is more than a minute away (or Linear is off on this server)",
      413: `a body over ${JSON_BODY_LIMIT_TEXT}`,
    },
    open: true,
  })
  linearDelivery(@Req() req: IncomingMessage & { body?: unknown }) {
    return this.linear.handle(Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0), req.headers);
  }
}
