// POST /webhooks/slack/events and /webhooks/slack/actions: the Slack app's Request URLs for the
// Events API and for interactivity. Bodies arrive raw (server.ts), so the signature is checked
// on exactly the bytes Slack signed; Slack gets its answer within its three seconds, and what was
// asked is acted on after (apps/api/slack/slack.service.ts).
import type { IncomingMessage } from 'node:http';
import { Controller, HttpCode, Inject, Post, Req } from '@nestjs/common';
import { Answers } from '../openapi/document.js';
import { SlackAnswer } from '../openapi/responses.js';
import { JSON_BODY_LIMIT_TEXT } from '../problems/problem-details.js';
import { SlackService } from './slack.service.js';

const ANSWERS = {
  ok: { description: "what Slack is answered: a URL verification's challenge, an acknowledgement, or that the request was handled already", schema: SlackAnswer },
  problems: {
    400: 'a body that is no Slack event (JSON) or interaction (a form with payload=<JSON>)',
    401: "not signed with the Slack app's signing secret, or signed more than five minutes ago (or Slack is off on this server)",
    413: `a body over ${JSON_BODY_LIMIT_TEXT}`,
  },
  open: true,
} as const;

@Controller('webhooks/slack')
export class SlackController {
  constructor(@Inject(SlackService) private readonly slack: SlackService) {}

  @Post('events')
  @HttpCode(200)
  @Answers({ summary: 'Slack Events API: mentions start tasks, replies in their threads steer them', description: 'Authenticated by X-Slack-Signature over the timestamp and exact body, not by a token.', ...ANSWERS })
  events(@Req() req: IncomingMessage & { body?: unknown }) {
    return this.slack.handle(Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0), req.headers);
  }

  @Post('actions')
  @HttpCode(200)
  @Answers({ summary: "Slack interactivity: a plan's Approve and Cancel buttons", description: 'Authenticated by X-Slack-Signature over the timestamp and exact body, not by a token.', ...ANSWERS })
  actions(@Req() req: IncomingMessage & { body?: unknown }) {
    return this.slack.handle(Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0), req.headers);
  }
}
