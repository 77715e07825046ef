// `errand task create` has a flag for every field POST /tasks takes, so anything the API can do
// a shell can too; and `npm run --silent errand` prints the API's JSON alone, for jq.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from '@jest/globals';
import { Command } from 'commander';
import { CreateTaskBody } from '../../apps/api/tasks/task-request.js';
import { registerTaskCommands } from '../../apps/cli/task-commands.js';
import { BUGGY_SUM, makeOriginRepo } from '../fixtures/repos.js';
import { PROJECT_ROOT } from '../support/errand-process.js';
import { useErrandApi, useTemporal } from '../support/use.js';

const run = promisify(execFile);

describe('errand task create', () => {
  it('has a flag for every field of POST /tasks', () => {
    const program = new Command();
    registerTaskCommands(program);
    const create = program.commands.find((c) => c.name() === 'task')!.commands.find((c) => c.name() === 'create')!;
    const flags = create.options.map((o) => o.attributeName()).filter((f) => f !== 'idempotencyKey');
    expect(flags.sort()).toEqual(Object.keys(CreateTaskBody.shape).sort());
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
  });
});
