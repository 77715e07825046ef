// `npm run bench:recovery`: how long a task waits after the whole `errand dev` tree (Temporal
// dev server, worker, API) is killed with SIGKILL in the middle of a command and started again
// on the same state: restart → ready, and ready → the task's next model call. A measurement,
// asserting nothing; the heartbeat timeout (workflows/coding-task.ts) is what moves it.
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { call, FINISH, FIX_SUM, ModelServer } from '../test/fixtures/model-server.js';
import { BUGGY_SUM, makeOriginRepo } from '../test/fixtures/repos.js';
import { api, eventually } from '../test/support/errand-process.js';
import { freePort } from '../test/support/free-port.js';
import { startTempRoot } from '../test/support/temp-root.js';

const model = new ModelServer();
await model.start();
// Everything the run creates goes under it (TMPDIR for the processes it starts), and goes with it.
const tmp = startTempRoot('recovery');
const state = path.join(tmp.root, 'state');
mkdirSync(state);
const ports = { temporal: await freePort(), ui: await freePort(), api: await freePort() };
const env = {
  ...process.env,
  ERRAND_STATE_DIR: state,
  ERRAND_DEV_TEMPORAL_PORT: String(ports.temporal),
  ERRAND_DEV_UI_PORT: String(ports.ui),
  ERRAND_API_PORT: String(ports.api),
  ERRAND_MODEL_BASE_URL: model.url,
  ERRAND_MODEL: 'fixture-coder',
  ERRAND_REVIEWER_MODEL: 'fixture-reviewer',
  ERRAND_LOG_LEVEL: 'warn',
  ERRAND_NARRATE: 'false',
};
const url = `http://127.0.0.1:${ports.api}`;
const start = () => spawn(process.execPath, ['--import', 'tsx', 'apps/cli/main.ts', 'dev'], { env, detached: true, stdio: 'ignore' });
const ready = () => eventually(async () => ((await api(url, 'GET', '/health/ready').catch(() => ({ status: 0 }))).status === 200 ? true : undefined), 120_000, 'the API to be ready');

let dev = start();
try {
  await ready();
  // The command runs long the first time; its retry (after the restart) finishes at once.
  const script = model.script('[recover]', [call('shell', { command: '[ -e .marker ] || { touch .marker; sleep 120; }' }), FIX_SUM, FINISH], { indexBy: 'turn' });
  const id = (await api(url, 'POST', '/tasks', { repo: makeOriginRepo({ ...BUGGY_SUM, '.gitignore': '.marker\n' }), prompt: '[recover] Fix sum.' })).body.id as string;
  await eventually(async () => ((await api(url, 'GET', `/tasks/${id}`)).body.lastAction === 'step 1: shell' ? true : undefined), 60_000, 'the command to run');
  await new Promise((r) => setTimeout(r, 1_000));
  process.kill(-dev.pid!, 'SIGKILL');
  const calls = script.requests.length;
  const restartAt = Date.now();
  dev = start();
  await ready();
  const readyAt = Date.now();
  await eventually(async () => (script.requests.length > calls ? true : undefined), 120_000, 'the next step');
  const nextAt = Date.now();
  console.log(`restart → ready               ${readyAt - restartAt} ms`);
  console.log(`ready → the task's next step  ${nextAt - readyAt} ms`);
} finally {
  process.kill(-dev.pid!, 'SIGTERM');
  await model.stop();
  await new Promise((r) => setTimeout(r, 2_000));
  tmp.remove();
}
