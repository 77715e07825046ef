// Who did what, when and from where: every task start, message, pause, resume, approval and
// cancel, every schedule change, and the tasks webhooks start or steer. One record per act in a
// log of its day (storage's append-only logs: any API replica appends, none interleaves), and
// one structured log line. GET /audit reads them back, newest first.
import { readdir, readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../../logger.js';
import { AUDIT, auditLog } from '../../../lib/storage/keys.js';
import { appendAudit, type AuditEntry } from '../../../lib/storage/audit.js';
import type { LogRecord, LogStore } from '../../../lib/storage/storage.js';

export type { AuditEntry };

export interface AuditQuery {
  since?: Date;
  actor?: string;
  task?: string;
  limit: number;
}

export class AuditLog {
  constructor(
    private readonly logs: LogStore,
    private readonly log: Logger,
  ) {}

  async record(entry: Omit<AuditEntry, 'id' | 'at'>): Promise<AuditEntry> {
    const full = await appendAudit(this.logs, entry);
    this.log.info({ audit: full }, `audit: ${full.actor} ${full.action}${full.taskId ? ` task ${full.taskId}` : ''}${full.scheduleId ? ` schedule ${full.scheduleId}` : ''}`);
    return full;
  }

  /** Entries matching `q`, newest first (days before `since` are not read). */
  async query(q: AuditQuery): Promise<AuditEntry[]> {
    const sinceDay = q.since?.toISOString().slice(0, 10);
    const days = (await this.logs.logs(AUDIT)).filter((name) => !sinceDay || name.slice(AUDIT.length + 1) >= sinceDay);
    const entries: AuditEntry[] = [];
    for (const day of days) {
      for (const { record: e } of await this.logs.tail<AuditEntry & LogRecord>(day).next()) {
        if (q.since && e.at < q.since.toISOString()) continue;
        if (q.actor && e.actor !== q.actor) continue;
        if (q.task && e.taskId !== q.task) continue;
        entries.push(e);
      }
    }
    return entries.sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0)).slice(0, q.limit);
  }

  /**
   * Moves an audit trail kept the way Errand kept it before (a file per day and process in
   * `dir`) into the logs, once: each entry keeps its id, so a move run twice (two replicas at
   * once) adds nothing; the directory is renamed when done.
   */
  async adopt(dir: string): Promise<void> {
    const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.jsonl'));
    if (!files.length) return;
    for (const file of files) {
      const entries = (await readFile(path.join(dir, file), 'utf8'))
        .split('\n')
        .filter((line) => line.trim())
        .flatMap((line) => {
          try {
            return [JSON.parse(line) as AuditEntry & LogRecord];
          } catch {
            return [];
          }
        });
      if (entries.length) await this.logs.append(auditLog(file.slice(0, 10)), entries);
    }
    await rename(dir, `${dir}.moved`).catch(() => undefined);
    this.log.info({ from: dir, files: files.length }, 'moved the audit trail into storage');
  }
}
