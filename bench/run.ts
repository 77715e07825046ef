// `npm run bench`: what Errand's durability costs a task, and how far one machine goes. A real
// Temporal (the CLI's dev server on SQLite, as `npm start` runs it; with `--temporal cluster` the
// server on PostgreSQL with several history shards, as production runs it; `dev,cluster` both, one
// after the other, compared at the end), a real `errand serve`, the fixture model server and real git. Each figure is printed next to its baseline measured in the same run
// where one exists (the same model calls and sandboxd requests made directly, with no workflow
// in between; one task alone for the figures under load), and all of them are written as JSON.
// Figures vary with the machine: read the ratios, and compare runs on one machine only.
import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { Worker } from 'node:worker_threads';
import os from 'node:os';
import path from 'node:path';
import { tsToMs } from '@temporalio/common/lib/time.js';
import proto from '@temporalio/proto';
import { Command, InvalidArgumentError } from 'commander';
import { LocalSandboxProvider } from '../activities/sandbox/local.js';
import { startTemporalDevServer } from '../apps/cli/temporal-dev-server.js';
import { probeBubblewrap } from '../apps/worker/confinement.js';
import { SandboxCpuGroups } from '../activities/sandbox/cpu-group.js';
import { bundleSandboxd } from '../apps/worker/sandboxd-bundle.js';
import { taskWorkflowId } from '../workflows/names.js';
import { startErrandWithModel, temporalClient } from '../test/support/errand-process.js';
import { HISTORY_SHARDS, startTemporalCluster, TEMPORAL_SERVER_VERSION, temporalClusterMissing } from '../test/support/temporal-cluster.js';
import { freePort } from '../test/support/free-port.js';
import { startTempRoot } from '../test/support/temp-root.js';
import { cpuSeconds, cpuSplit, eventTimes, median, percentile, rssMb, samplePeak, samplePss } from './measure.js';
import { environmentFigures } from './environment.js';
import { registriesEnv, registryHost } from '../test/support/dependency-registries.js';
import { startNpmRegistry } from '../test/support/npm-registry.js';
import { closeTemporal, direct, runTask, runTogether, submitBurst, type Figures, type Timing } from './tasks.js';

const whole = (min: number) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`expected a whole number of at least ${min}`);
  return n;
};
const list = (value: string) => value.split(',').map((v) => whole(1)(v.trim()));
const LANES = ['dev', 'cluster'] as const;
type Lane = (typeof LANES)[number];
const lanes = (value: string): Lane[] => {
  const named = value.split(',').map((v) => v.trim());
  const unknown = named.filter((v) => !LANES.includes(v as Lane));
  if (unknown.length || !named.length) throw new InvalidArgumentError(`expected dev, cluster or dev,cluster; not ${unknown.join(',') || 'nothing'}`);
  return [...new Set(named as Lane[])];
};
const opts = new Command('bench')
  .description('measure what running a task through Errand costs, and how far one machine goes')
  .option('--steps <n>', 'agent steps per task', whole(1), 50)
  .option('--rounds <n>', 'repetitions of the single-task figures (the median is shown)', whole(1), 3)
  .option('--curve <n,n,...>', 'tasks at once for the throughput curve', list, [1, 10, 50])
  .option('--start-tasks <n>', 'tasks (one at a time) for the start-latency percentiles', whole(1), 20)
  .option('--submit <n>', 'POST /tasks sent at once (each twice, same Idempotency-Key); 0 skips', whole(0), 200)
  .option('--load <n>', 'tasks at once for the overload run; 0 skips', whole(0), 200)
  .option('--load-steps <n>', 'steps of each overload task', whole(1), 10)
  .option('--model-latency-ms <ms>', "the model's answer time in the overload run", whole(0), 2000)
  .option('--get-rate <n>', 'GET /tasks/:id per second during the overload run (a random running task each)', whole(0), 20)
  .option('--environment-packages <n>', "packages the environment cache's repository installs in its setup (a local registry); 0 skips", whole(0), 200)
  .option('--temporal <lanes>', 'Temporal to run on: dev (the CLI dev server), cluster (the server on PostgreSQL, several shards; npm run setup:cluster), or dev,cluster', lanes, ['dev'] as Lane[])
  .option('--sqlite-sync <mode>', "the dev server's SQLite writes: normal (WAL, as `npm start`) or full (every commit synced)", 'normal')
  .option('--json <file>', 'where the figures are written', 'bench-results.json')
  .parse()
  .opts<{ steps: number; rounds: number; curve: number[]; startTasks: number; submit: number; load: number; environmentPackages: number; loadSteps: number; modelLatencyMs: number; getRate: number; temporal: Lane[]; sqliteSync: 'normal' | 'full'; json: string }>();

