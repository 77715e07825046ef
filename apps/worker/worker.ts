// The Temporal worker: wires providers from config into the activities and registers the
// workflows. Embedded defaults: local sandbox, local forge, local artifact directory.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import v8 from 'node:v8';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { OpenAIModelClient, RedactingModelClient } from '../../activities/agent/model-client.js';
import { HEARTBEAT_EVERY_MS } from '../../activities/heartbeat.js';
import { createActivities } from '../../activities/index.js';
import { Redactor } from '../../lib/storage/redactor.js';
import { stateDirs, type Config } from '../config.js';
import { forgeFromConfig, openStorage, sandboxesFromConfig } from '../providers.js';
import { temporalConnectionOptions } from '../temporal-connection.js';
import { ensureSearchAttributes } from '../temporal-search-attributes.js';
import { tracingClientInterceptors, tracingWorkerOptions, type Tracing } from '../tracing.js';
import type { Logger } from '../logger.js';
import { chooseConfinement, chooseCpuGroups, probeBubblewrap, type Confining } from './confinement.js';
import { McpConnections } from '../../activities/agent/mcp/connections.js';
import { EnvironmentStore } from '../../lib/environments/environment-store.js';
import { serveWorkerMetrics, WorkerMetrics } from './metrics.js';
import { bundleSandboxd } from './sandboxd-bundle.js';
import { ensureSystemSchedules, workflowStatus } from './system-schedules.js';
import { admissionGate } from './admission-gate.js';
import { scheduleControl } from './schedule-control.js';
import { LinearIssues } from '../../lib/linear/linear-issues.js';
import { SlackThreads } from '../../lib/slack/slack-threads.js';

const here = path.dirname(fileURLToPath(import.meta.url));


export interface RunningWorker {
  worker: Worker;
  /** Resolves when the worker has shut down. */
  done: Promise<void>;
  shutdown(): Promise<void>;
}

/** The SDK runtime is installed once per process; its metrics exporter is where it said. */
let sdkMetricsUrl: string | undefined;
let runtimeInstalled = false;

