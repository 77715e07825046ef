// One record of the audit trail, and how any process (an API replica, a worker) appends it:
// to the log of its day in storage, where appends from many writers never interleave.
import { randomUUID } from 'node:crypto';
import { auditLog } from './keys.js';
import type { LogRecord, LogStore } from './storage.js';

export interface AuditEntry {
  id: string;
  at: string;
  /** A token's name, `github:<login>` for a webhook's sender, `agent` for the task's agent, or what an unauthenticated caller said (`by`), else `anonymous`. */
  actor: string;
  /** How the actor was known: a token, a signed webhook delivery, the task it works on, or only its own word. */
  via: 'token' | 'webhook' | 'agent' | 'unauthenticated';
  action: string;
  taskId?: string;
  scheduleId?: string;
  campaignId?: string;
  /** The repository acted on, for an act on a repository itself (its kept environment). */
  repo?: string;
  /** The webhook delivery, the caller's address, or (for the agent) the MCP server and tool. */
  from: string;
}

export async function appendAudit(logs: LogStore, entry: Omit<AuditEntry, 'id' | 'at'>): Promise<AuditEntry> {
  const full: AuditEntry = { id: randomUUID(), at: new Date().toISOString(), ...entry };
  await logs.append(auditLog(full.at.slice(0, 10)), [full as AuditEntry & LogRecord]);
  return full;
}