const ms = (n: number) => (Number.isFinite(n) ? `${n.toFixed(n < 10 ? 1 : 0)} ms` : 'n/a');
const row = (what: string, value: string, base = '', ratio?: number) =>
  console.log(`${what.padEnd(44)}${value.padStart(12)}${base.padStart(10)}${(ratio === undefined || !Number.isFinite(ratio) ? '' : `${ratio.toFixed(2)}x`).padStart(9)}`);
const results: { machine?: unknown; options?: unknown; lanes: Partial<Record<Lane, Record<string, any>>> } = { lanes: {} };
/** The figures of the lane being run. */
let figures: Record<string, any> = {};
const record = (key: string, value: unknown) => (figures[key] = value);

/** The overload run's GET /tasks/:id loop, run in a worker thread: `{ ids }` starts it, `{ stop }` ends it and answers its latencies. */
const GET_POLLER = `
const { parentPort, workerData } = require('node:worker_threads');
let ids = [];
const gets = [];
const inFlight = new Set();
const timer = setInterval(() => {
  const id = ids[Math.floor(Math.random() * ids.length)];
  if (!id || !workerData.rate) return;
  const t = Date.now();
  const get = fetch(workerData.url + '/tasks/' + id).then((res) => res.arrayBuffer()).then(() => void gets.push(Date.now() - t), () => undefined);
  inFlight.add(get);
  get.finally(() => inFlight.delete(get));
}, workerData.rate ? 1000 / workerData.rate : 1000);
parentPort.on('message', async (m) => {
  if (m.ids) ids = m.ids;
  if (m.stop) {
    clearInterval(timer);
    await Promise.all(inFlight);
    parentPort.postMessage(gets);
  }
});
`;

