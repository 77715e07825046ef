// GET /audit?since=&actor=&task=&limit=: the audit log (audit-log.ts), newest first; admin only.
import { Controller, Get, Inject, Query } from '@nestjs/common';
import { z } from 'zod';
import { Answers } from '../openapi/document.js';
import { ZodPipe } from '../tasks/task-request.js';
import { AUDIT } from '../tokens.js';
import type { AuditLog } from './audit-log.js';

const AuditQuery = z.strictObject({
  since: z.iso.datetime({ offset: true, error: 'an ISO 8601 time, e.g. 2026-11-28T09:00:00Z' }).optional(),
  actor: z.string().trim().min(1).max(200).optional(),
  task: z.string().regex(/^[a-z0-9-]{1,64}$/, 'a task id').optional(),
  limit: z.coerce.number().int().min(1).max(1_000).default(100),
});
type AuditQuery = z.infer<typeof AuditQuery>;

const AuditEntries = z
  .object({
    entries: z.array(
      z.object({ id: z.string(), at: z.string(), actor: z.string(), via: z.enum(['token', 'webhook', 'agent', 'unauthenticated']), action: z.string(), taskId: z.string().optional(), scheduleId: z.string().optional(), campaignId: z.string().optional(), repo: z.string().optional(), from: z.string() }),
    ),
  })
  .meta({ id: 'AuditEntries' });

@Controller('audit')
export class AuditController {
  constructor(@Inject(AUDIT) private readonly audit: AuditLog) {}

  @Get()
  @Answers({ scope: 'admin', summary: 'Who did what, when and from where, newest first', ok: { description: 'the entries', schema: AuditEntries } })
  async list(@Query(new ZodPipe(AuditQuery, 'query')) q: AuditQuery) {
    return { entries: await this.audit.query({ ...q, since: q.since ? new Date(q.since) : undefined }) };
  }
}
