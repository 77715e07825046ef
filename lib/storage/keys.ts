// Where each thing Errand stores lives in Storage, in one place: every blob key and log name is
// built here, from ids that were validated or hashed, so a key cannot name a place outside its
// prefix (the store refuses one anyway). Blob keys are recorded in workflow history: a running
// task holds them, so they do not change.
import { createHash } from 'node:crypto';

const padded = (n: number) => String(n).padStart(6, '0');

/** A task's keys. */
export function taskKeys(taskId: string) {
  const root = `tasks/${taskId}`;
  return {
    /** The task's event log (a log, not a blob), tailed by GET /tasks/:id/events. */
    events: `${root}/events`,
    /** The conversation, one file per step. */
    transcript: `${root}/transcript`,
    transcriptStep: (step: number) => `${root}/transcript/${padded(step)}.json`,
    /** Large tool-call arguments (claim-check). The call's id is the model's: it is hashed. */
    toolArguments: (step: number, callId: string) => `${root}/tool-arguments/${padded(step)}-${createHash('sha256').update(callId).digest('hex').slice(0, 16)}.json`,
    log: (name: 'test' | 'setup' | 'postconditions' | 'change') => `${root}/${name}.log`,
    /** The repository's instructions for agents, as the base branch holds them. */
    instructions: `${root}/instructions.md`,
    /** The repository's `.errand/mcp.json`, as the base branch holds it. */
    repoMcp: `${root}/repo-mcp.json`,
    /** The MCP tools the task was offered at its first model call (activities/agent/mcp/mcp-tools.ts). */
    mcpTools: `${root}/mcp-tools.json`,
    reviewRound: (round: number) => `${root}/review/round-${round}.json`,
    diff: `${root}/diff.patch`,
    /** A report posted to where the task was asked for (`plan-1`, `pr`, `ended`): claimed, then the message. */
    originReport: (report: string) => `${root}/origin/${report}.json`,
  };
}

/** The task a Slack thread last started (its replies steer it). */
export const slackThreadKey = (channel: string, threadTs: string) => `slack/threads/${channel}/${threadTs.replace('.', '-')}`;
/** The task a Linear issue last started (a comment that mentions Errand steers it). */
export const linearIssueKey = (issueId: string) => `linear/issues/${issueId}`;
/** A signed Linear delivery, by the sha256 of its body: handled once. */
export const linearDeliveryKey = (bodySha256: string) => `linear/deliveries/${bodySha256}`;
/** A signed Slack request, by the sha256 of its body: handled once. */
export const slackRequestKey = (bodySha256: string) => `slack/requests/${bodySha256}`;

/** The audit trail of a day (a log), `YYYY-MM-DD` in UTC. */
export const auditLog = (day: string) => `${AUDIT}/${day}`;
export const AUDIT = 'audit';

/** A webhook event handled (or being handled), known by the sha256 of its signed body. */
export const webhookEventKey = (bodySha256: string) => `webhooks/github/events/${bodySha256}`;
