// Errand's configuration: read once at start-up from the environment, by one schema, with
// messages that name the variable to set. Every variable is listed in the README.
import { readFileSync } from 'node:fs';
import { loadLinearAccess, type LinearAccessFile } from '../lib/linear/linear-access.js';
import { loadSlackAccess, type SlackAccessFile } from '../lib/slack/slack-access.js';
import path from 'node:path';
import { McpConfig } from '../activities/agent/mcp/servers.js';
import { loadSecrets, type Secret } from '../lib/secrets/secrets.js';
import { DEFAULT_ENVIRONMENT_LIMITS, type EnvironmentLimits } from '../lib/environments/environment-store.js';
import { z } from 'zod';
import { loadApiTokens, type ApiToken } from './api/auth/api-tokens.js';
import type { GitHubSettings } from '../lib/forge/github.js';
import { parseEgressRule, type EgressRule as SandboxEgressRule } from '../activities/sandbox/sandboxd/egress.js';
import type { EgressRule, KubernetesSandboxOptions } from '../activities/sandbox/kubernetes-objects.js';
import type { ModelSettings } from '../activities/agent/model-client.js';
import { DEFAULT_REPO_LIMITS, type RepoLimits } from '../activities/git/transfer.js';
import type { Budget } from '../workflows/budget.js';
import { NETWORK_POLICIES, type NetworkPolicy } from '../workflows/contracts/task.js';
import type { SystemScheduleId } from '../workflows/names.js';

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();
const optionalText = z.preprocess((v) => (v === '' ? undefined : v), z.string().optional());
const optionalPositive = z.preprocess((v) => (v === '' ? undefined : v), z.coerce.number().positive().optional());
const list = (separator: string) =>
  z
    .string()
    .default('')
    .transform((v) => v.split(separator).map((s) => s.trim()).filter(Boolean));
/** USD per million tokens, per model name: {"gpt-4.1": {"input": 2, "output": 8}}. */
const PriceTable = z.record(z.string(), z.strictObject({ input: z.number().nonnegative(), output: z.number().nonnegative() }));
const priceTable = z
  .string()
  .default('{}')
  .transform((v, ctx) => {
    try {
      return JSON.parse(v || '{}') as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be JSON, e.g. {"gpt-4.1": {"input": 2, "output": 8}} (USD per million tokens)' });
      return z.NEVER;
    }
  })
  .pipe(PriceTable);

