// Records the workflow histories that the determinism guard (test/workflow/replay.test.ts)
// replays: `npm run record-histories`. Each scenario runs a real task against its own Temporal
// dev server and the fixture model, then its history is written to test/fixtures/histories/.
// Coding tasks, and the other workflows people run with the child coding task each starts: a
// dependency bump (`dependency-bump`, on a local npm registry) and a schedule's run (`scheduled-run`).
// Re-record only when a workflow change is meant to be incompatible and is behind patched().
// With scenario names (`npm run record-histories -- lost-after-finish`), only those are recorded
// and the rest are kept: histories of older code are what prove new code still replays them.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { requireTemporalCli } from '../../apps/cli/temporal-cli.js';
import { startTemporalDevServer } from '../../apps/cli/temporal-dev-server.js';
import { campaignWorkflowId, taskWorkflowId } from '../../workflows/names.js';
import { call, gate, ModelServer, type Step, FIX_SUM, FINISH } from '../fixtures/model-server.js';
import { BUGGY_SUM, makeOriginRepo } from '../fixtures/repos.js';
import { npmOriginRepo, registriesEnv, registryHost } from './dependency-registries.js';
import { api, eventually, PROJECT_ROOT, startErrand, temporalClient, type ErrandProcess } from './errand-process.js';
import { freePort } from './free-port.js';
import { startNpmRegistry } from './npm-registry.js';

const OUT = path.join(PROJECT_ROOT, 'test', 'fixtures', 'histories');

