// Bearer-token authentication, scopes and repository allowlists, when ERRAND_API_TOKENS_FILE names
// tokens (api-tokens.ts): every route needs a token with the scope it declares in @Answers (admin
// when it declares none), but those that declare themselves open (health probes; webhooks, which
// carry their own signature; the API's contract and problem types). 401 without a known token,
// 403 naming the scope it lacks. The token's name goes with the request as who acted (@Caller).
//
// A token limited to some repositories may use only routes that declare where their repository
// comes from (`repoFrom`); any other route (metrics, which span every repository) refuses it, so a
// new route is closed to it until it says. Every repository is compared with the allowlist as
// the forge names it (Forge.nameOf, without asking anyone): GitHub's owner/name, or where a
// local path really leads (a link, a `.git` gitfile), never the name as given. One the caller
// names (body, query) outside it is refused with a 403 naming what the caller gave (not where it
// leads: that would tell of other repositories); a task or schedule of another repository answers
// the very 404 an unknown id does (a 403 would confirm it exists and name its repository); lists
// hold only its repositories' entries (@Visible).
import type { IncomingMessage } from 'node:http';
import { createParamDecorator, ForbiddenException, Inject, Injectable, UnauthorizedException, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { Forge } from '../../../lib/forge/forge.js';
import type { Config } from '../../config.js';
import { isOpen, repoSourcesOf, scopeOf, type RepoSource } from '../openapi/document.js';
import { scheduleNotFound, SchedulesService } from '../schedules/schedules.service.js';
import { taskNotFound } from '../tasks/task-gateway.js';
import { TaskReading } from '../tasks/task-reading.js';
import { CONFIG, FORGE } from '../tokens.js';
import { allows, hashToken, repoAllowed, type ApiToken } from './api-tokens.js';

type WithToken = IncomingMessage & {
  errandToken?: ApiToken;
  /** Whether the token may see a repository's entries in a list (set for a token limited to some). */
  errandVisible?: (repo: string | undefined) => boolean;
  body?: unknown;
  query?: unknown;
  params?: Record<string, string>;
};

@Injectable()
export class ApiTokenGuard implements CanActivate {
  /** By hash: a token is looked up by its SHA-256, never compared in the clear. */
  private readonly byHash: Map<string, ApiToken>;

  constructor(
    @Inject(CONFIG) config: Config,
    @Inject(FORGE) private readonly forge: Forge,
    @Inject(TaskReading) private readonly tasks: TaskReading,
    @Inject(SchedulesService) private readonly schedules: SchedulesService,
  ) {
    this.byHash = new Map(config.apiTokens.map((t) => [t.sha256, t]));
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (this.byHash.size === 0) return true;
    const handler = context.getHandler();
    if (isOpen(handler)) return true;
    const req = context.switchToHttp().getRequest<WithToken>();
    const given = /^Bearer (\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const token = given ? this.byHash.get(hashToken(given)) : undefined;
    if (!token) throw new UnauthorizedException('send Authorization: Bearer <token>, with a token from ERRAND_API_TOKENS_FILE (`errand token create` makes one)');
    const needed = scopeOf(handler);
    if (!allows(token, needed)) throw new ForbiddenException(`token ${token.name} lacks the scope ${needed} (it has ${token.scopes.join(', ')}); ask for a token with ${needed}`);
    if (token.repos) {
      await this.checkRepositories(token, repoSourcesOf(handler), req);
      req.errandVisible = (repo) => repo !== undefined && this.allowed(token, repo);
    }
    req.errandToken = token;
    return true;
  }

  /** Whether `token` may act on `repo`, as the forge names it: where it really is, for a local one. */
  private allowed(token: ApiToken, repo: string): boolean {
    return repoAllowed(token, this.forge.nameOf(repo) ?? repo);
  }

  /**
   * Throws unless `token` may act on the repository each source names. Input the handler will
   * refuse anyway (no repo, an id with no task) passes, so the caller hears the handler's own
   * 400 or 404; a repository outside the allowlist is a 403 before anything probes it.
   */
  private async checkRepositories(token: ApiToken, sources: RepoSource[], req: WithToken): Promise<void> {
    if (sources.length === 0) throw new ForbiddenException(`token ${token.name} may act only on some repositories (${token.repos!.join(', ')}), and this route spans every repository; use a token without a repository allowlist`);
    const id = req.params?.id;
    for (const source of sources) {
      if (source === 'none') continue;
      if (source === 'body' || source === 'query' || source === 'path') {
        const given = (source === 'body' ? req.body : source === 'query' ? req.query : req.params) as { repo?: unknown; baseBranch?: unknown } | undefined;
        if (typeof given?.repo !== 'string') continue;
        // Compared as the handler will name it, worked out without asking anyone: a repository
        // this token may not name is never probed.
        const repo = given.repo.trim();
        if (!this.allowed(token, repo)) throw new ForbiddenException(`token ${token.name} may not act on ${repo}; it may act on ${token.repos!.join(', ')}`);
      } else if (source === 'task' && id) {
        // A recorded name is compared by where it leads now too (a task started before names were resolved).
        const repo = await this.tasks.repoOf(id);
        if (repo !== undefined && !this.allowed(token, repo)) throw taskNotFound(id);
      } else if (source === 'schedule' && id) {
        const schedule = await this.schedules.repoOf(id);
        if (schedule && (schedule.repo === undefined || !this.allowed(token, schedule.repo))) throw scheduleNotFound(id);
      }
    }
  }
}

/** The name of the token the request came with: who acted (undefined on a server without tokens). */
export const Caller = createParamDecorator((_: unknown, context: ExecutionContext): string | undefined => context.switchToHttp().getRequest<WithToken>().errandToken?.name);

/** The token the request came with (undefined on a server without tokens). */
export const CallerToken = createParamDecorator((_: unknown, context: ExecutionContext): ApiToken | undefined => context.switchToHttp().getRequest<WithToken>().errandToken);

/** Which repositories' entries the caller may see in a list: all, unless its token is limited to some (the guard says which). */
export const Visible = createParamDecorator((_: unknown, context: ExecutionContext): ((repo: string | undefined) => boolean) => {
  const req = context.switchToHttp().getRequest<WithToken>();
  return req.errandVisible ?? (req.errandToken?.repos ? () => false : () => true);
});