const Env = z.object({
  ERRAND_STATE_DIR: z.string().default('.errand'),
  ERRAND_API_HOST: z.string().default('127.0.0.1'),
  ERRAND_API_PORT: port.default(3000),
  ERRAND_PUBLIC_URL: optionalText,
  ERRAND_TEMPORAL_ADDRESS: z.string().default('127.0.0.1:7233'),
  ERRAND_TEMPORAL_NAMESPACE: z.string().default('default'),
  ERRAND_TEMPORAL_UI_URL: z.string().url().default('http://localhost:8233'),
  ERRAND_TASK_QUEUE: z.string().default('errand'),
  ERRAND_WORKER_MAX_ACTIVITIES: positiveInt.max(10_000).default(400),
  ERRAND_WORKER_METRICS_PORT: port.default(9464),
  ERRAND_DEV_TEMPORAL_PORT: port.default(7233),
  ERRAND_DEV_UI_PORT: port.default(8233),
  ERRAND_DEV_SQLITE_SYNC: z.enum(['normal', 'full']).default('normal'),
  ERRAND_MODEL_BASE_URL: optionalText.pipe(z.string().url().optional()),
  ERRAND_MODEL: optionalText,
  ERRAND_MODEL_API_KEY: optionalText,
  ERRAND_MODEL_CONTEXT_TOKENS: positiveInt.default(128_000),
  ERRAND_MODEL_PRICES: priceTable,
  ERRAND_MODEL_MAX_RETRY_AFTER_SECONDS: positiveInt.max(86_400).default(120),
  ERRAND_MAX_STEPS: positiveInt.max(10_000).default(50),
  ERRAND_MAX_TOKENS: optionalPositive.pipe(z.number().int().optional()),
  ERRAND_MAX_COST_USD: optionalPositive,
  ERRAND_MAX_WALL_CLOCK_MINUTES: optionalPositive,
  ERRAND_SETUP_TIMEOUT_SECONDS: positiveInt.default(900),
  ERRAND_REPO_MAX_FILES: positiveInt.default(DEFAULT_REPO_LIMITS.maxEntries),
  ERRAND_REPO_MAX_MB: positiveInt.default(DEFAULT_REPO_LIMITS.maxBytes / 2 ** 20),
  ERRAND_REPO_MAX_FILE_MB: positiveInt.default(DEFAULT_REPO_LIMITS.maxFileBytes / 2 ** 20),
  ERRAND_CHECKPOINT_EVERY_STEPS: positiveInt.max(1_000).default(5),
  ERRAND_MAX_REVIEW_ROUNDS: z.coerce.number().int().min(0).max(10).default(2),
  ERRAND_AWAIT_FEEDBACK_MINUTES: z.coerce.number().min(0).max(30 * 24 * 60).default(0),
  ERRAND_REVIEWER_BASE_URL: optionalText.pipe(z.string().url().optional()),
  ERRAND_REVIEWER_MODEL: optionalText,
  ERRAND_REVIEWER_API_KEY: optionalText,
  ERRAND_SANDBOX_CONFINEMENT: z.enum(['auto', 'bubblewrap', 'none']).default('auto'),
  ERRAND_SANDBOX_NETWORK: z.enum(NETWORK_POLICIES).default('setup'),
  ERRAND_SANDBOX_ENV: list(','),
  ERRAND_SANDBOX_HIDE: list(':'),
  ERRAND_SANDBOX_EGRESS_ALLOW: z.string().default('').transform((v, ctx) => egressRulesOf(v, ctx)),
  ERRAND_SANDBOX_EGRESS_DENY: z.string().default('').transform((v, ctx) => egressRulesOf(v, ctx)),
  ERRAND_SANDBOX_USER: z
    .string()
    .default('65534:65534')
    .transform((v, ctx) => {
      const m = /^(\d+)(?::(\d+))?$/.exec(v.trim());
      if (!m || Number(m[1]) === 0 || Number(m[2] ?? m[1]) === 0) {
        ctx.addIssue({ code: 'custom', message: `"${v}" is not uid[:gid] of an unprivileged user, e.g. 65534:65534 (nobody)` });
        return z.NEVER;
      }
      return { uid: Number(m[1]), gid: Number(m[2] ?? m[1]) };
    }),
  ERRAND_REDACT: list(','),
  ERRAND_FORGE: z.enum(['local', 'github']).default('local'),
  ERRAND_STORE: z.enum(['local', 's3']).default('local'),
  ERRAND_S3_BUCKET: optionalText,
  ERRAND_S3_PREFIX: z.string().default('').transform((v) => v.replace(/^\/+|\/+$/g, '')),
  ERRAND_S3_ENDPOINT: optionalText.pipe(z.string().url().optional()),
  ERRAND_S3_REGION: optionalText,
  ERRAND_S3_FORCE_PATH_STYLE: z.enum(['true', 'false']).default('false').transform((v) => v === 'true'),
  ERRAND_SANDBOX_PROVIDER: z.enum(['local', 'kubernetes']).default('local'),
  ERRAND_KUBECONFIG: optionalText,
  ERRAND_K8S_NAMESPACE: z.string().min(1).default('errand-sandboxes'),
  ERRAND_K8S_SANDBOX_IMAGE: z.string().min(1).default('ghcr.io/errand-dev/errand-sandbox:0.1.0'),
  ERRAND_K8S_SANDBOX_SERVICE_ACCOUNT: z.string().min(1).default('errand-sandbox'),
  ERRAND_K8S_CPU_REQUEST: z.string().min(1).default('500m'),
  ERRAND_K8S_CPU_LIMIT: z.string().min(1).default('2'),
  ERRAND_K8S_MEMORY_REQUEST: z.string().min(1).default('1Gi'),
  ERRAND_K8S_MEMORY_LIMIT: z.string().min(1).default('4Gi'),
  ERRAND_K8S_ACTIVE_DEADLINE_SECONDS: positiveInt.default(86_400),
  ERRAND_K8S_READY_TIMEOUT_SECONDS: positiveInt.default(300),
  ERRAND_K8S_SANDBOXD_PORT: port.default(8080),
  ERRAND_K8S_WORKER_NAMESPACE: z.string().min(1).default('errand'),
  ERRAND_K8S_WORKER_LABELS: z.string().default('app.kubernetes.io/name=errand,app.kubernetes.io/component=worker').transform((v, ctx) => labelsOf(v, ctx)),
  ERRAND_K8S_EGRESS_ALLOWLIST: z.string().default('').transform((v, ctx) => egressOf(v, ctx)),
  ERRAND_K8S_WARM_POOL: optionalText,
  ERRAND_K8S_WARM_POOL_TEMPLATE: optionalText,
  ERRAND_K8S_WARM_POOL_TOKEN_SECRET: z.string().min(1).default('errand-warm-pool'),
  ERRAND_REAPER_INTERVAL_MINUTES: z.coerce.number().int().min(0).default(10),
  ERRAND_MAX_RUNNING_TASKS: optionalPositive.pipe(z.number().int().optional()),
  ERRAND_MAX_RUNNING_TASKS_PER_REPO: optionalPositive.pipe(z.number().int().optional()),
  ERRAND_REPO_TASK_LIMITS: z.string().default('').transform((v, ctx) => repoLimitsOf(v, ctx)),
  ERRAND_DAILY_BUDGET_USD: optionalPositive,
  ERRAND_ADMISSION_SWEEP_SECONDS: positiveInt.max(3_600).default(60),
  ERRAND_NPM_REGISTRY: z.string().url().default('https://registry.npmjs.org'),
  ERRAND_GOPROXY: z.string().min(1).default('https://proxy.golang.org'),
  ERRAND_GOSUMDB: optionalText,
  ERRAND_API_TOKENS_FILE: optionalText,
  ERRAND_MCP_CONFIG: optionalText,
  ERRAND_ENVIRONMENT_CACHE: z.enum(['on', 'off']).default('on'),
  ERRAND_ENVIRONMENT_MAX_MB_PER_REPO: positiveInt.default(DEFAULT_ENVIRONMENT_LIMITS.maxRepoBytes / 2 ** 20),
  ERRAND_ENVIRONMENT_MAX_MB: positiveInt.default(DEFAULT_ENVIRONMENT_LIMITS.maxTotalBytes / 2 ** 20),
  ERRAND_ENVIRONMENT_TTL_HOURS: z.coerce.number().positive().default(DEFAULT_ENVIRONMENT_LIMITS.ttlMs / 3_600_000),
  ERRAND_ENVIRONMENT_REFRESH_MINUTES: z.coerce.number().int().min(0).default(30),
  ERRAND_ENVIRONMENT_REFRESH_REPOS: positiveInt.default(10),
  ERRAND_ENVIRONMENT_REFRESH_WITHIN_HOURS: z.coerce.number().positive().default(24),
  ERRAND_CAMPAIGN_MAX_REPOS: positiveInt.default(200),
  ERRAND_CAMPAIGN_MAX_CONCURRENCY: positiveInt.default(10),
  ERRAND_MAX_ATTEMPTS: positiveInt.default(4),
  ERRAND_SECRETS_FILE: optionalText,
  ERRAND_TEMPORAL_API_KEY: optionalText,
  // Unset is not 'false': unset, an API key turns TLS on (Temporal Cloud); 'false' keeps it off.
  ERRAND_TEMPORAL_TLS: z.enum(['true', 'false']).optional(),
  ERRAND_TEMPORAL_TLS_CA_FILE: optionalText,
  ERRAND_TEMPORAL_TLS_CERT_FILE: optionalText,
  ERRAND_TEMPORAL_TLS_KEY_FILE: optionalText,
  ERRAND_TEMPORAL_TLS_SERVER_NAME: optionalText,
  ERRAND_GITHUB_API_URL: z.string().url().default('https://api.github.com'),
  ERRAND_GITHUB_GIT_URL: z.string().min(1).default('https://github.com/{owner}/{repo}.git'),
  ERRAND_GITHUB_TOKEN: optionalText,
  ERRAND_GITHUB_APP_ID: optionalText,
  ERRAND_GITHUB_APP_PRIVATE_KEY: optionalText,
  ERRAND_GITHUB_APP_PRIVATE_KEY_FILE: optionalText,
  ERRAND_GITHUB_APP_INSTALLATION_ID: optionalPositive.pipe(z.number().int().optional()),
  ERRAND_GITHUB_LABELS: list(','),
  ERRAND_GITHUB_WEBHOOK_SECRET: optionalText,
  ERRAND_SLACK_SIGNING_SECRET: optionalText,
  ERRAND_SLACK_BOT_TOKEN: optionalText,
  ERRAND_SLACK_CONFIG: optionalText,
  ERRAND_SLACK_API_URL: z.url().default('https://slack.com/api/'),
  ERRAND_LINEAR_WEBHOOK_SECRET: optionalText,
  ERRAND_LINEAR_API_KEY: optionalText,
  ERRAND_LINEAR_CONFIG: optionalText,
  ERRAND_LINEAR_API_URL: z.url().default('https://api.linear.app/graphql'),
  ERRAND_GITHUB_BOT_LOGIN: z.string().min(1).default('errand'),
  ERRAND_GITHUB_TRIGGER_LABEL: z.string().min(1).default('errand'),
  ERRAND_WEBHOOK_MAX_AGE_MINUTES: positiveInt.default(60),
  ERRAND_LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  ERRAND_NARRATE: z.enum(['auto', 'true', 'false']).default('auto'),
  TEMPORAL_CLI: optionalText,
});

