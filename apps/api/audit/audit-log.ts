// Who did what, when and from where: every task start, message, pause, resume, approval and
// cancel, every schedule change, and the tasks webhooks start or steer. One JSON line per act, in
// files under the state directory (on the shared volume in a deployment: each API process
// appends to its own file, so replicas never interleave a line), and one structured log line.
// GET /audit reads them back, newest first.
import { randomUUID } from 'node:crypto';
import { appendFile, mkdir, readdir, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from '../../logger.js';

export interface AuditEntry {
  id: string;
  at: string;
  /** A token's name, `github:<login>` for a webhook's sender, or what an unauthenticated caller said (`by`), else `anonymous`. */
  actor: string;
  /** How the actor was known: a token, a signed webhook delivery, or only its own word. */
  via: 'token' | 'webhook' | 'unauthenticated';
  action: string;
  taskId?: string;
  scheduleId?: string;
  /** The webhook delivery, or the caller's address. */
  from: string;
}

export interface AuditQuery {
  since?: Date;
  actor?: string;
  task?: string;
  limit: number;
}

export class AuditLog {
  /** This process's file of each day. */
  private readonly instance = `${os.hostname()}.${process.pid}`;

  constructor(
    private readonly dir: string,
    private readonly log: Logger,
  ) {}

  async record(entry: Omit<AuditEntry, 'id' | 'at'>): Promise<AuditEntry> {
    const full: AuditEntry = { id: randomUUID(), at: new Date().toISOString(), ...entry };
    await mkdir(this.dir, { recursive: true });
    await appendFile(path.join(this.dir, `${full.at.slice(0, 10)}.${this.instance}.jsonl`), `${JSON.stringify(full)}\n`);
    this.log.info({ audit: full }, `audit: ${full.actor} ${full.action}${full.taskId ? ` task ${full.taskId}` : ''}${full.scheduleId ? ` schedule ${full.scheduleId}` : ''}`);
    return full;
  }

  /** Entries matching `q`, newest first (days before `since` are not read). */
  async query(q: AuditQuery): Promise<AuditEntry[]> {
    const files = await readdir(this.dir).catch(() => [] as string[]);
    const sinceDay = q.since?.toISOString().slice(0, 10);
    const days = files.filter((f) => f.endsWith('.jsonl') && (!sinceDay || f.slice(0, 10) >= sinceDay));
    const entries: AuditEntry[] = [];
    for (const file of days) {
      for (const line of (await readFile(path.join(this.dir, file), 'utf8')).split('\n')) {
        if (!line) continue;
        const e = JSON.parse(line) as AuditEntry;
        if (q.since && e.at < q.since.toISOString()) continue;
        if (q.actor && e.actor !== q.actor) continue;
        if (q.task && e.taskId !== q.task) continue;
        entries.push(e);
      }
    }
    return entries.sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0)).slice(0, q.limit);
  }
}
