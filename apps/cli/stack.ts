// What `errand setup`, `dev`, `serve`, `worker` and `api` run: Errand itself (the embedded stack,
// the worker and the API against a Temporal). Loaded only by those commands, so the client
// commands (task, schedule, playbook, token) start without any of it.
import { Client, Connection } from '@temporalio/client';
import { startApiThread, startApiWithConnection } from '../api/api-thread.js';
import { openStorage } from '../providers.js';
import { loadConfig, stateDirs, type Config } from '../config.js';
import { createLogger, type Logger } from '../logger.js';
import { temporalConnectionOptions } from '../temporal-connection.js';
import { startWorker } from '../worker/worker.js';
import { startTracing } from '../tracing.js';
import { Redactor } from '../../lib/storage/redactor.js';
import { startNarrator } from './narrator.js';
import { ensureSandboxPackages } from './sandbox-packages.js';
import { ensureTemporalCli } from './temporal-cli.js';
import { startTemporalDevServer } from './temporal-dev-server.js';

type Stop = () => Promise<void>;

async function serve(config: Config, log: Logger, parts: { api: boolean; worker: boolean }): Promise<Stop[]> {
  const stops: Stop[] = [];
  if (parts.worker) {
    const tracing = startTracing('errand-worker');
    const worker = await startWorker(config, log, tracing);
    stops.push(async () => {
      await worker.shutdown();
      await tracing?.shutdown();
    });
    worker.done.catch((err: Error) => {
      log.fatal({ err }, 'worker stopped');
      process.exit(1);
    });
  }
  if (parts.api) {
    // Beside a worker, the API gets a thread of its own (see api-thread.ts).
    const api = parts.worker
      ? await startApiThread(config, (err) => {
          log.fatal({ err }, 'the API stopped');
          process.exit(1);
        })
      : await startApiWithConnection(config, log);
    // The address the API took (port 0 included), for what reads this config later.
    config.api.publicUrl ??= api.url;
    // The terminal of `npm start` says what tasks do, in words (the JSON logs are for machines).
    const narrate = parts.worker && (config.narrate === 'true' || (config.narrate === 'auto' && process.stderr.isTTY));
    const connection = narrate ? await Connection.connect(temporalConnectionOptions(config)) : undefined;
    const narrator = connection
      ? startNarrator({ client: new Client({ connection, namespace: config.temporal.namespace }), logs: (await openStorage(config)).logs, redactor: new Redactor(config.secrets), taskQueue: config.temporal.taskQueue })
      : undefined;
    stops.unshift(async () => {
      await narrator?.stop();
      await api.close();
      await connection?.close();
    });
  }
  return stops;
}

let stopping = false;
/**
 * A second signal this soon after the first is the same Ctrl-C: the terminal sends it to the
 * whole foreground process group, and the wrappers in it (npm, tsx) relay it to errand again.
 */
const SAME_SIGNAL_MS = 1_000;

