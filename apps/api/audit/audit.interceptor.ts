// Records the acts routes declare in @Answers (`audit: 'task.pause'`) once they succeed: who (the
// token's name; without tokens, the `by`/`from`/`requester` the caller gave, marked as its own
// word), the task or schedule, and the caller's address. A refused or failed request is no act.
import type { IncomingMessage } from 'node:http';
import { Inject, Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { from, mergeMap, type Observable } from 'rxjs';
import type { ApiToken } from '../auth/api-tokens.js';
import { auditOf } from '../openapi/document.js';
import { AUDIT } from '../tokens.js';
import type { AuditLog } from './audit-log.js';

type Request = IncomingMessage & { errandToken?: ApiToken; body?: Record<string, unknown>; params?: Record<string, string>; ip?: string };

@Injectable()
export class AuditInterceptor implements NestInterceptor {
  constructor(@Inject(AUDIT) private readonly audit: AuditLog) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const action = auditOf(context.getHandler());
    if (!action) return next.handle();
    const req = context.switchToHttp().getRequest<Request>();
    return next.handle().pipe(
      mergeMap((result: unknown) =>
        from(
          (async () => {
            const said = [req.body?.by, req.body?.from, req.body?.requester].find((v): v is string => typeof v === 'string');
            const id = req.params?.id ?? (result as { id?: string } | undefined)?.id;
            await this.audit.record({
              actor: req.errandToken?.name ?? said ?? 'anonymous',
              via: req.errandToken ? 'token' : 'unauthenticated',
              action,
              ...(action.startsWith('schedule.') ? { scheduleId: id } : action.startsWith('campaign.') ? { campaignId: id } : req.params?.repo ? { repo: req.params.repo } : { taskId: id }),
              from: req.ip ?? req.socket.remoteAddress ?? 'unknown',
            });
            return result;
          })(),
        ),
      ),
    );
  }
}
