// A body the JSON parser could not take (not JSON, too large, an encoding it does not know)
// is answered like every other bad input: the API's error shape, naming the body and the fix.
// Everything else goes to Nest's own handling, which never shows a stack trace.
import { STATUS_CODES, type ServerResponse } from 'node:http';
import { type ArgumentsHost, Catch, HttpException } from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';

/** What the JSON body parser takes (apps/api/server.ts). */
export const JSON_BODY_LIMIT = '1mb';

const FIXES: Record<string, (cause: Error) => string> = {
  'entity.parse.failed': (cause) => `not valid JSON (${cause.message}); send a JSON object`,
  'entity.too.large': () => `larger than ${JSON_BODY_LIMIT.toUpperCase().replace('MB', ' MB')}; send less (a long text belongs in the repository)`,
  'encoding.unsupported': (cause) => `${cause.message}; send UTF-8`,
  'charset.unsupported': (cause) => `${cause.message}; send UTF-8`,
};

@Catch()
export class BodyErrorsFilter extends BaseExceptionFilter {
  override catch(exception: unknown, host: ArgumentsHost): void {
    const cause = exception instanceof HttpException ? (exception.cause as (Error & { type?: string }) | undefined) : undefined;
    const fix = cause?.type ? FIXES[cause.type] : undefined;
    if (!fix || !(exception instanceof HttpException)) return super.catch(exception, host);
    const status = exception.getStatus();
    const message = fix(cause!);
    const res = host.switchToHttp().getResponse<ServerResponse>();
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify({ statusCode: status, error: STATUS_CODES[status], message: `body: ${message}`, issues: [{ field: 'body', message }] }));
  }
}