/** Runs until SIGINT/SIGTERM, then stops everything in order (API first, Temporal last). */
function stopOnSignal(stops: Stop[], log: Logger): void {
  let firstAt = 0;
  const stop = async (signal: string) => {
    if (stopping) {
      if (Date.now() - firstAt < SAME_SIGNAL_MS) return;
      log.warn('second signal: exiting now');
      process.exit(130);
    }
    stopping = true;
    firstAt = Date.now();
    log.info({ signal }, 'shutting down');
    for (const s of stops) await s().catch((err: Error) => log.error({ err }, 'error while shutting down'));
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

function warnWithoutModel(config: Config, log: Logger): void {
  if (!config.model) {
    log.warn('no model configured: set ERRAND_MODEL_BASE_URL and ERRAND_MODEL; until then POST /tasks answers 400');
  } else if (!config.model.price && config.defaults.budget.maxCostUsd !== undefined) {
    log.warn(`ERRAND_MAX_COST_USD is set but ERRAND_MODEL_PRICES has no price for ${config.model.model}: costs count as 0, so that budget never stops a task`);
  }
}

/** `errand setup`: the configuration checked, then the Temporal CLI and the sandbox packages installed when missing. */
export async function runSetup(): Promise<void> {
  // The configuration first: a typo is worth saying before minutes of building, not after.
  loadConfig();
  const cli = await ensureTemporalCli();
  console.error(`Temporal CLI: ${cli}`);
  for (const [pkg, program] of Object.entries(await ensureSandboxPackages())) if (program) console.error(`${pkg}: ${program}`);
}

/** `errand dev`: the embedded stack in the foreground. */
export async function runDev(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.logLevel, config.secrets);
  const temporal = await startTemporalDevServer({
    port: config.dev.temporalPort,
    uiPort: config.dev.uiPort,
    dbFile: stateDirs(config).temporalDb,
    sqliteSync: config.dev.sqliteSync,
    pidFile: `${stateDirs(config).temporalDb}.pid`,
  });
  const uiUrl = temporal.uiUrl ?? config.temporal.uiUrl;
  const devConfig: Config = { ...config, temporal: { ...config.temporal, address: temporal.address, uiUrl } };
  const stops = await serve(devConfig, log, { api: true, worker: true }).catch(async (err) => {
    await temporal.stop();
    throw err;
  });
  stops.push(temporal.stop);
  stopOnSignal(stops, log);
  temporal.process.once('exit', (code) => {
    if (stopping) return;
    log.fatal({ code }, 'the Temporal dev server exited');
    process.exit(1);
  });
  warnWithoutModel(config, log);
  const api = `http://${config.api.host}:${config.api.port}`;
  console.error(
    [
      '',
      `  Errand is running (state in ${config.stateDir})`,
      `  Console      ${api}/console`,
      // With tokens on, a bare curl answers 401: say what it needs.
      config.apiTokens.length
        ? `  API          ${api}   (try: curl -H "authorization: Bearer $ERRAND_API_TOKEN" ${api}/tasks)`
        : `  API          ${api}   (try: curl ${api}/tasks)`,
      `  API docs     ${api}/docs`,
      `  Metrics      ${api}/metrics, the worker's on port ${config.temporal.metricsPort}`,
      `  Temporal UI  ${uiUrl}`,
      `  Temporal     ${temporal.address}`,
      "  Ctrl-C stops Errand. A task's sandbox that is running a command is left to finish it, and",
      '  the task goes on in it at the next start (errand sandboxes lists what is left).',
      '',
    ].join('\n'),
  );
}

/** `errand serve`, `worker` or `api`: against ERRAND_TEMPORAL_ADDRESS. */
export async function runServe(parts: { api: boolean; worker: boolean }): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.logLevel, config.secrets);
  if (parts.api) warnWithoutModel(config, log);
  stopOnSignal(await serve(config, log, parts), log);
}

/**
 * `errand sandboxes`: the local sandboxes a stopped stack left in the state directory (a task's
 * sandbox outlives Ctrl-C so the task goes on in it at the next start), each with its task and
 * whether its sandboxd still runs; with `remove`, each stopped and deleted (its task, if it runs
 * again, restores its work from its last checkpoint, as after any lost sandbox).
 */
export async function runSandboxes(opts: { remove?: boolean }): Promise<void> {
  const config = loadConfig();
  const { LocalSandboxProvider } = await import('../../activities/sandbox/local.js');
  const sandboxes = new LocalSandboxProvider({ dir: stateDirs(config).sandboxes, sandboxdCommand: [] });
  const found = await sandboxes.list();
  if (!found.length) return void console.log(`no sandboxes in ${stateDirs(config).sandboxes}`);
  for (const { sandboxId, workflowId } of found) {
    const status = await sandboxes.status(sandboxId);
    if (opts.remove) await sandboxes.destroy(sandboxId);
    console.log(`${sandboxId}\t${workflowId ?? '(no task)'}\t${status === 'running' ? 'sandboxd running' : 'stopped'}${opts.remove ? '\tremoved' : ''}`);
  }
}
