// The worker's Prometheus metrics (prom-client), served at /metrics on ERRAND_WORKER_METRICS_PORT
// together with the Temporal SDK's own worker metrics (slots, pollers, schedule-to-start, from
// the SDK runtime's Prometheus exporter on a loopback port): one scrape target per worker.
// What a task's activities do, measured where they run: every activity's time and its wait in
// the queue, tool calls by tool, model calls (the coder's turns and the reviews) and their
// tokens and cost by model, sandbox starts by provider; and what only the workflow knows, through
// sinks: tasks started and ended, steps, and the wait of a task queued by the admission limits.
// Labels are bounded sets (activity types, tool names, models, providers, outcomes), never a
// task id.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Context } from '@temporalio/activity';
import type { ActivityInboundCallsInterceptor, ActivityInterceptors, InjectedSinks } from '@temporalio/worker';
import type { ErrandSinks } from '../../workflows/contracts/sinks.js';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Logger } from '../logger.js';

const SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

export class WorkerMetrics {
  readonly registry = new Registry();
  private readonly activity = new Histogram({ name: 'errand_activity_seconds', help: 'Time an activity attempt ran, by activity type and outcome', labelNames: ['activity', 'outcome'], buckets: SECONDS, registers: [this.registry] });
  private readonly queued = new Histogram({ name: 'errand_activity_queue_seconds', help: 'Time an activity attempt waited between being scheduled and starting on a worker', labelNames: ['activity'], buckets: SECONDS, registers: [this.registry] });
  private readonly tool = new Histogram({ name: 'errand_tool_call_seconds', help: "Time an agent's tool call took in its sandbox, by tool and outcome (ok, error: the tool reported one, failed: the activity failed)", labelNames: ['tool', 'outcome'], buckets: SECONDS, registers: [this.registry] });
  private readonly model = new Histogram({ name: 'errand_model_call_seconds', help: 'Time a model turn took (the call, with its retries, and the transcript read and written), by model', labelNames: ['model', 'outcome'], buckets: SECONDS, registers: [this.registry] });
  private readonly tokens = new Counter({ name: 'errand_model_tokens_total', help: 'Tokens the model used, by model and kind (prompt, completion)', labelNames: ['model', 'kind'], registers: [this.registry] });
  private readonly cost = new Counter({ name: 'errand_model_cost_usd_total', help: 'What the model calls cost, by model (0 without a price in ERRAND_MODEL_PRICES)', labelNames: ['model'], registers: [this.registry] });
  private readonly step = new Histogram({ name: 'errand_step_seconds', help: "One agent step (a model turn and the tool calls it asked for), in the workflow's time", buckets: SECONDS, registers: [this.registry] });
  private readonly started = new Counter({ name: 'errand_tasks_started_total', help: "Tasks started (a task's first run: through the API, a webhook, a schedule or a dependency bump), by playbook (none for a plain prompt)", labelNames: ['playbook'], registers: [this.registry] });
  private readonly queue = new Histogram({ name: 'errand_task_queue_seconds', help: 'Time a task over a limit on running tasks waited, queued, for its slot', buckets: [...SECONDS, 900, 3600, 14400], registers: [this.registry] });
  private readonly ended = new Counter({ name: 'errand_tasks_ended_total', help: 'Tasks this worker saw end, by outcome and playbook (none for a plain prompt)', labelNames: ['outcome', 'playbook'], registers: [this.registry] });
  private readonly campaignsStarted = new Counter({ name: 'errand_campaigns_started_total', help: 'Campaigns started', registers: [this.registry] });
  private readonly campaignRepos = new Counter({ name: 'errand_campaign_repositories_total', help: 'Repositories in the campaigns started (a task each)', registers: [this.registry] });
  private readonly campaignsEnded = new Counter({ name: 'errand_campaigns_ended_total', help: 'Campaigns this worker saw end, by phase (completed, stopped by its failure policy, cancelled)', labelNames: ['phase'], registers: [this.registry] });
  private readonly attemptTasks = new Counter({ name: 'errand_attempt_tasks_started_total', help: 'Tasks started with several attempts', registers: [this.registry] });
  private readonly attempts = new Counter({ name: 'errand_attempts_started_total', help: "Attempts those tasks started (a coding task each, also in errand_tasks_started_total)", registers: [this.registry] });
  private readonly attemptTasksEnded = new Counter({ name: 'errand_attempt_tasks_ended_total', help: 'Tasks with several attempts this worker saw end, by outcome (chosen: one attempt chosen and its PR opened; none: no attempt to choose; cancelled)', labelNames: ['outcome'], registers: [this.registry] });
  private readonly provision = new Histogram({ name: 'errand_sandbox_provision_seconds', help: 'Time a sandbox took to start, by provider and outcome', labelNames: ['provider', 'outcome'], buckets: SECONDS, registers: [this.registry] });