/** `cidr[:port]` entries, comma-separated: where a sandbox pod may connect. */
function egressOf(value: string, ctx: z.RefinementCtx): EgressRule[] {
  const rules: EgressRule[] = [];
  for (const entry of value.split(',').map((e) => e.trim()).filter(Boolean)) {
    const m = /^([0-9a-fA-F.:]+\/\d{1,3})(?::(\d{1,5}))?$/.exec(entry);
    if (!m) {
      ctx.addIssue({ code: 'custom', message: `"${entry}" is not cidr[:port], e.g. 140.82.112.0/20:443` });
      continue;
    }
    rules.push({ cidr: m[1]!, ...(m[2] ? { port: Number(m[2]) } : {}) });
  }
  return rules;
}

/** `host[:port]` or `cidr[:port]` entries, comma-separated: the local sandbox's egress rules. */
function egressRulesOf(value: string, ctx: z.RefinementCtx): SandboxEgressRule[] {
  const rules: SandboxEgressRule[] = [];
  for (const entry of value.split(',').map((e) => e.trim()).filter(Boolean)) {
    const rule = parseEgressRule(entry);
    if (rule) rules.push(rule);
    else ctx.addIssue({ code: 'custom', message: `"${entry}" is not host[:port] or cidr[:port], e.g. registry.internal:443 or 10.1.0.0/16:443` });
  }
  return rules;
}

