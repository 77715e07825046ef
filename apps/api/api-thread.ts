// The API on a thread of its own, for the process that also runs the worker (`errand serve`,
// `errand dev`). The worker's event loop stalls for hundreds of milliseconds while a burst of
// tasks starts or finishes together (workflow activations, activity starts, sandbox processes),
// and requests queued behind those stalls (GET /tasks/:id p99 1.8 s with 200 tasks running).
// On its own thread the API answers on its own loop; it stays in the same process, so a SIGKILL
// takes both down and no orphan holds the port.
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { Client, Connection, defaultGrpcRetryOptions, makeGrpcRetryInterceptor } from '@temporalio/client';
import type { Config } from '../config.js';
import { createLogger, type Logger } from '../logger.js';
import { temporalConnectionOptions } from '../temporal-connection.js';
import { ensureSearchAttributes } from '../temporal-search-attributes.js';
import { startTracing, tracingClientInterceptors } from '../tracing.js';
import { startApi, type RunningApi } from './server.js';

type FromThread = { listening: string } | { closed: true };

/**
 * A caller waits for the API's answer, so a Temporal that does not answer is told within about
 * a second (a 503, problems/problem-details.ts) rather than after the client's default ten
 * attempts (20 s); a worker keeps the default and waits Temporal out.
 */
const API_GRPC_RETRIES = makeGrpcRetryInterceptor(defaultGrpcRetryOptions({ maxAttempts: 4 }));

/** The API with a Temporal connection (and tracing, when asked for) of its own; closing it closes them. */
export async function startApiWithConnection(config: Config, log: Logger): Promise<RunningApi> {
  const tracing = startTracing('errand-api');
  const connection = await Connection.connect({ ...temporalConnectionOptions(config), interceptors: [API_GRPC_RETRIES] });
  const client = new Client({ connection, namespace: config.temporal.namespace, interceptors: tracingClientInterceptors(tracing) });
  const api = await ensureSearchAttributes(connection, config.temporal.namespace, log)
    .then(() => startApi(config, client, log, tracing))
    .catch(async (err: unknown) => {
      await connection.close();
      await tracing?.shutdown();
      throw err;
    });
  return {
    url: api.url,
    close: async () => {
      await api.close();
      await connection.close();
      await tracing?.shutdown();
    },
  };
}

/**
 * Starts the API on a new thread; resolves once it listens. `onCrash` hears of a thread that
 * ends on its own after that (the caller decides whether the process goes on without an API).
 */
export function startApiThread(config: Config, onCrash: (err: Error) => void): Promise<RunningApi> {
  const thread = new Worker(threadEntry(), { eval: true, workerData: { errandApi: config } });
  let closing = false;
  return new Promise((resolve, reject) => {
    const failed = (err: Error) => (closing ? undefined : onCrash(err));
    thread.once('error', reject);
    thread.once('exit', (code) => reject(new Error(`the API thread exited with code ${code} before it listened`)));
    thread.on('message', (message: FromThread) => {
      if (!('listening' in message)) return;
      thread.removeAllListeners('error').removeAllListeners('exit');
      thread.once('error', failed);
      thread.once('exit', (code) => failed(new Error(`the API thread exited with code ${code}`)));
      resolve({
        url: message.listening,
        close: async () => {
          closing = true;
          const closed = new Promise<void>((done) => {
            thread.on('message', (m: FromThread) => 'closed' in m && done());
            thread.once('exit', () => done());
          });
          thread.postMessage('close');
          await closed;
          await thread.terminate();
        },
      });
    });
  });
}

/**
 * Code that loads this module on the new thread. Run from TypeScript (through tsx), the thread
 * registers tsx first: Node 20 does not apply the parent's `--import tsx` to worker threads.
 */
function threadEntry(): string {
  const self = JSON.stringify(import.meta.url);
  if (!import.meta.url.endsWith('.ts')) return `import(${self});`;
  const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  return `import(${tsx}).then((tsx) => tsx.register()).then(() => import(${self}));`;
}

async function runThread(config: Config): Promise<void> {
  const log = createLogger(config.logLevel, config.secrets);
  const api = await startApiWithConnection(config, log);
  parentPort!.on('message', (message: unknown) => {
    if (message !== 'close') return;
    void api.close().finally(() => parentPort!.postMessage({ closed: true } satisfies FromThread));
  });
  parentPort!.postMessage({ listening: api.url } satisfies FromThread);
}

if (!isMainThread && (workerData as { errandApi?: Config } | null)?.errandApi) {
  // Thrown outside the promise, an error reaches the main thread as the Worker's 'error' event.
  runThread((workerData as { errandApi: Config }).errandApi).catch((err: unknown) => {
    process.nextTick(() => {
      throw err;
    });
  });
}
