// What an API refusal says, in words, for places that pass it on to a person instead of an HTTP
// client (a Slack thread, a Linear comment).
import type { HttpException } from '@nestjs/common';

export function problemText(err: HttpException): string {
  const response = err.getResponse();
  const message = typeof response === 'string' ? response : (response as { message?: unknown }).message;
  return Array.isArray(message) ? message.join('; ') : String(message ?? err.message);
}
