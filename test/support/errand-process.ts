// Runs Errand as a real process (`errand serve|api|worker`) against the test Temporal server,
// with its own task queue and state directory, and waits until it is up.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { stopChild } from '../../apps/cli/stop-child.js';
import { ModelServer } from '../fixtures/model-server.js';

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface ErrandProcess {
  url: string;
  stateDir: string;
  taskQueue: string;
  process: ChildProcess;
  output: () => string;
  stop(): Promise<void>;
}

export function temporalAddress(): string {
  const address = process.env.ERRAND_TEST_TEMPORAL_ADDRESS;
  if (!address) throw new Error('ERRAND_TEST_TEMPORAL_ADDRESS is not set: run the tests with `npm test` (jest globalSetup starts Temporal)');
  return address;
}

export async function startErrand(opts: {
  command?: 'serve' | 'api' | 'worker';
  env?: Record<string, string | undefined>;
  stateDir?: string;
  taskQueue?: string;
}): Promise<ErrandProcess> {
  const command = opts.command ?? 'serve';
  const stateDir = opts.stateDir ?? mkdtempSync(path.join(os.tmpdir(), 'errand-state-'));
  const taskQueue = opts.taskQueue ?? `test-${Math.random().toString(36).slice(2, 10)}`;
  const env: Record<string, string | undefined> = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    // The run's temporary directory (test/support/temp-root.ts): Errand's scratch goes there too.
    TMPDIR: process.env.TMPDIR,
    ERRAND_TEMPORAL_ADDRESS: temporalAddress(),
    ERRAND_TASK_QUEUE: taskQueue,
    ERRAND_STATE_DIR: stateDir,
    ERRAND_API_PORT: '0',
    ERRAND_WORKER_METRICS_PORT: '0',
    ERRAND_LOG_LEVEL: 'info',
    // The fixture model server tells the review agent's calls apart by this name.
    ERRAND_REVIEWER_MODEL: 'fixture-reviewer',
    // Test workers come and go on their own task queues: no schedules of Errand's own left behind.
    ERRAND_REAPER_INTERVAL_MINUTES: '0',
    ERRAND_ENVIRONMENT_REFRESH_MINUTES: '0',
    ...opts.env,
  };
  const child = spawn(process.execPath, ['--import', 'tsx', 'apps/cli/main.ts', command], {
    cwd: PROJECT_ROOT,
    env: Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined)) as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const ready = command === 'worker' ? 'worker started' : 'api listening';
  const url = await new Promise<string>((resolve, reject) => {
    // Seconds when the machine is free; a CI machine running two suites' processes at once took over a minute.
    const timer = setTimeout(() => reject(new Error(`errand ${command} did not start in 120s:\n${output}`)), 120_000);
    let started = false;
    const onData = (b: Buffer) => {
      output += b.toString();
      // Looked for once: a long run's output is long.
      if (started) return;
      for (const line of output.split('\n')) {
        if (!line.includes(ready)) continue;
        started = true;
        clearTimeout(timer);
        try {
          resolve((JSON.parse(line) as { url?: string }).url ?? '');
        } catch {
          resolve('');
        }
        return;
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`errand ${command} exited with ${code}:\n${output}`));
    });
  });
  return {
    url,
    stateDir,
    taskQueue,
    process: child,
    output: () => output,
    stop: () => stopChild(child, 15_000),
  };
}

/**
 * The fixture model server and an Errand process (`errand serve`) that uses it, as coder
 * (`fixture-coder`) and reviewer (`fixture-reviewer`); `env` adds to or overrides that.
 */
export async function startErrandWithModel(env: Record<string, string | undefined> = {}, command: 'serve' | 'api' = 'serve'): Promise<{ model: ModelServer; errand: ErrandProcess }> {
  const model = new ModelServer();
  await model.start();
  const errand = await startErrand({ command, env: { ERRAND_MODEL_BASE_URL: model.url, ERRAND_MODEL: 'fixture-coder', ...env } });
  return { model, errand };
}

export async function temporalClient(): Promise<{ client: Client; close: () => Promise<void> }> {
  const connection = await Connection.connect({ address: temporalAddress() });
  return { client: new Client({ connection }), close: () => connection.close() };
}

/** Thrown by a check to stop `eventually` at once: waiting longer cannot help. */
export class GiveUp extends Error {}

/**
 * Polls `check` until it returns a value that is not undefined, or fails after `timeoutMs`.
 * Errors count as "not yet" (a server still starting), except GiveUp, which ends the wait.
 */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 60_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      if (err instanceof GiveUp) throw err;
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** One request to the API; `token` is sent as the bearer, for a server with ERRAND_API_TOKENS_FILE. */
export async function api<T = any>(base: string, method: string, route: string, body?: unknown, token?: string): Promise<{ status: number; body: T }> {
  const res = await fetch(`${base}${route}`, {
    method,
    headers: { ...(body !== undefined && { 'content-type': 'application/json' }), ...(token && { authorization: `Bearer ${token}` }) },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON; keep the text
  }
  return { status: res.status, body: parsed as T };
}

/** Whether a process is still running (a zombie waiting for its reaper counts as gone). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/**
 * Pids of the host processes whose command line contains `marker`. Sandbox commands run in their
 * own pid namespace, so the pid a command sees for itself means nothing out here; tests start
 * them with a unique marker instead (`exec -a <marker> sleep 300`).
 */
export function findProcesses(marker: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').includes(marker)) pids.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return pids.filter(isRunning);
}