  constructor(private readonly names: { coderModel?: string; reviewerModel?: string; sandboxProvider: string }) {
    collectDefaultMetrics({ register: this.registry, prefix: 'errand_worker_' });
  }

  /** What workflows report (workflows/contracts/sinks.ts ErrandSinks); not again when a task is replayed. */
  readonly sinks: InjectedSinks<ErrandSinks> = {
    metrics: {
      stepFinished: { fn: (_info, seconds) => this.step.observe(seconds), callDuringReplay: false },
      taskStarted: { fn: (_info, playbook) => this.started.inc({ playbook }), callDuringReplay: false },
      taskAdmitted: { fn: (_info, seconds) => this.queue.observe(seconds), callDuringReplay: false },
      taskEnded: { fn: (_info, outcome, playbook) => this.ended.inc({ outcome, playbook }), callDuringReplay: false },
      campaignStarted: {
        fn: (_info, repositories) => {
          this.campaignsStarted.inc();
          this.campaignRepos.inc(repositories);
        },
        callDuringReplay: false,
      },
      campaignEnded: { fn: (_info, phase) => this.campaignsEnded.inc({ phase }), callDuringReplay: false },
      attemptsStarted: {
        fn: (_info, attempts) => {
          this.attemptTasks.inc();
          this.attempts.inc(attempts);
        },
        callDuringReplay: false,
      },
      attemptsEnded: { fn: (_info, outcome) => this.attemptTasksEnded.inc({ outcome }), callDuringReplay: false },
    },
  };

  /** The activity interceptor that measures every attempt. */
  readonly interceptor = (ctx: Context): ActivityInterceptors => ({ inbound: this.inbound(ctx) });

  private inbound(ctx: Context): ActivityInboundCallsInterceptor {
    return {
      execute: async (input, next) => {
        const { activityType, currentAttemptScheduledTimestampMs } = ctx.info;
        const started = Date.now();
        this.queued.observe({ activity: activityType }, Math.max(0, started - currentAttemptScheduledTimestampMs) / 1000);
        let outcome = 'failed';
        let toolOutcome = 'failed';
        try {
          const result = await next(input);
          outcome = 'ok';
          // A tool that ran and reported an error (a failing command, a missing file) is not a failed activity.
          toolOutcome = (result as { isError?: boolean } | undefined)?.isError ? 'error' : 'ok';
          this.observeResult(activityType, result);
          return result;
        } finally {
          const seconds = (Date.now() - started) / 1000;
          this.activity.observe({ activity: activityType, outcome }, seconds);
          if (activityType === 'runTool') this.tool.observe({ tool: toolOf(input.args[0]), outcome: toolOutcome }, seconds);
          const model = this.modelOf(activityType);
          if (model) this.model.observe({ model, outcome }, seconds);
          if (activityType === 'provisionSandbox') this.provision.observe({ provider: this.names.sandboxProvider, outcome }, seconds);
        }
      },
    };
  }

  /** The model an activity calls: the coder's for a turn, the reviewer's for a review. */
  private modelOf(activityType: string): string | undefined {
    if (activityType === 'modelTurn') return this.names.coderModel ?? 'none';
    if (activityType === 'review') return this.names.reviewerModel ?? this.names.coderModel ?? 'none';
    return undefined;
  }

  private observeResult(activityType: string, result: unknown): void {
    const model = this.modelOf(activityType);
    if (!model) return;
    const { usage, costUsd } = result as { usage?: { prompt: number; completion: number }; costUsd?: number };
    if (usage) {
      this.tokens.inc({ model, kind: 'prompt' }, usage.prompt);
      this.tokens.inc({ model, kind: 'completion' }, usage.completion);
    }
    if (costUsd) this.cost.inc({ model }, costUsd);
  }
}

/** The tool a runTool call ran: one of the agent's tools (a bounded set), never its arguments. */
function toolOf(request: unknown): string {
  const name = (request as { call?: { name?: unknown } } | undefined)?.call?.name;
  return typeof name === 'string' && /^[a-z_]{1,40}$/.test(name) ? name : 'other';
}

/**
 * Serves /metrics: Errand's metrics, then the SDK's (fetched from its exporter at `sdkUrl`).
 * Resolves with its URL once listening; `close` stops it.
 */
export async function serveWorkerMetrics(metrics: WorkerMetrics, opts: { host: string; port: number; sdkUrl?: string }, log: Logger): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || new URL(req.url ?? '/', 'http://worker').pathname !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('the worker serves GET /metrics only\n');
      return;
    }
    void (async () => {
      const own = await metrics.registry.metrics();
      const sdk = opts.sdkUrl ? await fetch(opts.sdkUrl).then((r) => r.text(), () => '') : '';
      res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(`${own}\n${sdk}`);
    })().catch((err: Error) => {
      log.error({ err }, 'metrics scrape failed');
      res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics are unavailable; see the worker log\n');
    });
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(opts.port, opts.host, resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port}/metrics`;
  log.info({ url }, 'worker metrics listening');
  return { url, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
