// One structured log line per event, JSON on stdout; carry `taskId` wherever there is one.
// Every line passes through the redactor, so a configured secret never reaches a log.
import { pino, type Logger } from 'pino';
import { Redactor } from '../lib/storage/redactor.js';

export type { Logger };

export function createLogger(level: string, secrets: string[] = [], name = 'errand'): Logger {
  const redactor = new Redactor(secrets);
  return pino({ name, level, base: { pid: process.pid }, hooks: { streamWrite: (line) => redactor.redact(line) } });
}
