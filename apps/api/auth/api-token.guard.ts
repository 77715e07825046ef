// Bearer-token authentication for the API when ERRAND_API_TOKENS is set: every route but the
// health probes, the webhooks (which carry their own signature) and the problem types' pages
// needs one of the tokens.
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Inject, Injectable, UnauthorizedException, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { Config } from '../../config.js';
import { CONFIG } from '../tokens.js';

const OPEN = /^\/(health|webhooks|problems)\//;

@Injectable()
export class ApiTokenGuard implements CanActivate {
  private readonly tokens: Buffer[];

  constructor(@Inject(CONFIG) config: Config) {
    this.tokens = config.apiTokens.map((t) => Buffer.from(t));
  }

  canActivate(context: ExecutionContext): boolean {
    if (this.tokens.length === 0) return true;
    const req = context.switchToHttp().getRequest<IncomingMessage>();
    if (OPEN.test(req.url ?? '')) return true;
    const given = Buffer.from(/^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? '');
    if (this.tokens.some((t) => t.length === given.length && timingSafeEqual(t, given))) return true;
    throw new UnauthorizedException('send Authorization: Bearer <token>, with one of the tokens in ERRAND_API_TOKENS');
  }
}
