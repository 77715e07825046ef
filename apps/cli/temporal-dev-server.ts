// Starts `temporal server start-dev` as a child process with Errand's search attributes,
// persisting to a SQLite file when given one, and waits until it answers.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTES } from '../../workflows/contracts/search-attributes.js';
import { stopChild } from './stop-child.js';
import { requireTemporalCli } from './temporal-cli.js';

export interface DevServerOptions {
  port: number;
  uiPort: number;
  /** SQLite file; omitted means in-memory (tests). */
  dbFile?: string;
  /**
   * How the SQLite file is written. `normal` (the default): a write-ahead log synced at its
   * checkpoints, so a crash of any process (Temporal's included) loses nothing, and a crash of the
   * machine may lose the last moments. `full`: every commit synced to disk, as SQLite does by
   * default, which survives a power loss too and costs a few disk flushes per workflow or
   * activity task.
   */
  sqliteSync?: 'normal' | 'full';
  headless?: boolean;
  /** Records the server's pid, so a server orphaned by a killed `errand dev` is stopped next time. */
  pidFile?: string;
  ip?: string;
  startTimeoutMs?: number;
}

export interface DevServer {
  address: string;
  uiUrl?: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

export async function startTemporalDevServer(opts: DevServerOptions): Promise<DevServer> {
  const cli = await requireTemporalCli();
  const ip = opts.ip ?? '127.0.0.1';
  const args = ['server', 'start-dev', '--ip', ip, '--port', String(opts.port), '--log-level', 'warn'];
  if (opts.headless) args.push('--headless');
  else args.push('--ui-port', String(opts.uiPort));
  if (opts.dbFile) {
    await mkdir(path.dirname(opts.dbFile), { recursive: true });
    args.push('--db-filename', opts.dbFile);
    // WAL is what makes `normal` safe against a crashed process; with `full`, SQLite's own defaults.
    if ((opts.sqliteSync ?? 'normal') === 'normal') args.push('--sqlite-pragma', 'journal_mode=WAL', '--sqlite-pragma', 'synchronous=NORMAL');
    else args.push('--sqlite-pragma', 'journal_mode=DELETE', '--sqlite-pragma', 'synchronous=FULL');
  }
  for (const key of SEARCH_ATTRIBUTES) args.push('--search-attribute', `${key.name}=Keyword`);
  // The history service reads its transfer queue (what hands every workflow and activity task to
  // matching) at 20 polls a second by default, sized for a many-host cluster. On this one host it
  // capped a task at ~22 tasks a second after a short burst: ~45 ms of waiting before each
  // workflow and activity task, ~200 ms an agent step (`npm run bench` shows the difference).
  args.push('--dynamic-config-value', 'history.transferProcessorMaxPollRPS=1000');
  // A workflow task that schedules an activity may take it back with its completion (eager
  // dispatch, which the TypeScript SDK asks for by default), skipping a round trip through
  // matching for every model call and tool call. Off by default in the server.
  args.push('--dynamic-config-value', 'system.enableActivityEagerExecution=true');
  // The dev server re-reads its search attributes from the database at every read of one (so a
  // new one shows at once); Errand registers its own at start. Measured under load (200 tasks):
  // a third of the database operations (94k → 62k), on its single SQLite connection.
  args.push('--dynamic-config-value', 'system.forceSearchAttributesCacheRefreshOnRead=false');
  if (opts.pidFile) await stopOrphan(opts.pidFile);
  // Its own process group: Ctrl-C reaches errand, which stops the API and the worker first and
  // Temporal last, instead of all three at once.
  const child = spawn(cli, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  const keep = (b: Buffer) => {
    output = (output + b.toString()).slice(-4000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  if (opts.pidFile && child.pid) await writeFile(opts.pidFile, String(child.pid));
  const address = `${ip}:${opts.port}`;
  const deadline = Date.now() + (opts.startTimeoutMs ?? 60_000);
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`temporal server start-dev exited with code ${child.exitCode}:\n${output}`);
    }
    const conn = await Connection.connect({ address, connectTimeout: 1000 }).catch(() => undefined);
    if (conn) {
      const ok = await conn.workflowService.getSystemInfo({}).then(
        () => true,
        () => false,
      );
      await conn.close();
      if (ok) break;
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`temporal server start-dev did not answer on ${address} in time:\n${output}`);
    }
    await sleep(200);
  }
  return {
    address,
    uiUrl: opts.headless ? undefined : `http://localhost:${opts.uiPort}`,
    process: child,
    stop: () => stopChild(child),
  };
}

async function stopOrphan(pidFile: string): Promise<void> {
  const pid = Number(await readFile(pidFile, 'utf8').catch(() => ''));
  if (!pid) return;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  if (cmdline.includes('start-dev')) {
    console.error(`stopping the Temporal dev server (pid ${pid}) left running by an earlier errand dev`);
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 100 && (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')); i++) await sleep(100);
  }
  await rm(pidFile, { force: true });
}
