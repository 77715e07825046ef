// Bearer-token authentication for the API when ERRAND_API_TOKENS is set: every route needs one of
// the tokens but those that declare themselves open in @Answers (health probes, webhooks, which
// carry their own signature, and the API's contract and problem types); a route that says
// nothing is guarded.
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Inject, Injectable, UnauthorizedException, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { Config } from '../../config.js';
import { isOpen } from '../openapi/document.js';
import { CONFIG } from '../tokens.js';

@Injectable()
export class ApiTokenGuard implements CanActivate {
  private readonly tokens: Buffer[];

  constructor(@Inject(CONFIG) config: Config) {
    this.tokens = config.apiTokens.map((t) => Buffer.from(t));
  }

  canActivate(context: ExecutionContext): boolean {
    if (this.tokens.length === 0) return true;
    if (isOpen(context.getHandler())) return true;
    const req = context.switchToHttp().getRequest<IncomingMessage>();
    const given = Buffer.from(/^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? '');
    if (this.tokens.some((t) => t.length === given.length && timingSafeEqual(t, given))) return true;
    throw new UnauthorizedException('send Authorization: Bearer <token>, with one of the tokens in ERRAND_API_TOKENS');
  }
}
