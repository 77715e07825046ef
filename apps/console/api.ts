// The console's one way to the API: same origin, the token from the session, and every error as
// the API's problem details (its `detail`, and `issues` by field for a form to show).

const TOKEN_KEY = 'errand.token';

export interface Issue {
  field: string;
  message: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly issues: Issue[] = [],
  ) {
    super(detail);
  }
}

export const session = {
  get token(): string | undefined {
    return sessionStorage.getItem(TOKEN_KEY) ?? undefined;
  },
  set token(value: string | undefined) {
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
  },
};

/** Calls the API; resolves with the body as text, or rejects with an ApiError. */
export async function callText(method: string, path: string, body?: unknown, token = session.token): Promise<string> {
  const res = await fetch(path, {
    method,
    headers: { ...(token && { authorization: `Bearer ${token}` }), ...(body !== undefined && { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) {
    const problem = (text.startsWith('{') ? JSON.parse(text) : {}) as { detail?: string; issues?: Issue[] };
    throw new ApiError(res.status, problem.detail ?? `${res.status} ${res.statusText}`, problem.issues);
  }
  return text;
}

/** Calls the API; resolves with the JSON body, or rejects with an ApiError. */
export async function call<T>(method: string, path: string, body?: unknown, token = session.token): Promise<T> {
  const text = await callText(method, path, body, token);
  return (text ? JSON.parse(text) : undefined) as T;
}

export type Scope = 'tasks:read' | 'tasks:write' | 'tasks:control' | 'schedules:write' | 'admin';

export interface Whoami {
  name?: string;
  scopes: Scope[];
  repos?: string[];
  tokens: boolean;
}

/** Whether the caller may do what `scope` allows. */
export const may = (me: Whoami, scope: Scope) => me.scopes.includes('admin') || me.scopes.includes(scope);

export interface TaskSummary {
  id: string;
  /** A coding task, or a dependency bump (whose groups are tasks of their own). */
  kind?: 'coding_task' | 'dependency_bump';
  /** What it is, in a line (its prompt's title). */
  title?: string;
  status: string;
  phase?: string;
  repo?: string;
  requester?: string;
  /** Where it was asked for: api, github, slack (none: another task or a schedule started it). */
  via?: string;
  startedAt?: string;
  closedAt?: string;
  queue?: { position: number; waitingFor: string };
  /** In the list, as of the task's last phase. */
  costUsd?: number;
  pr?: { number: number; url: string; draft: boolean; title: string };
  links: { self: string; temporalUi: string };
}

export interface DependencyGroup {
  name: string;
  taskId: string;
  packages: number;
  status: string;
  pr?: { number: number; url: string; draft?: boolean };
  error?: string;
}

export interface TaskView extends TaskSummary {
  /** What started it: a dependency bump (a task), or a schedule's run. */
  parent?: { kind: 'task' | 'schedule' | 'campaign'; id: string };
  /** What it was asked to do. */
  prompt?: string;
  dependencyGroups?: DependencyGroup[];
  baseBranch?: string;
  branch?: string;
  step?: number;
  budget?: { maxSteps: number; maxTokens?: number; maxCostUsd?: number; maxWallClockMinutes?: number };
  tokens?: { prompt: number; completion: number };
  elapsedMs?: number;
  lastAction?: string;
  summary?: string;
  error?: string;
  paused?: { since: string; by?: string };
  plan?: string;
  planApprovedBy?: string;
  messages?: { accepted: number; delivered: number };
  /** A task with attempts: each of them, and the choice once they have all ended. */
  attempts?: AttemptView[];
  attemptBudgets?: 'each' | 'shared';
  choice?: { n?: number; reasons: string[] };
}

/** An attempt as GET /tasks/:id shows it (apps/api/tasks/task-reading.ts, AttemptView). */
export interface AttemptView {
  n: number;
  taskId: string;
  branch: string;
  status: 'running' | 'finished' | 'failed' | 'cancelled';
  test?: { command: string; passed: boolean; exitCode: number };
  review?: { verdict: string; summary: string; rounds: number };
  summary?: string;
  size?: { files: number; lines: number };
  steps?: number;
  costUsd?: number;
  error?: string;
  proposal?: { branch: string; headSha: string; title: string; ready: boolean };
  promotedPr?: NonNullable<TaskView['pr']>;
}

export interface ScheduleRun {
  workflowId: string;
  scheduledAt: string;
  startedAt: string;
  status: string;
  result?: { taskId?: string; outcome?: string; pr?: { number: number; url: string }; groups?: DependencyGroup[]; summary?: string };
  error?: string;
}

export interface ScheduleView {
  id: string;
  /** Errand's own (the sandbox reaper, the environment refresh; `description` says which): paused and run like the others, never changed or deleted. */
  system?: boolean;
  paused: boolean;
  /** Why it exists, as its creator said; the note is the last pause's or unpause's. */
  description?: string;
  note?: string;
  repo?: string;
  baseBranch?: string;
  playbook?: string;
  params?: Record<string, unknown>;
  cron?: string;
  interval?: string;
  timezone?: string;
  jitter?: string;
  catchupWindow?: string;
  overlap?: string;
  maxFailures?: number;
  failuresInARow?: number;
  nextRuns: string[];
  recentRuns: ScheduleRun[];
  links: { self: string; temporalUi: string };
}

export type CampaignRowStatus = 'queued' | 'running' | 'pull_request' | 'no_pull_request' | 'failed' | 'cancelled' | 'skipped';

/** GET /campaigns/:id: a task per repository (a list holds only the first fields). */
export interface CampaignView {
  id: string;
  status: string;
  requester?: string;
  startedAt?: string;
  closedAt?: string;
  phase?: 'running' | 'paused' | 'completed' | 'stopped' | 'cancelled';
  summary?: string;
  concurrency?: number;
  stopAfterFailures?: number;
  failures?: number;
  stoppedBecause?: string;
  paused?: { since: string; by?: string };
  cancelledBy?: string;
  counts?: Partial<Record<CampaignRowStatus, number>>;
  rows?: { repo: string; baseBranch: string; taskId: string; status: CampaignRowStatus; pr?: { number: number; url: string; draft: boolean }; prState?: 'open' | 'closed' | 'merged'; testsPassed?: boolean; error?: string; note?: string }[];
  links: { self: string; temporalUi: string };
}

/** GET /repos/{repo}/secrets: what a repository's tasks get, by name and scope (never a value). */
export interface RepoSecrets {
  repo: string;
  secrets: { name: string; scopes: string[]; repos?: string[] }[];
}

/** GET /repos/{repo}/environment: the environments kept after the repository's setup. */
export interface RepoEnvironment {
  repo: string;
  enabled: boolean;
  hits: number;
  misses: number;
  snapshots: { key: string; baseBranch: string; baseSha: string; bytes: number; createdAt: string; createdBy: string; lastUsedAt: string; inputs: { setup: string; files: { path: string; blob: string }[] } }[];
}
