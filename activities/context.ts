// What every group of activities is built from: the providers the worker wires (tests pass real
// local ones, production Kubernetes and GitHub ones), plus the two things they all do: reach a
// sandbox and record a task's events.
import type { ModelClient } from './agent/model-client.js';
import type { Forge } from '../lib/forge/forge.js';
import { SandboxConnections } from './sandbox/connections.js';
import type { SandboxProvider } from './sandbox/provider.js';
import type { SandboxdClient } from './sandbox/sandboxd-client.js';
import { recordEvent } from '../lib/storage/events.js';
import type { Redactor } from '../lib/storage/redactor.js';
import type { BlobStore, LogRecord, Storage } from '../lib/storage/storage.js';
import { heartbeatingWhile } from './heartbeat.js';
import type { RepoLimits } from './git/transfer.js';
import type { Registries } from './dependencies/registries.js';
import type { AdmissionRequest } from '../workflows/contracts/admission.js';
import type { McpConnections } from './agent/mcp/connections.js';
import type { McpConfig } from './agent/mcp/servers.js';
import type { Secret } from '../lib/secrets/secrets.js';
import type { EnvironmentStore } from '../lib/environments/environment-store.js';
import type { LinearIssues } from '../lib/linear/linear-issues.js';
import type { SlackThreads } from '../lib/slack/slack-threads.js';

export interface ActivityDeps {
  sandboxes: SandboxProvider;
  /** What Temporal says of a workflow, for the reaper. */
  workflows?: { status(workflowId: string): Promise<'running' | 'closed' | 'unknown'> };
  /** A schedule's recent runs and how to pause it, for a schedule that pauses itself after failing runs. */
  schedules?: ScheduleControl;
  /** Asks the admission workflow for a lease; undefined when no limit or budget is set. */
  admission?: AdmissionGate;
  forge: Forge;
  /** Undefined when no model is configured: the API refuses tasks before they get here. */
  models: { coder?: ModelClient; reviewer?: ModelClient };
  /** Already redacting (storage.ts `redacting`): everything written here is safe to show. */
  storage: Storage;
  redactor: Redactor;
  limits: { setupTimeoutMs: number; repo: RepoLimits; environmentRefresh?: { maxRepos: number; usedWithinMs: number } };
  /** Where dependency bumps ask what is newer, and where the sandbox's package managers fetch from. */
  registries: Registries;
  /** Secrets scoped to setup or an MCP server (ERRAND_SECRETS_FILE); none when undefined. */
  scopedSecrets?: readonly Secret[];
  /** Where repositories' environments after setup are kept (ERRAND_ENVIRONMENT_CACHE); undefined: every task runs its setup. */
  environments?: EnvironmentStore;
  /** MCP servers the operator allows (ERRAND_MCP_CONFIG) and the worker's connections to them; undefined: none. */
  mcp?: { config: McpConfig; connections: McpConnections };
  /** Where tasks asked for outside the API report back: Slack threads (ERRAND_SLACK_*); undefined: none. */
  origins?: { slack?: SlackThreads; linear?: LinearIssues };
}

export interface AdmissionGate {
  /** Queues the task for a lease; the admission workflow signals it `admitted` when granted. */
  request(req: Omit<AdmissionRequest, 'limits'>): Promise<void>;
}

export interface ScheduleControl {
  /**
   * Counts a run's outcome on its schedule, in the schedule itself (one atomic update): a failure
   * adds one to the failures in a row, a success resets them; at `maxFailures` the schedule is
   * paused with `reason` in its note. Returns the count; nothing when the schedule is gone.
   */
  recordRun(temporalScheduleId: string, outcome: { failed: boolean; reason?: string }): Promise<{ failuresInARow: number; paused: boolean } | undefined>;
}

export interface ActivityContext extends ActivityDeps {
  /** storage.blobs: transcripts, tool arguments, logs, diffs. */
  blobs: BlobStore;
  connections: SandboxConnections;
  /** sandboxd of `sandboxId`, its calls cancelled with `signal`. */
  connect(sandboxId: string, signal?: AbortSignal): Promise<SandboxdClient>;
  /** Appends to the task's event log (GET /tasks/:id/events), several events in one write. */
  event(taskId: string, ...events: Parameters<typeof recordEvent>[2][]): Promise<void>;
}

export function activityContext(deps: ActivityDeps): ActivityContext {
  const connections = new SandboxConnections(deps.sandboxes);
  const storage = heartbeating(deps.storage);
  return {
    ...deps,
    storage,
    blobs: storage.blobs,
    connections,
    connect: (sandboxId, signal) => connections.client(sandboxId, signal),
    event: (taskId, ...events) => recordEvent(storage.logs, taskId, ...events),
  };
}

/** `storage` whose every call heartbeats while it waits: object storage away for a while is waited out, not taken for a dead worker. */
function heartbeating(storage: Storage): Storage {
  const { blobs, logs, archives } = storage;
  return {
    archives: {
      upload: (key, file) => heartbeatingWhile(() => archives.upload(key, file)),
      download: (key, file) => heartbeatingWhile(() => archives.download(key, file)),
      delete: (key) => heartbeatingWhile(() => archives.delete(key)),
    },
    blobs: {
      put: (key, data) => heartbeatingWhile(() => blobs.put(key, data)),
      createIfAbsent: (key, data) => heartbeatingWhile(() => blobs.createIfAbsent(key, data)),
      get: (key) => heartbeatingWhile(() => blobs.get(key)),
      list: (prefix) => heartbeatingWhile(() => blobs.list(prefix)),
      delete: (key) => heartbeatingWhile(() => blobs.delete(key)),
    },
    logs: {
      append: (log, records) => heartbeatingWhile(() => logs.append(log, records)),
      tail: <R extends LogRecord>(log: string, after?: number) => {
        const cursor = logs.tail<R>(log, after);
        return { next: () => heartbeatingWhile(() => cursor.next()) };
      },
      logs: (prefix) => heartbeatingWhile(() => logs.logs(prefix)),
    },
  };
}

/** How many characters of a tool's arguments or output an event keeps. */
export const EVENT_EXCERPT = 500;