/** `key=value` pairs, comma-separated. */
function labelsOf(value: string, ctx: z.RefinementCtx): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const pair of value.split(',').map((e) => e.trim()).filter(Boolean)) {
    const [k, v] = pair.split('=');
    if (!k || v === undefined) ctx.addIssue({ code: 'custom', message: `"${pair}" is not key=value` });
    else labels[k] = v;
  }
  return labels;
}

/** `glob=N,glob=N`: the running-task limit of the repositories each glob matches (the first match wins). */
function repoLimitsOf(value: string, ctx: z.RefinementCtx): { glob: string; max: number }[] {
  const limits: { glob: string; max: number }[] = [];
  for (const pair of value.split(',').map((e) => e.trim()).filter(Boolean)) {
    const at = pair.lastIndexOf('=');
    const max = Number(pair.slice(at + 1));
    if (at <= 0 || !Number.isInteger(max) || max < 1) ctx.addIssue({ code: 'custom', message: `"${pair}" is not glob=N (a repository glob and a whole number of running tasks, at least 1)` });
    else limits.push({ glob: pair.slice(0, at).trim(), max });
  }
  return limits;
}

/** Limits on running tasks and the daily budget (workflows/admission.ts); all unset: every task runs at once. */
export interface AdmissionSettings {
  maxRunning?: number;
  maxRunningPerRepo?: number;
  /** Overrides of maxRunningPerRepo by repository glob, the first match winning. */
  repoLimits: { glob: string; max: number }[];
  /** Dollars a requester may spend a day (UTC); over it, POST /tasks answers 429. */
  dailyBudgetUsd?: number;
  sweepSeconds: number;
}

/** Whether tasks ask the admission workflow before they run: some limit or budget is set. */
export const admissionActive = (a: AdmissionSettings) => a.maxRunning !== undefined || a.maxRunningPerRepo !== undefined || a.repoLimits.length > 0 || a.dailyBudgetUsd !== undefined;

export interface Config {
  stateDir: string;
  api: { host: string; port: number; publicUrl?: string };
  temporal: {
    address: string;
    namespace: string;
    uiUrl: string;
    taskQueue: string;
    apiKey?: string;
    /**
     * On with the system's CAs, or with a CA and a client certificate (mTLS); false: off, even with
     * an API key (a self-hosted server that checks JWTs behind a mesh's mTLS, say); unset: on
     * only with an API key.
     */
    tls?: { caFile?: string; certFile?: string; keyFile?: string; serverName?: string } | false;
    /** Activities one worker runs at once (most wait on a model). */
    maxActivities: number;
    /** Where the worker serves /metrics (its host is the API's). */
    metricsPort: number;
  };
  dev: { temporalPort: number; uiPort: number; sqliteSync: 'normal' | 'full' };
  /** Undefined until ERRAND_MODEL_BASE_URL and ERRAND_MODEL are both set. */
  model?: ModelSettings;
  defaults: { budget: Budget; network: NetworkPolicy; checkpointEverySteps: number; maxReviewRounds: number; awaitFeedbackMinutes: number };
  /** The review agent's model; the coder's endpoint and key unless set apart. */
  reviewer?: ModelSettings;
  /** How long a repository's setup script may run. */
  setupTimeoutMs: number;
  /** What a branch may check out to, checked before a sandbox gets it and before a push. */
  repoLimits: RepoLimits;
  sandbox: {
    provider: 'local' | 'kubernetes';
    kubernetes: Omit<KubernetesSandboxOptions, 'kubeConfig'> & { kubeconfig?: string };
    confinement: 'auto' | 'bubblewrap' | 'none';
    /** Names of worker environment variables passed into sandbox commands (proxies, registries). */
    envAllowlist: string[];
    /** Host paths hidden from sandbox commands, besides Errand's state directory. */
    hide: string[];
    /** The host user confined commands run as when Errand runs as root. */
    user: { uid: number; gid: number };
    /** What commands allowed the network may reach beyond public addresses, and may not. */
    egress: { allow: SandboxEgressRule[]; deny: SandboxEgressRule[] };
  };
  admission: AdmissionSettings;
  /** Where dependency bumps look for newer versions, and where the sandbox installs them from. */
  registries: { npm: string; goProxy: string; goSumDb?: string };
  /** Bearer tokens the API accepts; without any the API is open (fine on loopback, not beyond). */
  /** Named, scoped, hashed (ERRAND_API_TOKENS_FILE); none: the API asks for no token. */
  apiTokens: ApiToken[];
  /** Where repositories and pull requests live. */
  forge: { kind: 'local' } | { kind: 'github'; github: GitHubSettings };
  /** Where transcripts, logs, diffs, events and the audit trail live: the state directory, or S3-compatible object storage shared by every replica. */
  storage: { kind: 'local' } | { kind: 's3'; s3: S3Settings };
  /** GitHub webhooks (POST /webhooks/github); off without a secret. */
  webhooks: { secret?: string; botLogin: string; triggerLabel: string; maxAgeMinutes: number };
  /** Slack as a way in (POST /webhooks/slack/*) and where its tasks report; off unless all three are set. */
  slack?: { signingSecret: string; botToken: string; apiUrl: string; access: SlackAccessFile };
  /** Linear as a way in (POST /webhooks/linear) and where its tasks report; off unless all three are set. */
  linear?: { webhookSecret: string; apiKey: string; apiUrl: string; access: LinearAccessFile };
  /** Values redacted from transcripts, events and logs: keys, tokens, ERRAND_REDACT and every scoped secret. */
  secrets: string[];
  /** MCP servers the agent may use (ERRAND_MCP_CONFIG); none when unset. */
  mcp?: McpConfig;
  /** Limits of the kept environments after setup; undefined: every task runs its setup (ERRAND_ENVIRONMENT_CACHE=off). */
  environmentCache?: EnvironmentLimits;
  /** Which repositories' environments the environment-refresh schedule refreshes: the most recently used, up to `maxRepos`, used by a task within `usedWithinMs`. */
  environmentRefresh: { maxRepos: number; usedWithinMs: number };
  /** What one campaign may ask for: repositories, and tasks at once (its default is the lesser of 4 and this). */
  campaigns: { maxRepos: number; maxConcurrency: number };
  /** The most attempts one task may ask for (`attempts` on POST /tasks). */
  maxAttempts: number;
  /** How often Errand's own schedules run, in minutes; 0: not at all. */
  systemSchedules: Record<SystemScheduleId, number>;
  /** Secrets scoped to setup or to one MCP server (ERRAND_SECRETS_FILE). */
  scopedSecrets: Secret[];
  logLevel: string;
  /** One human line per task moment on stderr, for `serve`/`dev`: `auto` when stderr is a terminal. */
  narrate: 'auto' | 'true' | 'false';
  temporalCli?: string;
}

