// Bearer-token authentication and scopes, when ERRAND_API_TOKENS_FILE names tokens (api-tokens.ts):
// every route needs a token with the scope it declares in @Answers (admin when it declares none),
// but those that declare themselves open (health probes; webhooks, which carry their own
// signature; the API's contract and problem types). 401 without a known token, 403 naming the
// scope it lacks. The token's name goes with the request as who acted (@Caller).
import type { IncomingMessage } from 'node:http';
import { createParamDecorator, ForbiddenException, Inject, Injectable, UnauthorizedException, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { Config } from '../../config.js';
import { isOpen, scopeOf } from '../openapi/document.js';
import { CONFIG } from '../tokens.js';
import { allows, hashToken, type ApiToken } from './api-tokens.js';

type WithToken = IncomingMessage & { errandToken?: ApiToken };

@Injectable()
export class ApiTokenGuard implements CanActivate {
  /** By hash: a token is looked up by its SHA-256, never compared in the clear. */
  private readonly byHash: Map<string, ApiToken>;

  constructor(@Inject(CONFIG) config: Config) {
    this.byHash = new Map(config.apiTokens.map((t) => [t.sha256, t]));
  }

  canActivate(context: ExecutionContext): boolean {
    if (this.byHash.size === 0) return true;
    const handler = context.getHandler();
    if (isOpen(handler)) return true;
    const req = context.switchToHttp().getRequest<WithToken>();
    const given = /^Bearer (\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const token = given ? this.byHash.get(hashToken(given)) : undefined;
    if (!token) throw new UnauthorizedException('send Authorization: Bearer <token>, with a token from ERRAND_API_TOKENS_FILE (`errand token create` makes one)');
    const needed = scopeOf(handler);
    if (!allows(token, needed)) throw new ForbiddenException(`token ${token.name} lacks the scope ${needed} (it has ${token.scopes.join(', ')}); ask for a token with ${needed}`);
    req.errandToken = token;
    return true;
  }
}

/** The name of the token the request came with: who acted (undefined on a server without tokens). */
export const Caller = createParamDecorator((_: unknown, context: ExecutionContext): string | undefined => context.switchToHttp().getRequest<WithToken>().errandToken?.name);
