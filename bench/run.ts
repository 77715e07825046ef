// `npm run bench`: what Errand's durability costs a task, as ratios against the same work done
// directly in the same run. A real Temporal dev server (SQLite, as `npm start` runs it), a real
// `errand serve`, the fixture model server and real git; the baseline makes the same model calls
// and sandboxd requests itself, with no workflow in between. Figures vary with the machine: read
// the ratios, and compare runs on one machine only.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { pushFromSandbox } from '../activities/git/transfer.js';
import { prepareWorkspace } from '../activities/git/workspace.js';
import { LocalSandboxProvider } from '../activities/sandbox/local.js';
import { SandboxdClient } from '../activities/sandbox/sandboxd-client.js';
import { startTemporalDevServer } from '../apps/cli/temporal-dev-server.js';
import { probeBubblewrap } from '../apps/worker/confinement.js';
import { sandboxdCommand } from '../apps/worker/worker.js';
import { call, REVIEWER_MODEL, type ModelServer, FIX_SUM, FINISH } from '../test/fixtures/model-server.js';
import { BUGGY_SUM, makeOriginRepo } from '../test/fixtures/repos.js';
import { api, eventually, GiveUp, startErrandWithModel, type ErrandProcess } from '../test/support/errand-process.js';
import { freePort } from '../test/support/free-port.js';

const positive = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive whole number');
  return n;
};
const opts = new Command('bench')
  .description('measure the per-task and per-step cost of running a task through Errand')
  .option('--steps <n>', 'agent steps per task', positive, 50)
  .option('--concurrency <n>', 'tasks run at once in the throughput figure', positive, 4)
  .option('--rounds <n>', 'repetitions of the start, step and finish figures (the median is shown)', positive, 3)
  .parse()
  .opts<{ steps: number; concurrency: number; rounds: number }>();

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Figures {
  /** Task created → the model's first request. */
  start: number;
  /** Mean time from one model request to the next: a model call and a tool call. */
  step: number;
  /** The model's last request (finish) → the task closed: tests, review, push, pull request. */
  finish: number;
}
interface Timing extends Figures {
  firstAt: number;
  lastAt: number;
}

let counter = 0;
/** A script of `steps` list_dir calls, then the fix and finish, under a marker of its own. */
function scriptFor(model: ModelServer, steps: number) {
  const marker = `[bench-${++counter}]`;
  return { marker, script: model.script(marker, [...Array.from({ length: steps }, () => call('list_dir', {})), FIX_SUM, FINISH], { indexBy: 'turn' }) };
}

/** Creates a task through the API; the returned function waits for it and reads its timings. */
async function runTask(model: ModelServer, errand: ErrandProcess, steps: number): Promise<() => Promise<Timing>> {
  const { marker, script } = scriptFor(model, steps);
  const origin = makeOriginRepo(BUGGY_SUM);
  const postedAt = Date.now();
  const res = await api(errand.url, 'POST', '/tasks', { repo: origin, prompt: `${marker} Fix sum.`, maxSteps: steps + 10 });
  if (res.status !== 201) throw new Error(`POST /tasks answered ${res.status}: ${JSON.stringify(res.body)}`);
  const id = res.body.id as string;
  return async () => {
    const task = await eventually(
      async () => {
        const view = (await api(errand.url, 'GET', `/tasks/${id}`)).body;
        if (view.status === 'completed') return view;
        if (view.status !== 'running') throw new GiveUp(`task ${id} ended ${view.status}: ${view.error ?? ''}`);
        return undefined;
      },
      600_000,
      `task ${id}`,
    );
    rmSync(path.dirname(origin), { recursive: true, force: true });
    const at = script.receivedAt;
    const [firstAt, lastAt] = [at[0]!, at.at(-1)!];
    return { start: firstAt - postedAt, step: (lastAt - firstAt) / (at.length - 1), finish: Date.parse(task.closedAt) - lastAt, firstAt, lastAt };
  };
}