export class ConfigError extends Error {}

/** What `read` makes of the file a variable names; any failure names the variable and what is wrong. */
function fromFile<T>(variable: string, file: string, read: (file: string) => T): T {
  try {
    return read(file);
  } catch (err) {
    const why = err instanceof z.ZodError ? z.prettifyError(err) : (err as Error).message;
    throw new ConfigError(`invalid configuration:\n  ${variable}: ${file}: ${why.replace(/\n/g, '\n    ')}`);
  }
}

/** Slack: all three settings, or none (a partial one is a mistake, said at start-up). */
function slackFrom(e: { ERRAND_SLACK_SIGNING_SECRET?: string; ERRAND_SLACK_BOT_TOKEN?: string; ERRAND_SLACK_CONFIG?: string; ERRAND_SLACK_API_URL: string }): Config['slack'] {
  const set = { ERRAND_SLACK_SIGNING_SECRET: e.ERRAND_SLACK_SIGNING_SECRET, ERRAND_SLACK_BOT_TOKEN: e.ERRAND_SLACK_BOT_TOKEN, ERRAND_SLACK_CONFIG: e.ERRAND_SLACK_CONFIG };
  const missing = Object.entries(set).filter(([, v]) => !v).map(([k]) => k);
  if (missing.length === 3) return undefined;
  if (missing.length) throw new ConfigError(`invalid configuration:\n  ${missing.join(', ')}: required with the other Slack settings (the signing secret and bot token from the Slack app's settings, and the file of channels and users: see README "Slack")`);
  return {
    signingSecret: e.ERRAND_SLACK_SIGNING_SECRET!,
    botToken: e.ERRAND_SLACK_BOT_TOKEN!,
    apiUrl: e.ERRAND_SLACK_API_URL,
    access: fromFile('ERRAND_SLACK_CONFIG', e.ERRAND_SLACK_CONFIG!, (f) => loadSlackAccess(f)),
  };
}

/** Linear: all three settings, or none. */
function linearFrom(e: { ERRAND_LINEAR_WEBHOOK_SECRET?: string; ERRAND_LINEAR_API_KEY?: string; ERRAND_LINEAR_CONFIG?: string; ERRAND_LINEAR_API_URL: string }): Config['linear'] {
  const set = { ERRAND_LINEAR_WEBHOOK_SECRET: e.ERRAND_LINEAR_WEBHOOK_SECRET, ERRAND_LINEAR_API_KEY: e.ERRAND_LINEAR_API_KEY, ERRAND_LINEAR_CONFIG: e.ERRAND_LINEAR_CONFIG };
  const missing = Object.entries(set).filter(([, v]) => !v).map(([k]) => k);
  if (missing.length === 3) return undefined;
  if (missing.length) throw new ConfigError(`invalid configuration:\n  ${missing.join(', ')}: required with the other Linear settings (the webhook's signing secret and an API key from Linear's settings, and the file of teams and users: see README "Linear")`);
  return {
    webhookSecret: e.ERRAND_LINEAR_WEBHOOK_SECRET!,
    apiKey: e.ERRAND_LINEAR_API_KEY!,
    apiUrl: e.ERRAND_LINEAR_API_URL,
    access: fromFile('ERRAND_LINEAR_CONFIG', e.ERRAND_LINEAR_CONFIG!, (f) => loadLinearAccess(f)),
  };
}