/** `tracing`: OpenTelemetry (apps/tracing.ts), started by the caller; off when undefined. */
export async function startWorker(config: Config, log: Logger, tracing?: Tracing): Promise<RunningWorker> {
  if (!runtimeInstalled) {
    // An activity's objects live through a model call of seconds, so they outlive young-generation
    // collections and die in the old generation; V8 lets that garbage grow the heap to about four
    // times what lives (200 tasks: ~140 MB live, 550 MB heap) before a full collection. Growing by
    // half of what lives keeps the process near its working set for little CPU (npm run bench:
    // peak RSS 1.27 GB → 0.9 GB under 200 tasks, CPU per task unchanged). Process-wide, so the
    // workflow and API threads follow it too.
    v8.setFlagsFromString('--heap-growing-percent=50');
    // The SDK's worker metrics, on a loopback port the worker's /metrics reads and passes on.
    const sdkMetrics = `127.0.0.1:${await freePort()}`;
    // The SDK's own logs (bundler output, state changes, and its native core's) go through our
    // logger, warnings and up, as structured lines like every other.
    Runtime.install({
      // errand's own signal handling stops the parts in order (API, worker, then Temporal).
      shutdownSignals: [],
      logger: new DefaultLogger('WARN', (entry) => {
        // The API waits a bounded time for a running task's state (GET /tasks/:id), then answers
        // without it; the worker's late answer finds the query gone. Expected, not a fault.
        if (entry.message.startsWith('Query not found when attempting to respond')) log.debug({ sdk: entry.meta }, entry.message);
        else log.warn({ sdk: entry.meta }, entry.message);
      }),
      telemetryOptions: { logging: { filter: { core: 'WARN', other: 'WARN' }, forward: {} }, metrics: { prometheus: { bindAddress: sdkMetrics } } },
    });
    sdkMetricsUrl = `http://${sdkMetrics}/metrics`;
    runtimeInstalled = true;
  }
  const metrics = new WorkerMetrics({ coderModel: config.model?.model, reviewerModel: config.reviewer?.model, sandboxProvider: config.sandbox.provider });
  const dirs = stateDirs(config);
  const redactor = new Redactor(config.secrets);
  // bubblewrap confines the local sandbox; a Kubernetes pod is confined by its own spec.
  const confinement = config.sandbox.provider === 'local' ? await chooseConfinement(config, log) : undefined;
  const cpuGroups = config.sandbox.provider === 'local' ? await chooseCpuGroups(log) : undefined;
  const mcpConnections = config.mcp && (await mcpConnectionsFor(config, confinement, log));
  const connection = await NativeConnection.connect(temporalConnectionOptions(config));
  // A client too, for what activities ask Temporal (the reaper, schedules) and for Errand's own schedules.
  const clientConnection = await Connection.connect(temporalConnectionOptions(config));
  const client = new Client({ connection: clientConnection, namespace: config.temporal.namespace, interceptors: tracingClientInterceptors(tracing) });
  // Before any workflow runs: every task upserts its phase, and the API lists by these.
  await ensureSearchAttributes(clientConnection, config.temporal.namespace, log);
  const storage = await openStorage(config, redactor);
  const sandboxes = sandboxesFromConfig(config, {
    sandboxdCommand: config.sandbox.provider === 'local' ? await bundleSandboxd(dirs.sandboxd) : [],
    confinement: confinement && { ...confinement, hide: [config.stateDir, ...config.sandbox.hide] },
    env: allowlisted(process.env, config.sandbox.envAllowlist),
    cpuGroups,
  });
  if (config.environmentCache && config.sandbox.provider === 'local') {
    const why = sandboxes.layers ? await sandboxes.layers.unusable() : 'sandbox commands are not confined as a user of their own (Errand is not root, or bubblewrap is missing)';
    if (why) log.info({ why }, 'kept environments are restored by unpacking them into each sandbox, not copy-on-write');
    else log.info('kept environments are restored copy-on-write (a layer per snapshot on this host, mounted under each sandbox)');
  }
  const activities = createActivities({
    sandboxes,
    workflows: { status: (workflowId) => workflowStatus(client, workflowId) },
    schedules: scheduleControl(client),
    admission: admissionGate(client, config),
    forge: forgeFromConfig(config),
    models: {
      coder: config.model ? new RedactingModelClient(new OpenAIModelClient(config.model), redactor) : undefined,
      reviewer: config.reviewer ? new RedactingModelClient(new OpenAIModelClient(config.reviewer), redactor) : undefined,
    },
    storage,
    environments: config.environmentCache && new EnvironmentStore(storage, config.environmentCache),
    redactor,
    limits: { setupTimeoutMs: config.setupTimeoutMs, repo: config.repoLimits, environmentRefresh: config.environmentRefresh },
    registries: config.registries,
    mcp: mcpConnections && config.mcp && { config: config.mcp, connections: mcpConnections },
    scopedSecrets: config.scopedSecrets,
    origins: { ...(config.slack && { slack: new SlackThreads(config.slack) }), ...(config.linear && { linear: new LinearIssues(config.linear) }) },
  });
  const traced = tracingWorkerOptions(tracing);
  const worker = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    workflowsPath: path.join(here, '../../workflows/index.ts'),
    activities,
    // In-flight activities get this long to finish on shutdown; then they are cancelled and a
    // worker that starts later retries them.
    shutdownGraceTime: '5 seconds',
    // Heartbeats reach Temporal as often as activities send them (every 2 s), not at 80% of the
    // heartbeat timeout: a dead worker's activities are retried within the 8 s timeout, a live
    // one's never by mistake.
    maxHeartbeatThrottleInterval: HEARTBEAT_EVERY_MS,
    // An agent's activities mostly wait on a model: the SDK's default of 100 at once would hold
    // the 101st task back while a hundred wait on answers.
    maxConcurrentActivityTaskExecutions: config.temporal.maxActivities,
    interceptors: { activity: [metrics.interceptor, ...(traced.interceptors?.activity ?? [])], workflowModules: traced.interceptors?.workflowModules },
    sinks: { ...metrics.sinks, ...traced.sinks },
  });
  const metricsServer = await serveWorkerMetrics(metrics, { host: config.api.host, port: config.temporal.metricsPort, sdkUrl: sdkMetricsUrl }, log);
  await ensureSystemSchedules(client, config, log);
  const done = worker.run().finally(async () => {
    await mcpConnections?.closeAll();
    await metricsServer.close();
    await clientConnection.close();
    await connection.close();
  });
  log.info({ taskQueue: config.temporal.taskQueue, temporal: config.temporal.address, sandboxes: config.sandbox.provider }, 'worker started');
  return {
    worker,
    done,
    shutdown: async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await done;
    },
  };
}

/**
 * The worker's MCP connections. Stdio servers run beside the worker, confined like sandbox
 * commands are (bubblewrap, as the sandbox's user) but apart from every sandbox; where
 * bubblewrap is not used they run as the worker, which is said once.
 */
async function mcpConnectionsFor(config: Config, confinement: Confining | undefined, log: Logger): Promise<McpConnections> {
  const servers = [config.mcp!.mcpServers, ...Object.values(config.mcp!.repos).map((r) => r.mcpServers)].flatMap((s) => Object.values(s));
  const stdio = servers.some((s) => !('url' in s));
  let confining = confinement;
  if (!confining && stdio && config.sandbox.confinement !== 'none') {
    const probe = await probeBubblewrap(config.sandbox.user);
    if ('bwrap' in probe) confining = probe;
  }
  if (stdio && !confining) log.warn({ fix: 'install bubblewrap' }, "MCP stdio servers run unconfined: as the worker's user, able to read what it can (they still get only the environment they are configured with)");
  return new McpConnections({
    secrets: config.scopedSecrets,
    dir: path.join(config.stateDir, 'mcp'),
    confinement: confining && { bwrap: confining.bwrap, runAs: confining.runAs, hide: [config.stateDir, ...config.sandbox.hide] },
    version: (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version,
  });
}

/** The operator's allowlisted variables, with the values the worker has for them. */
function allowlisted(env: NodeJS.ProcessEnv, names: string[]): Record<string, string> {
  return Object.fromEntries(names.flatMap((name) => (env[name] === undefined ? [] : [[name, env[name]!]])));
}

/** A port free on loopback now (the SDK's exporter takes an address, not a listening socket). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
