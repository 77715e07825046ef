// The API's Prometheus metrics (prom-client), at GET /metrics: webhook deliveries by event and
// result, request latency by route and status, and, read from Temporal visibility at each scrape,
// running tasks by phase and ended tasks by status (so they hold for every worker and survive
// restarts). Tasks started are counted by the worker (apps/worker/metrics.ts). Labels are bounded: route templates, never paths
// with ids; phases and statuses from fixed lists.
import type { Client } from '@temporalio/client';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { TASK_PHASES } from '../../../workflows/contracts/task.js';
import { TASK_WORKFLOWS_QUERY } from '../../../workflows/names.js';

const SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** The phases a running task can be in (the last three are ends, counted by status). */
const RUNNING_PHASES = TASK_PHASES.filter((p) => !['completed', 'failed', 'cancelled'].includes(p));

export class ApiMetrics {
  readonly registry = new Registry();
  readonly slackRequests = new Counter({ name: 'errand_slack_requests_total', help: 'What Slack events and interactions came to, by result (task_started, message_sent, approved, cancelled, refused, ignored, duplicate)', labelNames: ['result'], registers: [this.registry] });
  readonly linearDeliveries = new Counter({ name: 'errand_linear_deliveries_total', help: 'What Linear webhook deliveries came to, by result (task_started, message_sent, refused, ignored, duplicate)', labelNames: ['result'], registers: [this.registry] });
  readonly webhookDeliveries = new Counter({ name: 'errand_webhook_deliveries_total', help: 'GitHub webhook deliveries, by event and result (task_started, feedback_sent, ignored, duplicate, refused)', labelNames: ['event', 'result'], registers: [this.registry] });
  readonly requests = new Histogram({ name: 'errand_http_request_seconds', help: 'API requests, by method, route template and status', labelNames: ['method', 'route', 'status'], buckets: SECONDS, registers: [this.registry] });

  constructor(client: Client) {
    collectDefaultMetrics({ register: this.registry, prefix: 'errand_api_' });
    // The tasks GET /tasks lists: coding tasks and dependency bumps.
    const count = async (query: string) => Number((await client.workflow.count(`${TASK_WORKFLOWS_QUERY} AND ${query}`)).count);
    new Gauge({
      name: 'errand_tasks_running',
      help: 'Running tasks by phase (Temporal visibility, at scrape time)',
      labelNames: ['phase'],
      registers: [this.registry],
      async collect() {
        const counts = await Promise.all(RUNNING_PHASES.map((phase) => count(`ExecutionStatus = 'Running' AND ErrandPhase = '${phase}'`)));
        RUNNING_PHASES.forEach((phase, i) => this.set({ phase }, counts[i]!));
      },
    });
    const statuses = ['Completed', 'Failed', 'Canceled', 'Terminated', 'TimedOut'] as const;
    new Gauge({
      name: 'errand_tasks_ended',
      help: 'Ended tasks Temporal still keeps, by status (visibility, at scrape time; it falls as retention removes them)',
      labelNames: ['status'],
      registers: [this.registry],
      async collect() {
        const counts = await Promise.all(statuses.map((status) => count(`ExecutionStatus = '${status}'`)));
        statuses.forEach((status, i) => this.set({ status: status.toLowerCase() }, counts[i]!));
      },
    });
  }
}
