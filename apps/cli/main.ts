// `errand`: the command people start. `errand dev` runs the embedded stack (Temporal dev server,
// worker, API) in the foreground; `serve`, `worker` and `api` run against an existing Temporal.
import { Command } from 'commander';
import { Client, Connection } from '@temporalio/client';
import { startApiThread, startApiWithConnection } from '../api/api-thread.js';
import { openStorage } from '../providers.js';
import { ConfigError, loadConfig, stateDirs, type Config } from '../config.js';
import { createLogger, type Logger } from '../logger.js';
import { temporalConnectionOptions } from '../temporal-connection.js';
import { startWorker } from '../worker/worker.js';
import { startTracing } from '../tracing.js';
import { Redactor } from '../../lib/storage/redactor.js';
import { startNarrator } from './narrator.js';
import { ensureSandboxPackages } from './sandbox-packages.js';
import { registerScheduleCommands } from './schedule-commands.js';
import { registerTokenCommands } from './token-commands.js';
import { registerPlaybookCommands, registerTaskCommands } from './task-commands.js';
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

async function main(argv: string[]): Promise<void> {
  const program = new Command('errand').description('Errand: a self-hosted coding agent service on Temporal');

  program
    .command('setup')
    .description('install what Errand needs beyond npm packages (the Temporal CLI, once; bubblewrap and socat)')
    .action(async () => {
      const cli = await ensureTemporalCli();
      console.error(`Temporal CLI: ${cli}`);
      for (const [pkg, program] of Object.entries(await ensureSandboxPackages())) if (program) console.error(`${pkg}: ${program}`);
    });

  program
    .command('dev')
    .description('run the embedded stack: Temporal dev server with its UI, the worker and the API')
    .action(async () => {
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
          `  API          ${api}   (try: curl ${api}/tasks)`,
          `  API docs     ${api}/docs`,
          `  Metrics      ${api}/metrics, the worker's on port ${config.temporal.metricsPort}`,
          `  Temporal UI  ${uiUrl}`,
          `  Temporal     ${temporal.address}`,
          '  Ctrl-C stops everything.',
          '',
        ].join('\n'),
      );
    });

  for (const [name, parts, description] of [
    ['serve', { api: true, worker: true }, 'run the worker and the API against ERRAND_TEMPORAL_ADDRESS'],
    ['worker', { api: false, worker: true }, 'run only the worker'],
    ['api', { api: true, worker: false }, 'run only the API'],
  ] as const) {
    program
      .command(name)
      .description(description)
      .action(async () => {
        const config = loadConfig();
        const log = createLogger(config.logLevel, config.secrets);
        if (parts.api) warnWithoutModel(config, log);
        stopOnSignal(await serve(config, log, parts), log);
      });
  }

  registerTaskCommands(program);
  registerPlaybookCommands(program);
  registerScheduleCommands(program);
  registerTokenCommands(program);
  await program.parseAsync(argv);
}

main(process.argv).catch((err: unknown) => {
  console.error(`errand: ${err instanceof ConfigError || err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