function apiTokensFrom(file: string): ApiToken[] {
  try {
    return loadApiTokens(file);
  } catch (err) {
    throw new ConfigError(`invalid configuration:\n  ERRAND_API_TOKENS_FILE: ${(err as Error).message}`);
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = Env.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${String(i.path[0])}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  if (Boolean(e.ERRAND_MODEL_BASE_URL) !== Boolean(e.ERRAND_MODEL)) {
    throw new ConfigError(
      `invalid configuration:\n  set both ERRAND_MODEL_BASE_URL and ERRAND_MODEL (only ${e.ERRAND_MODEL ? 'ERRAND_MODEL' : 'ERRAND_MODEL_BASE_URL'} is set)`,
    );
  }
  const github = githubSettings(e);
  const scopedSecrets = e.ERRAND_SECRETS_FILE ? fromFile('ERRAND_SECRETS_FILE', e.ERRAND_SECRETS_FILE, (f) => loadSecrets(f, env)) : [];
  return {
    stateDir: path.resolve(e.ERRAND_STATE_DIR),
    api: { host: e.ERRAND_API_HOST, port: e.ERRAND_API_PORT, publicUrl: e.ERRAND_PUBLIC_URL },
    temporal: {
      address: e.ERRAND_TEMPORAL_ADDRESS,
      namespace: e.ERRAND_TEMPORAL_NAMESPACE,
      uiUrl: e.ERRAND_TEMPORAL_UI_URL.replace(/\/$/, ''),
      taskQueue: e.ERRAND_TASK_QUEUE,
      apiKey: e.ERRAND_TEMPORAL_API_KEY,
      tls:
        e.ERRAND_TEMPORAL_TLS === 'true' || e.ERRAND_TEMPORAL_TLS_CERT_FILE
          ? { caFile: e.ERRAND_TEMPORAL_TLS_CA_FILE, certFile: e.ERRAND_TEMPORAL_TLS_CERT_FILE, keyFile: e.ERRAND_TEMPORAL_TLS_KEY_FILE, serverName: e.ERRAND_TEMPORAL_TLS_SERVER_NAME }
          : e.ERRAND_TEMPORAL_TLS === 'false'
            ? false
            : undefined,
      maxActivities: e.ERRAND_WORKER_MAX_ACTIVITIES,
      metricsPort: e.ERRAND_WORKER_METRICS_PORT,
    },
    dev: { temporalPort: e.ERRAND_DEV_TEMPORAL_PORT, uiPort: e.ERRAND_DEV_UI_PORT, sqliteSync: e.ERRAND_DEV_SQLITE_SYNC },
    model:
      e.ERRAND_MODEL_BASE_URL && e.ERRAND_MODEL
        ? {
            baseUrl: e.ERRAND_MODEL_BASE_URL,
            model: e.ERRAND_MODEL,
            apiKey: e.ERRAND_MODEL_API_KEY,
            contextTokens: e.ERRAND_MODEL_CONTEXT_TOKENS,
            price: e.ERRAND_MODEL_PRICES[e.ERRAND_MODEL],
            maxRetryAfterMs: e.ERRAND_MODEL_MAX_RETRY_AFTER_SECONDS * 1000,
          }
        : undefined,
    defaults: {
      budget: {
        maxSteps: e.ERRAND_MAX_STEPS,
        maxTokens: e.ERRAND_MAX_TOKENS,
        maxCostUsd: e.ERRAND_MAX_COST_USD,
        maxWallClockMinutes: e.ERRAND_MAX_WALL_CLOCK_MINUTES,
      },
      network: e.ERRAND_SANDBOX_NETWORK,
      checkpointEverySteps: e.ERRAND_CHECKPOINT_EVERY_STEPS,
      maxReviewRounds: e.ERRAND_MAX_REVIEW_ROUNDS,
      awaitFeedbackMinutes: e.ERRAND_AWAIT_FEEDBACK_MINUTES,
    },
    reviewer: reviewerSettings(e),
    setupTimeoutMs: e.ERRAND_SETUP_TIMEOUT_SECONDS * 1000,
    repoLimits: { maxEntries: e.ERRAND_REPO_MAX_FILES, maxBytes: e.ERRAND_REPO_MAX_MB * 2 ** 20, maxFileBytes: e.ERRAND_REPO_MAX_FILE_MB * 2 ** 20 },
    sandbox: {
      provider: e.ERRAND_SANDBOX_PROVIDER,
      kubernetes: {
        kubeconfig: e.ERRAND_KUBECONFIG,
        namespace: e.ERRAND_K8S_NAMESPACE,
        image: e.ERRAND_K8S_SANDBOX_IMAGE,
        serviceAccount: e.ERRAND_K8S_SANDBOX_SERVICE_ACCOUNT,
        resources: {
          requests: { cpu: e.ERRAND_K8S_CPU_REQUEST, memory: e.ERRAND_K8S_MEMORY_REQUEST },
          limits: { cpu: e.ERRAND_K8S_CPU_LIMIT, memory: e.ERRAND_K8S_MEMORY_LIMIT },
        },
        activeDeadlineSeconds: e.ERRAND_K8S_ACTIVE_DEADLINE_SECONDS,
        readyTimeoutMs: e.ERRAND_K8S_READY_TIMEOUT_SECONDS * 1000,
        sandboxdPort: e.ERRAND_K8S_SANDBOXD_PORT,
        worker: { namespace: e.ERRAND_K8S_WORKER_NAMESPACE, labels: e.ERRAND_K8S_WORKER_LABELS },
        egress: { allowlist: e.ERRAND_K8S_EGRESS_ALLOWLIST },
        warmPool: e.ERRAND_K8S_WARM_POOL
          ? { pool: e.ERRAND_K8S_WARM_POOL, template: e.ERRAND_K8S_WARM_POOL_TEMPLATE, tokenSecret: e.ERRAND_K8S_WARM_POOL_TOKEN_SECRET }
          : undefined,
      },
      confinement: e.ERRAND_SANDBOX_CONFINEMENT,
      envAllowlist: e.ERRAND_SANDBOX_ENV,
      hide: e.ERRAND_SANDBOX_HIDE,
      user: e.ERRAND_SANDBOX_USER,
      egress: { allow: e.ERRAND_SANDBOX_EGRESS_ALLOW, deny: e.ERRAND_SANDBOX_EGRESS_DENY },
    },
    admission: {
      maxRunning: e.ERRAND_MAX_RUNNING_TASKS,
      maxRunningPerRepo: e.ERRAND_MAX_RUNNING_TASKS_PER_REPO,
      repoLimits: e.ERRAND_REPO_TASK_LIMITS,
      dailyBudgetUsd: e.ERRAND_DAILY_BUDGET_USD,
      sweepSeconds: e.ERRAND_ADMISSION_SWEEP_SECONDS,
    },
    registries: { npm: e.ERRAND_NPM_REGISTRY.replace(/\/$/, ''), goProxy: e.ERRAND_GOPROXY, goSumDb: e.ERRAND_GOSUMDB },
    apiTokens: e.ERRAND_API_TOKENS_FILE ? apiTokensFrom(e.ERRAND_API_TOKENS_FILE) : [],
    mcp: e.ERRAND_MCP_CONFIG ? fromFile('ERRAND_MCP_CONFIG', e.ERRAND_MCP_CONFIG, (f) => McpConfig.parse(JSON.parse(readFileSync(f, 'utf8')))) : undefined,
    scopedSecrets,
    environmentRefresh: { maxRepos: e.ERRAND_ENVIRONMENT_REFRESH_REPOS, usedWithinMs: e.ERRAND_ENVIRONMENT_REFRESH_WITHIN_HOURS * 3_600_000 },
    campaigns: { maxRepos: e.ERRAND_CAMPAIGN_MAX_REPOS, maxConcurrency: e.ERRAND_CAMPAIGN_MAX_CONCURRENCY },
    maxAttempts: e.ERRAND_MAX_ATTEMPTS,
    systemSchedules: {
      'sandbox-reaper': e.ERRAND_REAPER_INTERVAL_MINUTES,
      // Nothing to refresh or evict without the cache.
      'environment-refresh': e.ERRAND_ENVIRONMENT_CACHE === 'on' ? e.ERRAND_ENVIRONMENT_REFRESH_MINUTES : 0,
    },
    environmentCache:
      e.ERRAND_ENVIRONMENT_CACHE === 'on'
        ? { maxRepoBytes: e.ERRAND_ENVIRONMENT_MAX_MB_PER_REPO * 2 ** 20, maxTotalBytes: e.ERRAND_ENVIRONMENT_MAX_MB * 2 ** 20, ttlMs: e.ERRAND_ENVIRONMENT_TTL_HOURS * 3_600_000 }
        : undefined,
    forge: github ? { kind: 'github', github } : { kind: 'local' },
    storage: storageSettings(e),
    webhooks: {
      secret: e.ERRAND_GITHUB_WEBHOOK_SECRET,
      botLogin: e.ERRAND_GITHUB_BOT_LOGIN.replace(/^@/, ''),
      triggerLabel: e.ERRAND_GITHUB_TRIGGER_LABEL,
      maxAgeMinutes: e.ERRAND_WEBHOOK_MAX_AGE_MINUTES,
    },
    slack: slackFrom(e),
    linear: linearFrom(e),
    secrets: [
      e.ERRAND_LINEAR_API_KEY,
      e.ERRAND_LINEAR_WEBHOOK_SECRET,
      e.ERRAND_SLACK_BOT_TOKEN,
      e.ERRAND_SLACK_SIGNING_SECRET,
      e.ERRAND_MODEL_API_KEY,
      e.ERRAND_REVIEWER_API_KEY,
      e.ERRAND_GITHUB_TOKEN,
      github && 'privateKey' in github.auth ? github.auth.privateKey : undefined,
      e.ERRAND_GITHUB_WEBHOOK_SECRET,
      e.ERRAND_TEMPORAL_API_KEY,
      ...e.ERRAND_REDACT,
      ...scopedSecrets.map((s) => s.value),
    ].filter((s): s is string => Boolean(s)),
    logLevel: e.ERRAND_LOG_LEVEL,
    narrate: e.ERRAND_NARRATE,
    temporalCli: e.TEMPORAL_CLI,
  };
}

/** S3-compatible object storage (ERRAND_STORE=s3); credentials come from the AWS SDK's own chain (environment, a mounted file, workload identity). */
export interface S3Settings {
  bucket: string;
  prefix?: string;
  endpoint?: string;
  region?: string;
  forcePathStyle?: boolean;
}

function storageSettings(e: z.output<typeof Env>): Config['storage'] {
  if (e.ERRAND_STORE === 'local') return { kind: 'local' };
  if (!e.ERRAND_S3_BUCKET) throw new ConfigError('invalid configuration:\n  ERRAND_S3_BUCKET: required with ERRAND_STORE=s3 (the bucket Errand keeps transcripts, logs, events and the audit trail in)');
  return {
    kind: 's3',
    s3: { bucket: e.ERRAND_S3_BUCKET, prefix: e.ERRAND_S3_PREFIX || undefined, endpoint: e.ERRAND_S3_ENDPOINT, region: e.ERRAND_S3_REGION, forcePathStyle: e.ERRAND_S3_FORCE_PATH_STYLE },
  };
}

/** GitHub settings when ERRAND_FORGE=github: a token, or an App (id and private key). */
function githubSettings(e: z.output<typeof Env>): GitHubSettings | undefined {
  if (e.ERRAND_FORGE !== 'github') return undefined;
  const base = { apiUrl: e.ERRAND_GITHUB_API_URL.replace(/\/$/, ''), gitUrl: e.ERRAND_GITHUB_GIT_URL, labels: e.ERRAND_GITHUB_LABELS };
  if (e.ERRAND_GITHUB_TOKEN) return { ...base, auth: { token: e.ERRAND_GITHUB_TOKEN } };
  const privateKey = e.ERRAND_GITHUB_APP_PRIVATE_KEY ?? (e.ERRAND_GITHUB_APP_PRIVATE_KEY_FILE ? readKey(e.ERRAND_GITHUB_APP_PRIVATE_KEY_FILE) : undefined);
  if (e.ERRAND_GITHUB_APP_ID && privateKey) {
    return { ...base, auth: { appId: e.ERRAND_GITHUB_APP_ID, privateKey, installationId: e.ERRAND_GITHUB_APP_INSTALLATION_ID } };
  }
  throw new ConfigError(
    'invalid configuration:\n  ERRAND_FORGE=github needs ERRAND_GITHUB_TOKEN, or a GitHub App: ERRAND_GITHUB_APP_ID and ERRAND_GITHUB_APP_PRIVATE_KEY (or ERRAND_GITHUB_APP_PRIVATE_KEY_FILE)',
  );
}

function readKey(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`invalid configuration:\n  ERRAND_GITHUB_APP_PRIVATE_KEY_FILE: cannot read ${file} (${(err as Error).message})`);
  }
}