async function main() {
  const cli = await requireTemporalCli();
  const temporal = await startTemporalDevServer({ port: await freePort(), uiPort: 0, headless: true });
  process.env.ERRAND_TEST_TEMPORAL_ADDRESS = temporal.address;
  const model = new ModelServer();
  await model.start();
  // The dependency bump's registry: one package with a minor release the bump updates to.
  const npm = await startNpmRegistry(registryHost());
  await npm.publish({ name: 'alpha', version: '1.0.0' });
  await npm.publish({ name: 'alpha', version: '1.1.0' });
  // An MCP server (the protocol's reference test server): one tool that only reads, one taken as writing.
  const mcpConfig = path.join(mkdtempSync(path.join(os.tmpdir(), 'errand-record-')), 'mcp.json');
  const everything = path.join(PROJECT_ROOT, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js');
  writeFileSync(mcpConfig, JSON.stringify({ mcpServers: { everything: { command: process.execPath, args: [everything, 'stdio'], tools: ['echo', 'get-sum'], readOnlyTools: ['echo'] } } }));
  const errand = await startErrand({
    env: { ERRAND_MODEL_BASE_URL: model.url, ERRAND_MODEL: 'fixture-coder', ERRAND_CHECKPOINT_EVERY_STEPS: '2', ERRAND_MCP_CONFIG: mcpConfig, ...(await registriesEnv({ npm })) },
  });
  const only = process.argv.slice(2);
  if (!only.length) rmSync(OUT, { recursive: true, force: true });
  mkdirSync(OUT, { recursive: true });
  const { client, close } = await temporalClient();

  const wanted = (name: string) => !only.length || only.includes(name);
  /** Writes the history of every run of `workflowId` (one file, or one per run after continue-as-new). */
  const record = async (name: string, workflowId: string) => {
    const runs: string[] = [];
    for await (const execution of client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) runs.push(execution.runId);
    for (const [i, runId] of runs.reverse().entries()) {
      // The CLI writes the JSON form `temporal workflow show` gives users, which replay reads.
      const json = execFileSync(cli, ['workflow', 'show', '--address', temporal.address, '-w', workflowId, '-r', runId, '--output', 'json'], { maxBuffer: 256 * 1024 * 1024 });
      const file = path.join(OUT, `${name}${runs.length > 1 ? `-run${i + 1}` : ''}.json`);
      writeFileSync(file, JSON.stringify(JSON.parse(json.toString())));
      console.error(`recorded ${path.relative(PROJECT_ROOT, file)} (${(JSON.parse(json.toString()) as { events: unknown[] }).events.length} events)`);
    }
  };
  /** A coding task started with POST /tasks, driven by `during`, recorded once its status is `until`. */
  const run = async (name: string, steps: Step[], body: Record<string, unknown>, during?: (id: string) => Promise<void>, until = 'completed') => {
    if (!wanted(name)) return;
    model.script(`[${name}]`, steps, { indexBy: 'turn' });
    const created = await api(errand.url, 'POST', '/tasks', { repo: makeOriginRepo(BUGGY_SUM), prompt: `[${name}] Fix sum.`, ...body });
    if (created.status !== 201) throw new Error(`${name}: ${JSON.stringify(created.body)}`);
    const id = created.body.id as string;
    await during?.(id);
    await waitFor(errand, id, (t) => (t.status === until ? t : undefined));
    await record(name, taskWorkflowId(id));
  };

  try {
    const steered = gate();
    await run(
      'steered',
      [{ kind: 'later', after: steered.promise, reply: FIX_SUM }, call('shell', { command: 'cat sum.js' }), call('read_file', { path: 'sum.js' }), FINISH],
      {},
      async (id) => {
        await waitFor(errand, id, (t) => (t.phase === 'working' ? t : undefined));
        await api(errand.url, 'POST', `/tasks/${id}/messages`, { text: 'also check the tests', from: 'recorder' });
        await api(errand.url, 'POST', `/tasks/${id}/pause`, { by: 'recorder' });
        steered.open();
        await waitFor(errand, id, (t) => (t.phase === 'paused' ? t : undefined));
        await api(errand.url, 'POST', `/tasks/${id}/resume`, { by: 'recorder' });
      },
    );
    await run('planned', [call('read_file', { path: 'sum.js' }), call('submit_plan', { plan: 'Fix the operator.' }), call('submit_plan', { plan: 'Fix the operator; run the tests.' }), FIX_SUM, FINISH], { requirePlanApproval: true }, async (id) => {
      await waitFor(errand, id, (t) => (t.phase === 'awaiting_approval' ? t : undefined));
      await api(errand.url, 'POST', `/tasks/${id}/messages`, { text: 'mention the tests' });
      await waitFor(errand, id, (t) => (t.phase === 'awaiting_approval' && t.plan?.includes('tests') ? t : undefined));
      await api(errand.url, 'POST', `/tasks/${id}/approve`, { by: 'recorder' });
    });
    const lose = gate();
    await run('sandbox-lost', [FIX_SUM, call('read_file', { path: 'sum.js' }), { kind: 'later', after: lose.promise, reply: call('write_file', { path: 'b.txt', content: 'b' }) }, call('write_file', { path: 'b.txt', content: 'b' }), FINISH], {}, async (id) => {
      await waitFor(errand, id, (t) => (t.step === 3 ? t : undefined));
      rmSync(path.join(errand.stateDir, 'sandboxes', id), { recursive: true, force: true });
      lose.open();
    });
    await run('budget-stopped', [FIX_SUM, call('list_dir', {}), call('list_dir', {})], { maxSteps: 2 });
    await run('cancelled', [FIX_SUM, call('shell', { command: 'sleep 60' })], {}, async (id) => {
      await waitFor(errand, id, (t) => (t.lastAction === 'step 2: shell' ? t : undefined));
      await api(errand.url, 'POST', `/tasks/${id}/cancel`, { by: 'recorder' });
    }, 'cancelled');
    model.reviews('[reviewed]', [call('submit_review', { verdict: 'request_changes', summary: 'Document it.', comments: [{ file: 'sum.js', line: 1, severity: 'blocking', body: 'say what sum does' }] })]);
    await run('reviewed', [FIX_SUM, FINISH, call('write_file', { path: 'sum.js', content: '// adds\nexports.sum = (a, b) => a + b;\n' }), FINISH], {});
    await run('feedback', [FIX_SUM, FINISH, call('write_file', { path: 'README.md', content: '# sum\n' }), FINISH], { awaitFeedbackMinutes: 0.2 }, async (id) => {
      await waitFor(errand, id, (t) => (t.phase === 'awaiting_feedback' ? t : undefined));
      await api(errand.url, 'POST', `/tasks/${id}/messages`, { text: 'add a README', from: 'recorder' });
    });
    // Lost after the agent's finish, before the final checkpoint: the agent works again.
    const finishing = gate();
    await run('lost-after-finish', [FIX_SUM, { kind: 'later', after: finishing.promise, reply: FINISH }, FIX_SUM, FINISH], {}, async (id) => {
      await waitFor(errand, id, (t) => (t.step === 2 ? t : undefined));
      rmSync(path.join(errand.stateDir, 'sandboxes', id), { recursive: true, force: true });
      finishing.open();
    });
    await run('continued-as-new', [...Array.from({ length: 101 }, () => call('list_dir', {})), FIX_SUM, FINISH], { maxSteps: 200 });
    // MCP tools: a read-only call (a local activity) and one run at most once (an activity of one attempt).
    await run('mcp-tools', [call('everything__echo', { message: 'hi' }), call('everything__get-sum', { a: 1, b: 2 }), FIX_SUM, FINISH], {});
    // A dependency bump (POST /tasks with the playbook) and the coding task of its one group, its
    // child: the update passes the tests, so no agent; the review approves.
    if (wanted('dependency-bump')) {
      model.reviews('chore(deps):');
      const origin = await npmOriginRepo(npm, { alpha: '1.0.0' }, "test('loads', () => assert.ok(require('alpha')));");
      const created = await api(errand.url, 'POST', '/tasks', { repo: origin, playbook: 'dependency-bump', params: {} });
      if (created.status !== 201) throw new Error(`dependency-bump: ${JSON.stringify(created.body)}`);
      const bump = await waitFor(errand, created.body.id as string, (t) => (t.status !== 'running' ? t : undefined));
      if (bump.status !== 'completed' || bump.dependencyGroups?.[0]?.status !== 'pull_request') throw new Error(`dependency-bump: ${JSON.stringify(bump)}`);
      await record('dependency-bump', taskWorkflowId(bump.id));
      await record('dependency-bump-group', taskWorkflowId(bump.dependencyGroups[0].taskId));
    }
    // A schedule's run, triggered now (what a Temporal Schedule starts), and the coding task it
    // starts as its child.
    if (wanted('scheduled-run')) {
      model.script('[scheduled-run]', [FIX_SUM, FINISH], { indexBy: 'turn' });
      const origin = makeOriginRepo({ ...BUGGY_SUM, '.errand/playbooks/fix-sum.md': '---\nname: fix-sum\ntitle: "[scheduled-run] Make sum add"\noutcome: sum adds.\n---\nFix sum.\n' });
      const created = await api(errand.url, 'POST', '/schedules', { id: 'recorded', repo: origin, playbook: 'fix-sum', cron: '0 6 * * MON' });
      if (created.status !== 201) throw new Error(`scheduled-run: ${JSON.stringify(created.body)}`);
      await api(errand.url, 'POST', '/schedules/recorded/trigger');
      const ran = await eventually(async () => {
        const [last] = (await api(errand.url, 'GET', '/schedules/recorded')).body.recentRuns;
        return last && last.status !== 'running' ? last : undefined;
      }, 300_000, 'the scheduled run');
      if (ran.status !== 'completed') throw new Error(`scheduled-run: ${JSON.stringify(ran)}`);
      await record('scheduled-run', ran.workflowId);
      await record('scheduled-run-task', taskWorkflowId(ran.result.taskId));
      await api(errand.url, 'DELETE', '/schedules/recorded');
    }
    // Several attempts, both passing: the review agent compares them; one message reaches both.
    if (wanted('attempts')) {
      const held = gate();
      model.script('[attempts]', [{ kind: 'later', after: held.promise, reply: FIX_SUM }, FINISH], { indexBy: 'turn' });
      const compare = (req: { tools?: unknown[] }) =>
        JSON.stringify(req.tools ?? []).includes('submit_comparison') ? call('submit_comparison', { preferred: 2, reasons: 'Attempt 2 is as small and reads better.' }) : call('submit_review', { verdict: 'approve', summary: 'Fine.', comments: [] });
      model.reviews('[attempts]', Array.from({ length: 6 }, () => compare));
      const created = await api(errand.url, 'POST', '/tasks', { repo: makeOriginRepo(BUGGY_SUM), prompt: '[attempts] Fix sum.', attempts: 2 });
      if (created.status !== 201) throw new Error(`attempts: ${JSON.stringify(created.body)}`);
      const id = created.body.id as string;
      await waitFor(errand, `${id}-a2`, (t) => (t.phase === 'working' ? t : undefined));
      await api(errand.url, 'POST', `/tasks/${id}/messages`, { text: 'keep it small', from: 'recorder' });
      held.open();
      const done = await waitFor(errand, id, (t) => (t.status !== 'running' ? t : undefined));
      if (done.status !== 'completed' || done.choice?.n !== 2) throw new Error(`attempts: ${JSON.stringify(done)}`);
      await record('attempts', taskWorkflowId(id));
      await record('attempts-attempt', taskWorkflowId(`${id}-a2`));
    }
    // A campaign over two repositories, one at a time.
    if (wanted('campaign')) {
      model.script('[campaign]', [FIX_SUM, FINISH], { indexBy: 'turn' });
      const created = await api(errand.url, 'POST', '/campaigns', { repos: [makeOriginRepo(BUGGY_SUM), makeOriginRepo(BUGGY_SUM)], prompt: '[campaign] Fix sum.', concurrency: 1 });
      if (created.status !== 201) throw new Error(`campaign: ${JSON.stringify(created.body)}`);
      const done = await eventually(async () => {
        const c = (await api(errand.url, 'GET', `/campaigns/${created.body.id}`)).body;
        return c.status !== 'running' ? c : undefined;
      }, 300_000, 'the campaign');
      if (done.status !== 'completed') throw new Error(`campaign: ${JSON.stringify(done)}`);
      await record('campaign', campaignWorkflowId(created.body.id));
    }
  } finally {
    await close();
    await errand.stop();
    await npm.stop();
    await model.stop();
    await temporal.stop();
  }
}

async function waitFor<T>(errand: ErrandProcess, id: string, check: (task: any) => T | undefined): Promise<T> {
  return eventually(async () => check((await api(errand.url, 'GET', `/tasks/${id}`)).body), 300_000, `task ${id}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
