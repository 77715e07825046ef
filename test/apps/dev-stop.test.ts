// `errand dev` (what `npm start` runs) stopped by Ctrl-C: the terminal sends SIGINT to the whole
// foreground process group, and the wrappers in it (npm, tsx) relay it to errand again, so errand
// gets two at once. That is one Ctrl-C: everything stops in order, the Temporal dev server (in a
// process group of its own) included, and nothing is left running.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, it } from '@jest/globals';
import { api, eventually, isRunning, PROJECT_ROOT } from '../support/errand-process.js';
import { freePort } from '../support/free-port.js';
import { writeTokensFile } from '../support/tokens-file.js';

it('stops everything on one Ctrl-C relayed twice, Temporal included', async () => {
  const state = mkdtempSync(path.join(os.tmpdir(), 'errand-dev-stop-'));
  const port = await freePort();
  const env = {
    ...process.env,
    ERRAND_STATE_DIR: state,
    ERRAND_DEV_TEMPORAL_PORT: String(await freePort()),
    ERRAND_DEV_UI_PORT: String(await freePort()),
    ERRAND_API_PORT: String(port),
    ERRAND_WORKER_METRICS_PORT: '0',
    ERRAND_REAPER_INTERVAL_MINUTES: '0',
    ERRAND_NARRATE: 'false',
    ERRAND_LOG_LEVEL: 'info',
    // With tokens on, the banner's curl must send one (a bare one answers 401).
    ERRAND_API_TOKENS_FILE: writeTokensFile({ ops: { name: 'ops', scopes: ['admin'] } }).file,
  };
  // A process group of its own, as a terminal's foreground job is.
  const dev = spawn(process.execPath, ['--import', 'tsx', 'apps/cli/main.ts', 'dev'], { cwd: PROJECT_ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  dev.stdout!.on('data', (b: Buffer) => (output += b.toString()));
  dev.stderr!.on('data', (b: Buffer) => (output += b.toString()));
  const exited = new Promise<number | null>((resolve) => dev.once('exit', (code) => resolve(code)));
  let temporalPid: number | undefined;
  try {
    await eventually(async () => ((await api(`http://127.0.0.1:${port}`, 'GET', '/health/ready').catch(() => ({ status: 0 }))).status === 200 ? true : undefined), 120_000, `errand dev to be ready:\n${output}`);
    temporalPid = Number(readFileSync(path.join(state, 'temporal.db.pid'), 'utf8'));
    // The banner names the console, shows a curl that would be answered, and says what Ctrl-C leaves.
    await eventually(async () => (output.includes('Ctrl-C stops Errand') ? true : undefined), 10_000, 'the banner');
    expect(output).toContain(`  Console      http://127.0.0.1:${port}/console`);
    expect(output).toContain(`(try: curl -H "authorization: Bearer $ERRAND_API_TOKEN" http://127.0.0.1:${port}/tasks)`);
    expect(output).toContain('errand sandboxes lists what is left');
    expect(isRunning(temporalPid)).toBe(true);

    process.kill(-dev.pid!, 'SIGINT');
    // The wrapper's relay, once its own handler has run (sent at once, the kernel merges the two).
    await new Promise((resolve) => setTimeout(resolve, 100));
    process.kill(dev.pid!, 'SIGINT');
    expect(await exited).toBe(0);
    expect(output).not.toContain('exiting now');
    await eventually(async () => (isRunning(temporalPid!) ? undefined : true), 20_000, 'the Temporal dev server to stop');
  } finally {
    if (dev.exitCode === null) process.kill(-dev.pid!, 'SIGKILL');
    if (temporalPid && isRunning(temporalPid)) process.kill(temporalPid, 'SIGKILL');
  }
}, 180_000);