/** The reviewer's settings: ERRAND_REVIEWER_* where set, the coder's otherwise. */
function reviewerSettings(e: z.output<typeof Env>): ModelSettings | undefined {
  const baseUrl = e.ERRAND_REVIEWER_BASE_URL ?? e.ERRAND_MODEL_BASE_URL;
  const model = e.ERRAND_REVIEWER_MODEL ?? e.ERRAND_MODEL;
  if (!baseUrl || !model) return undefined;
  return {
    baseUrl,
    model,
    apiKey: e.ERRAND_REVIEWER_API_KEY ?? (e.ERRAND_REVIEWER_BASE_URL ? undefined : e.ERRAND_MODEL_API_KEY),
    contextTokens: e.ERRAND_MODEL_CONTEXT_TOKENS,
    price: e.ERRAND_MODEL_PRICES[model],
    maxRetryAfterMs: e.ERRAND_MODEL_MAX_RETRY_AFTER_SECONDS * 1000,
  };
}

/** The message a user sees when they create a task on a server with no model. */
export const NO_MODEL_MESSAGE =
  'no model is configured on this server: set ERRAND_MODEL_BASE_URL (an OpenAI-compatible endpoint, e.g. https://api.openai.com/v1) and ERRAND_MODEL (e.g. gpt-4.1), plus ERRAND_MODEL_API_KEY if the endpoint needs one, then restart Errand';

export const stateDirs = (c: Config) => ({
  temporalDb: path.join(c.stateDir, 'temporal.db'),
  sandboxes: path.join(c.stateDir, 'sandboxes'),
  /** The bundled sandboxd the local provider runs (apps/worker/sandboxd-bundle.ts). */
  sandboxd: path.join(c.stateDir, 'sandboxd'),
  /** The local storage (ERRAND_STORE=local): blobs and logs, the audit trail's included. */
  artifacts: path.join(c.stateDir, 'artifacts'),
  /** Where the audit trail was kept before it moved into storage: read once and moved (apps/api/audit). */
  legacyAudit: path.join(c.stateDir, 'audit'),
  forge: path.join(c.stateDir, 'forge', 'pulls'),
});
