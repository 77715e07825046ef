// One structured log line per event, JSON on stdout; carry `taskId` wherever there is one.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, name = 'errand'): Logger {
  return pino({ name, level, base: { pid: process.pid } });
}