async function main(): Promise<void> {
  if (opts.temporal.includes('cluster') && temporalClusterMissing()) throw new Error(`--temporal cluster: ${temporalClusterMissing()}; run npm run setup:cluster`);
  // Everything the run creates (repos, sandboxes, Errand's state) goes under it, and goes with it.
  const tmp = startTempRoot('bench');
  try {
    const confinement = await probeBubblewrap();
    results.machine = { cpus: os.cpus().length, memoryGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, confined: 'bwrap' in confinement };
    results.options = opts;
    console.log(`errand bench: ${os.cpus().length} CPUs, Node ${process.version}; sandbox commands ${'bwrap' in confinement ? 'confined with bubblewrap' : `unconfined (${confinement.reason})`}`);
    for (const lane of opts.temporal) {
      figures = results.lanes[lane] = {};
      await runLane(lane, path.join(tmp.root, lane), confinement);
    }
    if (opts.temporal.length > 1) compareLanes();
  } finally {
    tmp.remove();
  }
  writeFileSync(opts.json, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nbaseline: the same model calls and sandboxd requests made directly, one after another, with no`);
  console.log('workflow in between (first model call: provision and clone; finish: tests, commit, one review');
  console.log(`call, push); under load, one task alone. Figures as JSON: ${opts.json}`);
}

/** Every figure, with Temporal on `lane`: its server started for the lane and stopped after it. */
async function runLane(lane: Lane, work: string, confinement: Awaited<ReturnType<typeof probeBubblewrap>>): Promise<void> {
  const stops: (() => Promise<void>)[] = [];
  try {
    mkdirSync(work, { recursive: true });
    const temporal =
      lane === 'dev'
        ? await startTemporalDevServer({ port: await freePort(), uiPort: 0, headless: true, dbFile: path.join(work, 'temporal.db'), sqliteSync: opts.sqliteSync, startTimeoutMs: 90_000 }).then((dev) => ({ ...dev, pids: [dev.process.pid!] }))
        : await startTemporalCluster();
    stops.unshift(temporal.stop);
    process.env.ERRAND_TEST_TEMPORAL_ADDRESS = temporal.address;
    // The registry the environment figures' setup installs from: on an address a sandbox reaches through its egress proxy.
    const npm = opts.environmentPackages ? await startNpmRegistry(registryHost()) : undefined;
    if (npm) stops.unshift(npm.stop);
    const { model, errand } = await startErrandWithModel(npm ? await registriesEnv({ npm }) : {});
    stops.unshift(() => model.stop(), errand.stop);
    const cpuGroups = await SandboxCpuGroups.create();
    const sandboxes = new LocalSandboxProvider({
      dir: path.join(work, 'sandboxes'),
      sandboxdCommand: await bundleSandboxd(work),
      ...('bwrap' in confinement && { confinement: { ...confinement, hide: [work] } }),
      ...(cpuGroups instanceof SandboxCpuGroups && { cpuGroups }),
    });
    console.log(`\nTemporal: ${lane === 'dev' ? 'the CLI dev server on SQLite (as npm start)' : `the server ${TEMPORAL_SERVER_VERSION} on PostgreSQL, ${HISTORY_SHARDS} history shards, SQL visibility`}`);
    // Unmeasured: module loading and the first workflow task warm up here.
    await (await runTask(model, errand, 2))();
    await direct(model, sandboxes, 2);
    console.log(`${'figure'.padEnd(44)}${'errand'.padStart(12)}${'baseline'.padStart(10)}${'ratio'.padStart(9)}`);
    // One task alone against the same work done directly.
    const measured: Timing[] = [];
    const baseline: Figures[] = [];
    for (let r = 0; r < opts.rounds; r++) {
      measured.push(await (await runTask(model, errand, opts.steps))());
      baseline.push(await direct(model, sandboxes, opts.steps));
    }
    const pick = (xs: Figures[], k: keyof Figures) => median(xs.map((x) => x[k]));
    for (const [what, k] of [
      [`one agent step (model + tool), ${opts.steps} steps`, 'step'],
      ['finish → task closed', 'finish'],
    ] as const) {
      row(what, ms(pick(measured, k)), ms(pick(baseline, k)), pick(measured, k) / pick(baseline, k));
    }
    record('single', { step: { errand: pick(measured, 'step'), direct: pick(baseline, 'step') }, finish: { errand: pick(measured, 'finish'), direct: pick(baseline, 'finish') } });

    // Start latency, one task at a time: created → sandbox ready → first model call.
    const starts: { ready: number; first: number }[] = [];
    for (let i = 0; i < opts.startTasks; i++) {
      const t = await (await runTask(model, errand, 1))();
      starts.push({ ready: (eventTimes(errand.stateDir, t.id).get('sandbox_provisioned') ?? NaN) - t.postedAt, first: t.start });
    }
    const ready = starts.map((s) => s.ready);
    const first = starts.map((s) => s.first);
    row(`POST /tasks → sandbox ready, p50 (${opts.startTasks} tasks)`, ms(median(ready)));
    row('POST /tasks → sandbox ready, p95', ms(percentile(ready, 95)));
    row('POST /tasks → first model call, p50', ms(median(first)), ms(pick(baseline, 'start')), median(first) / pick(baseline, 'start'));
    row('POST /tasks → first model call, p95', ms(percentile(first, 95)));
    record('start', { sandboxReady: { p50: median(ready), p95: percentile(ready, 95) }, firstModelCall: { p50: median(first), p95: percentile(first, 95), direct: pick(baseline, 'start') } });

    // Throughput with a model that answers at once, and what it costs in CPU and memory.
    const curve: { tasks: number; stepsPerSecond: number }[] = [];
    const pss = samplePss(path.join(errand.stateDir, 'sandboxd', 'sandboxd.mjs'));
    const cpuTotal = () => Object.values(cpuSplit(errand.process.pid, temporal.pids)).reduce((a, b) => a + b, 0);
    const cpuBefore = cpuTotal();
    let curveSteps = 0;
    for (const n of opts.curve) {
      const together = await runTogether(model, errand, n, opts.steps);
      const span = Math.max(...together.map((t) => t.lastAt)) - Math.min(...together.map((t) => t.firstAt));
      curveSteps += together.reduce((sum, t) => sum + t.steps, 0);
      curve.push({ tasks: n, stepsPerSecond: (n * opts.steps * 1000) / span });
    }
    const cpuPerStep = ((cpuTotal() - cpuBefore) * 1000) / curveSteps;
    const sandboxdMb = pss();
    for (const c of curve) row(`steps/s, ${c.tasks} task${c.tasks === 1 ? '' : 's'} at once`, c.stepsPerSecond.toFixed(1), curve[0]!.stepsPerSecond.toFixed(1), c.stepsPerSecond / curve[0]!.stepsPerSecond);
    row('CPU per step (machine, less the bench)', ms(cpuPerStep));
    row(`memory of one sandboxd (PSS, peak; ${sandboxdMb.length} seen)`, sandboxdMb.length ? `${median(sandboxdMb).toFixed(1)} MB` : 'n/a');
    record('throughput', { curve, cpuMsPerStep: cpuPerStep, sandboxdPssMb: median(sandboxdMb) });

    if (opts.submit) {
      const burst = await submitBurst(model, errand, opts.submit);
      row(`POST /tasks, ${opts.submit} at once ×2, p50`, ms(median(burst.latencies)));
      row('POST /tasks under that burst, p95', ms(percentile(burst.latencies, 95)));
      row('POST /tasks under that burst, p99', ms(percentile(burst.latencies, 99)));
      row('POST /tasks under that burst, refused', String(burst.failed));
      record('submit', { requests: burst.latencies.length, p50: median(burst.latencies), p95: percentile(burst.latencies, 95), p99: percentile(burst.latencies, 99), refused: burst.failed });
    }

    if (npm) {
      const env = await environmentFigures(model, errand, npm, opts.environmentPackages);
      row(`POST → first model call, setup alone (${env.packages} packages)`, ms(env.setupAlone));
      row('… cold: a miss, the environment kept', ms(env.cold), ms(env.setupAlone), env.cold / env.setupAlone);
      // Warm against cold: the environment cache's target is a share of a miss.
      row('… warm: the environment restored (against cold)', ms(env.warm), ms(env.cold), env.warm / env.cold);
      row(`… warm again${env.layer ? ', its layer on this host' : ''} (against cold)`, ms(env.warmAgain), ms(env.cold), env.warmAgain / env.cold);
      row('environment: snapshot size', `${(env.snapshotBytes / 2 ** 20).toFixed(1)} MB`);
      row('environment: kept in (pack, copy, store)', ms(env.storeMs));
      row(`environment: restored in (fetch, check, unpack${env.layer ? ': a layer' : ''})`, ms(env.restoreMs));
      row('… of which unpacking in the sandbox', ms(env.unpackMs));
      row(`environment: restored again in${env.layer ? ' (the layer mounted)' : ''}`, ms(env.restoreAgainMs));
      record('environment', env);
    }

    if (opts.load) await overload(model, errand, temporal.pids);
  } finally {
    // Whatever started, stopped, even when a later start failed.
    await closeTemporal();
    for (const stop of stops) await stop();
  }
}

/** The two lanes' main figures side by side: what the cluster costs or saves against the dev server. */
function compareLanes(): void {
  const { dev, cluster } = results.lanes as Record<Lane, Record<string, any>>;
  console.log(`\n${'figure'.padEnd(44)}${'dev server'.padStart(12)}${'cluster'.padStart(10)}${'ratio'.padStart(9)}`);
  const side = (what: string, read: (f: Record<string, any>) => number | undefined, show: (n: number) => string = ms) => {
    const [a, b] = [read(dev), read(cluster)];
    if (a === undefined || b === undefined) return;
    row(what, show(a), show(b), b / a);
  };
  const seconds = (n: number) => `${n.toFixed(2)} s`;
  side('one agent step', (f) => f.single?.step.errand);
  side('finish → task closed', (f) => f.single?.finish.errand);
  side('POST /tasks → first model call, p50', (f) => f.start?.firstModelCall.p50);
  side(`steps/s, ${opts.curve.at(-1)} tasks at once`, (f) => f.throughput?.curve.at(-1).stepsPerSecond, (n) => n.toFixed(1));
  side('CPU per step', (f) => f.throughput?.cpuMsPerStep);
  side(`POST /tasks, ${opts.submit} at once ×2, p99`, (f) => f.submit?.p99);
  side(`${opts.load} tasks at once: p50`, (f) => f.overload?.p50Ms);
  side('  GET /tasks/:id meanwhile, p99', (f) => f.overload?.getP99Ms);
  side('  CPU a task, control plane (serve+Temporal)', (f) => f.overload && f.overload.cpuSecondsPerTaskByProcess.errand + f.overload.cpuSecondsPerTaskByProcess.temporal, seconds);
  side('  … of which Temporal', (f) => f.overload?.cpuSecondsPerTaskByProcess.temporal, seconds);
  side('  CPU a task, sandboxes and git', (f) => f.overload?.cpuSecondsPerTaskByProcess.children, seconds);
}

/**
 * `--load` tasks at once with a model that takes `--model-latency-ms` to answer, against one such
 * task alone: how long the last one takes, failures, retries and workflow-task timeouts caused
 * by overload (from the histories), the Errand process's peak memory, and GET /tasks/:id while
 * they run.
 */
async function overload(model: Parameters<typeof runTask>[0], errand: Parameters<typeof runTask>[1], temporalPids: number[]): Promise<void> {
  // Read first: a pause between the task alone and the two hundred lets the API close the
  // keep-alive connections the client would reuse for them.
  const servedBefore = await servedGets(errand.url);
  const alone = await (await runTask(model, errand, opts.loadSteps, opts.modelLatencyMs))();
  const aloneMs = alone.closedAt - alone.postedAt;
  const peakRss = samplePeak(() => rssMb(errand.process.pid));
  const cpu = () => cpuSplit(errand.process.pid, temporalPids);
  const cpuBefore = cpu();
  // GETs at a steady rate, whatever their answer time (a closed loop of back-to-back requests
  // would measure how many GETs the machine can answer, and add that much load to the run), from
  // a thread of their own: this one also answers the tasks' model calls, and its delays are not
  // the API's.
  const poller = new Worker(GET_POLLER, { eval: true, workerData: { url: errand.url, rate: opts.getRate } });
  const waits = await Promise.all(Array.from({ length: opts.load }, () => runTask(model, errand, opts.loadSteps, opts.modelLatencyMs)));
  poller.postMessage({ ids: waits.map((w) => w.id) });
  const outcomes = await Promise.allSettled(waits.map((w) => w()));
  const cpuAfter = cpu();
  const cpuParts = { errand: (cpuAfter.errand - cpuBefore.errand) / opts.load, children: (cpuAfter.children - cpuBefore.children) / opts.load, temporal: (cpuAfter.temporal - cpuBefore.temporal) / opts.load };
  const cpuPerTask = cpuParts.errand + cpuParts.children + cpuParts.temporal;
  const gets = await new Promise<number[]>((resolve) => {
    poller.once('message', resolve);
    poller.postMessage({ stop: true });
  });
  await poller.terminate();
  const done = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
  const took = done.map((t) => t.closedAt - t.postedAt);
  const { retries, timeouts, sticky, spent } = await overloadSigns(done.map((t) => t.id));
  row(`${opts.load} tasks × ${opts.loadSteps} steps, model ${opts.modelLatencyMs} ms: p50`, ms(median(took)), ms(aloneMs), median(took) / aloneMs);
  row('  the last one', ms(Math.max(...took)), ms(aloneMs), Math.max(...took) / aloneMs);
  row('  failed', String(opts.load - done.length));
  row('  activity retries / workflow-task timeouts', `${retries} / ${timeouts}`);
  row('  … of which waited too long on a sticky queue', String(sticky));
  // What caps the run on a small machine: with C cores, at best C / cpuPerTask tasks a second.
  row('  CPU per task (machine, less the bench)', `${cpuPerTask.toFixed(2)} s`);
  row('  … serve / the rest / Temporal', `${cpuParts.errand.toFixed(2)} / ${cpuParts.children.toFixed(2)} / ${cpuParts.temporal.toFixed(2)} s`);
  // What a cluster runs on its own nodes (the sandboxes run on others): what grows with tasks.
  row('  … control plane (serve + Temporal)', `${(cpuParts.errand + cpuParts.temporal).toFixed(2)} s`);
  const largest = [...spent].sort((a, b) => b[1] - a[1]).slice(0, 6);
  console.log("  where a task's time went (mean; the largest parts):");
  for (const [what, took] of largest) row(`    ${what}`, ms(took));
  row('  errand serve peak RSS', `${peakRss().toFixed(0)} MB`);
  const served = bucketP99(servedBefore, await servedGets(errand.url));
  row(`  GET /tasks/:id meanwhile (${opts.getRate}/s), p50`, ms(median(gets)));
  row('  GET /tasks/:id meanwhile, p99', ms(percentile(gets, 99)));
  // The API's own timing, to the bucket: it counts each task's last GET too (an ended task's).
  row('  … p99 as the API timed them (bucket), at most', ms(served));
  record('overload', { tasks: opts.load, steps: opts.loadSteps, modelLatencyMs: opts.modelLatencyMs, aloneMs, p50Ms: median(took), lastMs: Math.max(...took), failed: opts.load - done.length, retries, workflowTaskTimeouts: timeouts, stickyScheduleToStartTimeouts: sticky, cpuSecondsPerTask: cpuPerTask, cpuSecondsPerTaskByProcess: cpuParts, meanMsPerTask: Object.fromEntries(spent), peakRssMb: peakRss(), getP50Ms: median(gets), getP99Ms: percentile(gets, 99), getServedP99AtMostMs: served, temporalCpuSeconds: temporalPids.reduce((sum, pid) => sum + cpuSeconds(pid), 0) });
}

/**
 * Activity attempts after the first, and workflow tasks that timed out, across the tasks'
 * histories; the timeouts split into those that waited too long on a worker's sticky queue
 * (schedule-to-start) and those a worker took and did not finish in time (start-to-close).
 * Also where a task's time went, on average: each workflow task and activity (by type) queued
 * (scheduled → started) and running (started → closed).
 */
async function overloadSigns(ids: string[]): Promise<{ retries: number; timeouts: number; sticky: number; spent: Map<string, number> }> {
  const { client, close } = await temporalClient();
  let retries = 0;
  let timeouts = 0;
  let sticky = 0;
  const spent = new Map<string, number>();
  const add = (what: string, ms: number) => spent.set(what, (spent.get(what) ?? 0) + ms / ids.length);
  try {
    for (const id of ids) {
      const history = await client.workflow.getHandle(taskWorkflowId(id)).fetchHistory();
      const at = new Map<number, { time: number; what: string }>();
      for (const e of history.events ?? []) {
        const time = tsToMs(e.eventTime);
        const id = Number(e.eventId);
        const a = e.activityTaskStartedEventAttributes;
        if ((a?.attempt ?? 1) > 1) retries++;
        if (e.workflowTaskTimedOutEventAttributes) timeouts++;
        if (e.workflowTaskTimedOutEventAttributes?.timeoutType === proto.temporal.api.enums.v1.TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_START) sticky++;
        if (e.activityTaskScheduledEventAttributes) at.set(id, { time, what: e.activityTaskScheduledEventAttributes.activityType?.name ?? '?' });
        if (e.workflowTaskScheduledEventAttributes) at.set(id, { time, what: 'workflow task' });
        const started = a ?? e.workflowTaskStartedEventAttributes;
        const scheduled = started && at.get(Number(started.scheduledEventId));
        if (scheduled) {
          add(`${scheduled.what} queued`, time - scheduled.time);
          at.set(id, { time, what: scheduled.what });
        }
        const closed = e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes ?? e.workflowTaskCompletedEventAttributes ?? e.workflowTaskFailedEventAttributes ?? e.workflowTaskTimedOutEventAttributes;
        const start = closed && 'startedEventId' in closed ? at.get(Number(closed.startedEventId)) : undefined;
        if (start) add(`${start.what} running`, time - start.time);
      }
    }
  } finally {
    await close();
  }
  return { retries, timeouts, sticky, spent };
}

await main();

/** GET /tasks/:id as the API timed them (its request histogram): cumulative count by bucket bound, in ms. */
async function servedGets(url: string): Promise<Map<number, number>> {
  // A connection of its own (no agent), so the run's pooled keep-alive connections are left as they were.
  const text = await new Promise<string>((resolve, reject) => {
    http
      .get(`${url}/metrics`, { agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk)).on('end', () => resolve(body)).on('error', reject);
      })
      .on('error', reject);
  });
  const counts = new Map<number, number>();
  for (const m of text.matchAll(/^errand_http_request_seconds_bucket\{([^}]*)\} (\d+)$/gm)) {
    const labels = m[1]!;
    if (!labels.includes('method="GET"') || !labels.includes('route="/tasks/:id"')) continue;
    const le = /le="([^"]+)"/.exec(labels)![1]!;
    const bound = le === '+Inf' ? Infinity : Number(le) * 1000;
    counts.set(bound, (counts.get(bound) ?? 0) + Number(m[2]));
  }
  return counts;
}

/** The smallest bucket bound that 99% of the GETs between two readings fell within. */
function bucketP99(before: Map<number, number>, after: Map<number, number>): number {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const total = (after.get(Infinity) ?? 0) - (before.get(Infinity) ?? 0);
  return bounds.find((b) => (after.get(b) ?? 0) - (before.get(b) ?? 0) >= 0.99 * total) ?? Infinity;
}

