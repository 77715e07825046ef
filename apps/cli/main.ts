// `errand`: the command people start. `errand dev` runs the embedded stack (Temporal dev server,
// worker, API) in the foreground; `serve`, `worker` and `api` run against an existing Temporal;
// the rest (task, schedule, playbook, repo, token) talk to a running API. What runs Errand itself is in
// stack.ts, loaded only by the commands that need it: the others start in a fraction of a second.
import { Command } from 'commander';
import { registerScheduleCommands } from './schedule-commands.js';
import { registerCampaignCommands } from './campaign-commands.js';
import { registerTokenCommands } from './token-commands.js';
import { registerRepoCommands } from './repo-commands.js';
import { registerPlaybookCommands, registerTaskCommands } from './task-commands.js';

const stack = () => import('./stack.js');

async function main(argv: string[]): Promise<void> {
  const program = new Command('errand').description('Errand: a self-hosted coding agent service on Temporal');
  program
    .command('setup')
    .description('install what Errand needs beyond npm packages (the Temporal CLI, once; bubblewrap and socat)')
    .action(async () => (await stack()).runSetup());
  program
    .command('dev')
    .description('run the embedded stack: Temporal dev server with its UI, the worker and the API')
    .action(async () => (await stack()).runDev());
  for (const [name, parts, description] of [
    ['serve', { api: true, worker: true }, 'run the worker and the API against ERRAND_TEMPORAL_ADDRESS'],
    ['worker', { api: false, worker: true }, 'run only the worker'],
    ['api', { api: true, worker: false }, 'run only the API'],
  ] as const) {
    program
      .command(name)
      .description(description)
      .action(async () => (await stack()).runServe(parts));
  }
  program
    .command('sandboxes')
    .description("list the local sandboxes in the state directory, as a stopped `errand dev` left them (a task goes on in its sandbox at the next start)")
    .option('--remove', 'stop and delete each (a task that runs again restores its work from its last checkpoint)')
    .action(async (opts: { remove?: boolean }) => (await stack()).runSandboxes(opts));
  registerTaskCommands(program);
  registerPlaybookCommands(program);
  registerScheduleCommands(program);
  registerCampaignCommands(program);
  registerTokenCommands(program);
  registerRepoCommands(program);
  await program.parseAsync(argv);
}

main(process.argv).catch((err: unknown) => {
  console.error(`errand: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