/** The same work without Errand: the model calls and sandboxd requests made directly. */
async function direct(model: ModelServer, sandboxes: LocalSandboxProvider, steps: number): Promise<Figures> {
  const { marker } = scriptFor(model, steps);
  const origin = makeOriginRepo(BUGGY_SUM);
  const sandboxId = `bench-${counter}`;
  const chat = async (modelName: string, messages: unknown[]) => {
    const res = await fetch(`${model.url}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: modelName, messages }) });
    if (!res.ok) throw new Error(`fixture model answered ${res.status}`);
    return (await res.json()) as { choices: { message: unknown }[] };
  };
  const exec = async (sandbox: SandboxdClient, cmd: string, extra: object = {}) => {
    const r = await sandbox.exec({ cmd, timeoutMs: 120_000, ...extra });
    if (r.exitCode !== 0) throw new Error(`${cmd}: ${r.stderr}`);
  };

  let t = Date.now();
  await sandboxes.provision({ taskId: sandboxId, sandboxId, allowNetwork: false });
  const sandbox = new SandboxdClient(sandboxId, await sandboxes.endpoint(sandboxId));
  const remote = { url: origin, env: {} };
  await prepareWorkspace(sandbox, { remote, baseBranch: 'main', branch: `errand/${sandboxId}` });
  const start = Date.now() - t;

  const messages: unknown[] = [
    { role: 'system', content: 'bench' },
    { role: 'user', content: `${marker} Fix sum.` },
  ];
  t = Date.now();
  for (let i = 0; i < steps; i++) {
    messages.push((await chat('fixture-coder', messages)).choices[0]!.message);
    const listing = await sandbox.list({ path: '.' });
    messages.push({ role: 'tool', tool_call_id: `call_${i}`, content: JSON.stringify(listing) });
  }
  const step = (Date.now() - t) / steps;

  t = Date.now();
  await sandbox.writeFile({ path: 'sum.js', content: 'exports.sum = (a, b) => a + b;\n' });
  await exec(sandbox, 'npm test');
  await exec(sandbox, 'git add -A && git -c user.name=bench -c user.email=bench@localhost commit -qm "Fix sum" && git diff HEAD~1');
  await chat(REVIEWER_MODEL, [{ role: 'user', content: `${marker} review` }]);
  // Errand pushes from the worker, never from the sandbox (the forge token stays out of it).
  const baseSha = execFileSync('git', ['-C', origin, 'rev-parse', 'main'], { encoding: 'utf8' }).trim();
  await pushFromSandbox(sandbox, { branch: `errand/${sandboxId}`, baseSha, remote, vet: () => undefined });
  const finish = Date.now() - t;
  await sandboxes.destroy(sandboxId);
  rmSync(path.dirname(origin), { recursive: true, force: true });
  return { start, step, finish };
}

const ms = (n: number) => `${n.toFixed(n < 10 ? 1 : 0)} ms`;
const line = (what: string, errand: string, base: string, ratio: number) => console.log(`${what.padEnd(36)}${errand.padStart(10)}${base.padStart(10)}${`${ratio.toFixed(2)}x`.padStart(9)}`);

async function main(): Promise<void> {
  const work = mkdtempSync(path.join(os.tmpdir(), 'errand-bench-'));
  const stops: (() => Promise<void>)[] = [];
  try {
    const temporal = await startTemporalDevServer({ port: await freePort(), uiPort: 0, headless: true, dbFile: path.join(work, 'temporal.db'), startTimeoutMs: 90_000 });
    stops.unshift(temporal.stop);
    process.env.ERRAND_TEST_TEMPORAL_ADDRESS = temporal.address;
    const { model, errand } = await startErrandWithModel();
    stops.unshift(() => model.stop(), errand.stop);
    const confinement = await probeBubblewrap();
    const sandboxes = new LocalSandboxProvider({
      dir: path.join(work, 'sandboxes'),
      sandboxdCommand: sandboxdCommand(),
      ...('bwrap' in confinement && { confinement: { ...confinement, hide: [work] } }),
    });
    console.log(`errand bench: ${opts.steps} steps a task, ${opts.rounds} rounds, ${opts.concurrency} tasks at once; ${os.cpus().length} CPUs, Node ${process.version}`);
    console.log(`sandbox commands ${'bwrap' in confinement ? 'confined with bubblewrap' : `unconfined (${confinement.reason})`}; Temporal dev server on SQLite\n`);
    // Unmeasured: module loading and the first workflow task warm up here.
    await (await runTask(model, errand, 2))();
    await direct(model, sandboxes, 2);

    const measured: Timing[] = [];
    const baseline: Figures[] = [];
    for (let r = 0; r < opts.rounds; r++) {
      measured.push(await (await runTask(model, errand, opts.steps))());
      baseline.push(await direct(model, sandboxes, opts.steps));
    }
    const pick = (xs: Figures[], k: keyof Figures) => median(xs.map((x) => x[k]));

    const waits = await Promise.all(Array.from({ length: opts.concurrency }, () => runTask(model, errand, opts.steps)));
    const together = await Promise.all(waits.map((w) => w()));
    const span = Math.max(...together.map((t) => t.lastAt)) - Math.min(...together.map((t) => t.firstAt));
    const concurrentRate = (opts.concurrency * opts.steps * 1000) / span;
    const singleRate = 1000 / pick(measured, 'step');

    console.log(`${'figure (median)'.padEnd(36)}${'errand'.padStart(10)}${'direct'.padStart(10)}${'ratio'.padStart(9)}`);
    for (const [what, k] of [
      ['task created → first model call', 'start'],
      ['one agent step (model + tool)', 'step'],
      ['finish → task closed', 'finish'],
    ] as const) {
      line(what, ms(pick(measured, k)), ms(pick(baseline, k)), pick(measured, k) / pick(baseline, k));
    }
    line(`steps/s: ${opts.concurrency} tasks at once vs one`, concurrentRate.toFixed(1), singleRate.toFixed(1), concurrentRate / singleRate);
    console.log('\ndirect: the same model calls and sandboxd requests, one after another, with no workflow in between');
    console.log('(start: provision and clone; finish: tests, commit, one review call, push). The ratio is what durability costs.');
  } finally {
    // Whatever started, stopped, even when a later start failed.
    for (const stop of stops) await stop();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
