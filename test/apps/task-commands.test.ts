// `errand task create` has a flag for every field POST /tasks takes, so anything the API can do
// a shell can too (playbooks and schedules included); and `npm run --silent errand` prints the
// API's JSON alone, for jq.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from '@jest/globals';
import { Command } from 'commander';
import { CreateTaskBody } from '../../apps/api/tasks/task-request.js';
import { CreateScheduleBody } from '../../apps/api/schedules/schedule-request.js';
import { registerScheduleCommands } from '../../apps/cli/schedule-commands.js';
import { registerCampaignCommands } from '../../apps/cli/campaign-commands.js';
import { CreateCampaignBody } from '../../apps/api/campaigns/campaign-request.js';
import { registerTaskCommands } from '../../apps/cli/task-commands.js';
import { BUGGY_SUM, makeOriginRepo } from '../fixtures/repos.js';
import { PROJECT_ROOT } from '../support/errand-process.js';
import { writeTokensFile } from '../support/tokens-file.js';
import { useErrandApi, useTemporal } from '../support/use.js';

const run = promisify(execFile);

describe('errand task create', () => {
  it('has a flag for every field of POST /tasks', () => {
    const program = new Command();
    registerTaskCommands(program);
    const create = program.commands.find((c) => c.name() === 'task')!.commands.find((c) => c.name() === 'create')!;
    // `--param name=value`, repeated, makes `params`.
    const flags = create.options.map((o) => o.attributeName()).filter((f) => f !== 'idempotencyKey').map((f) => (f === 'param' ? 'params' : f));
    expect(flags.sort()).toEqual(Object.keys(CreateTaskBody.shape).sort());
  });

  it('has a flag for every field of POST /schedules, in errand schedule create', () => {
    const program = new Command();
    registerScheduleCommands(program);
    const create = program.commands.find((c) => c.name() === 'schedule')!.commands.find((c) => c.name() === 'create')!;
    const flags = create.options.map((o) => o.attributeName()).map((f) => (f === 'param' ? 'params' : f));
    expect(flags.sort()).toEqual(Object.keys(CreateScheduleBody.shape).sort());
  });

  it('has a flag for every field of POST /campaigns, in errand campaign start', () => {
    const program = new Command();
    registerCampaignCommands(program);
    const start = program.commands.find((c) => c.name() === 'campaign')!.commands.find((c) => c.name() === 'start')!;
    const flags = start.options.map((o) => o.attributeName()).filter((f) => f !== 'idempotencyKey').map((f) => (f === 'param' ? 'params' : f));
    expect(flags.sort()).toEqual(Object.keys(CreateCampaignBody.shape).sort());
  });

  describe('against a running API', () => {
    const t = useErrandApi({ ERRAND_MODEL_BASE_URL: 'http://127.0.0.1:9/v1', ERRAND_MODEL: 'fixture' });
    const temporal = useTemporal();

    it('creates a task from flags and prints only the JSON the API answered', async () => {
      const origin = makeOriginRepo(BUGGY_SUM);
      const { stdout } = await run(
        'npm',
        ['run', '--silent', 'errand', '--', 'task', 'create', '--api', t.errand.url, '--repo', origin, '--prompt', 'Fix sum', '--max-tokens', '5000', '--max-review-rounds', '0', '--allowed-paths', 'sum.js', 'README.md', '--setup-script', 'true'],
        { cwd: PROJECT_ROOT },
      );
      const task = JSON.parse(stdout);
      expect(task).toMatchObject({ status: 'running', budget: { maxTokens: 5000 } });
      const handle = temporal.client.workflow.getHandle(`task-${task.id}`);
      const [input] = (await handle.fetchHistory()).events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads!.map((p) => JSON.parse(Buffer.from(p.data!).toString()));
      expect(input).toMatchObject({ maxReviewRounds: 0, allowedPaths: ['sum.js', 'README.md'], setupScript: 'true' });
      await handle.terminate('test cleanup');
    });

    it('runs a playbook with typed --param values, and says what the API refused', async () => {
      const origin = makeOriginRepo({
        ...BUGGY_SUM,
        '.errand/playbooks/bump.md': '---\nname: bump\ntitle: Bump {{name}}\noutcome: done\nparams:\n  name: { type: string }\n  times: { type: number }\n  dry: { type: boolean }\n  only: { type: list }\n---\nBump it.\n',
      });
      const errand = (...args: string[]) => run('npm', ['run', '--silent', 'errand', '--', ...args], { cwd: PROJECT_ROOT });
      const listed = JSON.parse((await errand('playbook', 'list', '--api', t.errand.url, '--repo', origin)).stdout);
      expect(listed.playbooks.map((p: { name: string }) => p.name)).toContain('bump');
      const params = ['--param', 'name=lodash', '--param', 'times=2', '--param', 'dry=true', '--param', 'only=["a","b"]'];
      const task = JSON.parse((await errand('task', 'create', '--api', t.errand.url, '--repo', origin, '--playbook', 'bump', ...params)).stdout);
      const handle = temporal.client.workflow.getHandle(`task-${task.id}`);
      const [input] = (await handle.fetchHistory()).events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads!.map((p) => JSON.parse(Buffer.from(p.data!).toString()));
      expect(input.playbook).toMatchObject({ name: 'bump', params: { name: 'lodash', times: 2, dry: true, only: ['a', 'b'] } });
      expect(input.prompt.split('\n')[0]).toBe('Bump lodash');
      await handle.terminate('test cleanup');

      const refused = await errand('task', 'create', '--api', t.errand.url, '--repo', origin, '--playbook', 'bump', '--param', 'times=two').catch((err: { stderr: string; code: number }) => err);
      expect(refused).toMatchObject({ code: 1, stderr: expect.stringContaining('errand: 400: params.name: required; params.times: must be a number') });
    });

    it('creates, lists, pauses and deletes a schedule from flags', async () => {
      const origin = makeOriginRepo({ ...BUGGY_SUM, '.errand/playbooks/tidy.md': '---\nname: tidy\ntitle: Tidy\noutcome: tidy\nparams:\n  level: { type: number }\n---\nTidy.\n' });
      const errand = (...args: string[]) => run('npm', ['run', '--silent', 'errand', '--', 'schedule', ...args, '--api', t.errand.url], { cwd: PROJECT_ROOT });
      const id = `cli-${Date.now().toString(36)}`;
      const created = JSON.parse((await errand('create', '--id', id, '--repo', origin, '--playbook', 'tidy', '--param', 'level=2', '--cron', '30 5 * * 1-5', '--timezone', 'Asia/Tokyo', '--jitter', '5m', '--max-failures', '4')).stdout);
      expect(created).toMatchObject({ id, params: { level: 2 }, cron: '30 5 * * 1-5', timezone: 'Asia/Tokyo', jitter: '5m', maxFailures: 4, paused: false });
      expect(JSON.parse((await errand('list')).stdout).schedules.map((s: { id: string }) => s.id)).toContain(id);
      expect(JSON.parse((await errand('pause', id, '--note', 'holidays')).stdout)).toMatchObject({ paused: true, note: 'holidays' });
      expect(JSON.parse((await errand('update', id, '--interval', '1 day')).stdout)).toMatchObject({ interval: '1 day', paused: true });
      const refused = await errand('create', '--repo', origin, '--playbook', 'tidy', '--cron', '0 25 * * *').catch((err: { stderr: string; code: number }) => err);
      expect(refused).toMatchObject({ code: 1, stderr: expect.stringContaining('errand: 400: params.level: required') });
      expect(JSON.parse((await errand('delete', id)).stdout)).toEqual({ id, deleted: true });
    });
  });

  describe('against an API that asks for a token', () => {
    const { file, tokens } = writeTokensFile({ reader: { name: 'pat', scopes: ['tasks:read'] } });
    const t = useErrandApi({ ERRAND_API_TOKENS_FILE: file });

    it('says how to give a token when none was given, and that the one given was refused', async () => {
      const errand = (...args: string[]) => run('npm', ['run', '--silent', 'errand', '--', 'task', 'list', '--api', t.errand.url, ...args], { cwd: PROJECT_ROOT, env: { ...process.env, ERRAND_API_TOKEN: '' } }).catch((err: { stderr: string; code: number }) => err);
      expect(await errand()).toMatchObject({ code: 1, stderr: expect.stringContaining('Give one with --token <token> or ERRAND_API_TOKEN.') });
      expect(await errand('--token', 'not-a-token')).toMatchObject({ code: 1, stderr: expect.stringContaining('The token given was refused: check --token / ERRAND_API_TOKEN.') });
      expect(JSON.parse(((await errand('--token', tokens.reader)) as { stdout: string }).stdout)).toMatchObject({ tasks: expect.any(Array) });
    });
  });
});
