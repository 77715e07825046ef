// `errand campaign ...`: one request across many repositories, through the REST API: start
// (a flag for every field of POST /campaigns), show (a row per repository with its task and PR),
// list, pause, resume, cancel.
import type { Command } from 'commander';
import { apiOptions, bodyOf, call, guarded as run, number, print, taskFieldFlags } from './api-client.js';

export function registerCampaignCommands(program: Command): void {
  const campaign = program.command('campaign').description('one change across many repositories, a task each, through the API');
  const opts = apiOptions(campaign);

  taskFieldFlags(
    campaign
      .command('start')
      .description('start a campaign (every field of POST /campaigns has a flag; the API checks the values)')
      .option('--repos <url...>', 'the repositories: git URLs, absolute paths or owner/name')
      .option('--repos-matching <glob>', "instead of --repos: every repository the forge lists under a pattern (acme/* on GitHub, '/srv/git/*.git' here)")
      .option('--prompt <text>', 'what to change in each (with --playbook: what to add to its instructions)')
      .option('--playbook <name>', 'run a playbook in each (dependency-bump: a dependency bump each)'),
  )
    .option('--concurrency <n>', 'tasks running at once (default 4)', number)
    .option('--stop-after-failures <n>', 'start no more tasks after this many failed (default: go on)', number)
    .option('--require-plan-approval', 'each task writes a plan and waits for approval first')
    .option('--idempotency-key <key>', 'retry safely: the same key returns the same campaign')
    .action(
      run(async (o: Record<string, unknown>) => {
        const { idempotencyKey, ...rest } = o;
        print(await call(opts(), 'POST', '/campaigns', bodyOf(rest), idempotencyKey ? { 'idempotency-key': String(idempotencyKey) } : {}));
      }),
    );
  campaign.command('show <id>').description('a row per repository: its task, its status, its PR').action(run(async (id: string) => print(await call(opts(), 'GET', `/campaigns/${encodeURIComponent(id)}`))));
  campaign
    .command('list')
    .option('--requester <who>')
    .action(run(async (o: { requester?: string }) => print(await call(opts(), 'GET', `/campaigns${o.requester ? `?${new URLSearchParams({ requester: o.requester })}` : ''}`))));
  for (const [name, description] of [
    ['pause', 'start no more tasks until resumed (running ones go on)'],
    ['resume', 'go on starting tasks'],
    ['cancel', 'cancel the campaign and its running tasks; no more are started'],
  ] as const) {
    campaign
      .command(`${name} <id>`)
      .description(description)
      .option('--by <who>')
      .action(run(async (id: string, o: { by?: string }) => print(await call(opts(), 'POST', `/campaigns/${encodeURIComponent(id)}/${name}`, { by: o.by }))));
  }
}
