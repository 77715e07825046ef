// Every error the API answers has one shape: RFC 9457 problem details (application/problem+json)
// with `type`, `title`, `status`, `detail`, and `issues` naming each offending field and its fix.
// Validation, authentication, unknown routes, bodies the JSON parser could not take, Temporal
// out of reach and Errand's own bugs alike; a stack trace never leaves the server (the log has it).
// Errand's own problem types are documented where their URI points (problem-types.controller.ts).
import { STATUS_CODES, type ServerResponse } from 'node:http';
import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, Inject, NotFoundException } from '@nestjs/common';
import { isGrpcServiceError } from '@temporalio/client';
import type { Logger } from '../../logger.js';
import { LOGGER, OPENAPI } from '../tokens.js';

/** What the JSON body parser takes (apps/api/server.ts). */
export const JSON_BODY_LIMIT = '1mb';
/** The same, as people write it: 1 MB. */
export const JSON_BODY_LIMIT_TEXT = JSON_BODY_LIMIT.toUpperCase().replace('MB', ' MB');

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** Errand's own problem types (a URI reference relative to the API), and what each means. */
export const PROBLEM_TYPES = {
  'invalid-input': 'Invalid input: the request has fields that are missing, malformed or not allowed. `issues` lists each one as {field, message}, the message saying how to fix it; `field` is `body` when the body itself could not be read (not JSON, too large, not UTF-8). Fix them and send the request again.',
};
export const INVALID_INPUT = '/problems/invalid-input';

export interface Problem {
  /** A URI naming the kind of problem; `about:blank` when the status says it all. */
  type: string;
  title: string;
  status: number;
  /** What went wrong this time, and what to do about it. */
  detail: string;
  /** The offending fields, each with the fix (validation problems). */
  issues?: { field: string; message: string }[];
}

const BODY_FIXES: Record<string, (cause: Error) => string> = {
  'entity.parse.failed': (cause) => `not valid JSON (${cause.message}); send a JSON object`,
  'entity.too.large': () => `larger than ${JSON_BODY_LIMIT_TEXT}; send less (a long text belongs in the repository)`,
  'encoding.unsupported': (cause) => `${cause.message}; send UTF-8`,
  'charset.unsupported': (cause) => `${cause.message}; send UTF-8`,
};

/** gRPC codes that mean Temporal is out of reach or overloaded, not that the request was wrong. */
const TEMPORAL_BUSY = new Set([4 /* DEADLINE_EXCEEDED */, 8 /* RESOURCE_EXHAUSTED */, 14 /* UNAVAILABLE */]);

/** A problem with the given status: the title is the status's own phrase. */
export function problem(status: number, detail: string, issues?: Problem['issues']): Problem {
  return { type: issues?.length ? INVALID_INPUT : 'about:blank', title: issues?.length ? 'Invalid input' : (STATUS_CODES[status] ?? 'Error'), status, detail, ...(issues?.length && { issues }) };
}

@Catch()
export class ProblemDetailsFilter implements ExceptionFilter {
  constructor(
    @Inject(LOGGER) private readonly log: Logger,
    /** The API's document: which methods each path takes, for a 405 that says which (Allow). */
    @Inject(OPENAPI) private readonly document: () => { paths?: Record<string, Record<string, unknown> | undefined> },
  ) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<ServerResponse>();
    const { problem: body, headers } = this.wrongMethod(exception) ?? this.toProblem(exception);
    // A stream (GET /tasks/:id/events) that already answered can only be ended.
    if (res.headersSent) return void res.end();
    res.writeHead(body.status, { 'content-type': `${PROBLEM_CONTENT_TYPE}; charset=utf-8`, ...headers });
    res.end(JSON.stringify(body));
  }

  /** Nest's router answers 404 for a path it has under another method: that is a 405, with Allow. */
  private wrongMethod(exception: unknown): { problem: Problem; headers: Record<string, string> } | undefined {
    if (!(exception instanceof NotFoundException)) return undefined;
    const [, method, url] = /^Cannot (\w+) (\S+)$/.exec(exception.message) ?? [];
    if (!method || !url) return undefined;
    const pathname = new URL(url, 'http://api').pathname;
    for (const [template, operations] of Object.entries(this.document().paths ?? {})) {
      if (!new RegExp(`^${template.replace(/\{\w+\}/g, '[^/]+')}$`).test(pathname)) continue;
      const allowed = Object.keys(operations ?? {}).map((m) => m.toUpperCase());
      if (allowed.includes('GET')) allowed.push('HEAD');
      return { problem: problem(405, `${pathname} takes ${allowed.join(', ')}, not ${method}`), headers: { allow: allowed.join(', ') } };
    }
    return undefined;
  }

  private toProblem(exception: unknown): { problem: Problem; headers?: Record<string, string> } {
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const cause = exception.cause as (Error & { type?: string }) | undefined;
      const fix = cause?.type ? BODY_FIXES[cause.type] : undefined;
      if (fix) {
        const message = fix(cause!);
        return { problem: problem(status, `body: ${message}`, [{ field: 'body', message }]) };
      }
      const response = exception.getResponse();
      const given = typeof response === 'string' ? { message: response } : (response as { message?: unknown; issues?: Problem['issues']; headers?: Record<string, string> });
      const detail = Array.isArray(given.message) ? given.message.join('; ') : typeof given.message === 'string' ? given.message : exception.message;
      return { problem: problem(status, detail, given.issues), headers: given.headers };
    }
    const grpc = isGrpcServiceError(exception) ? exception : isGrpcServiceError((exception as Error | undefined)?.cause) ? ((exception as Error).cause as { code: number }) : undefined;
    if (grpc?.code === 3 /* INVALID_ARGUMENT */) {
      // Input that got past the API's own checks and that Temporal refuses (a limit the API does
      // not know of): the caller can change it; the log keeps it so the check can be added.
      this.log.warn({ err: exception }, 'Temporal refused a request as invalid');
      return { problem: problem(400, `Temporal refused this request: ${(exception as Error).message}; change what it names`) };
    }
    if (grpc && TEMPORAL_BUSY.has(grpc.code)) {
      this.log.warn({ err: exception }, 'Temporal did not answer a request');
      return { problem: problem(503, 'Temporal did not answer in time; try again in a few seconds (GET /health/ready tells when it is back)'), headers: { 'retry-after': '5' } };
    }
    this.log.error({ err: exception }, 'unexpected error answering a request');
    return { problem: problem(500, "Errand failed to answer this request; the server's log has the details") };
  }
}
