// `errand task ...` and `errand playbook list`: tasks from a shell, through the REST API (which
// speaks Temporal: updates for messages and approval, signals for pause and resume,
// cancellation). One place holds the rules (the API); the CLI prints what it answers and exits
// non-zero when it refuses.
import type { Command } from 'commander';
import { apiOptions, ApiError, authorization, bodyOf, call, guarded as run, number, print, taskFieldFlags } from './api-client.js';
import { parseServerSentEvents } from './server-sent-events.js';

export function registerTaskCommands(program: Command): void {
  const task = program.command('task').description('create, inspect and control tasks through the API');
  const opts = apiOptions(task);

  taskFieldFlags(
    task
      .command('create')
      .description('start a task (every field of POST /tasks has a flag; the API checks the values)')
      .requiredOption('--repo <url>', 'git URL or absolute path')
      .option('--prompt <text>', 'what to change (with --playbook: what to add to its instructions)')
      .option('--playbook <name>', 'run a playbook (errand playbook list --repo <url> shows them)'),
  )
    .option('--await-feedback-minutes <minutes>', 'after the PR is out, wait this long for feedback', number)
    .option('--require-plan-approval', 'write a plan and wait for approval first')
    .option('--attempts <n>', 'several independent attempts, the best one kept (its PR opens; the others can be promoted)', number)
    .option('--attempt-budgets <how>', 'each (every attempt the whole budget) | shared (the budget split among them)')
    .option('--idempotency-key <key>', 'retry safely: the same key returns the same task')
    .action(
      run(async (o: Record<string, unknown>) => {
        const { idempotencyKey, ...rest } = o;
        print(await call(opts(), 'POST', '/tasks', bodyOf(rest), idempotencyKey ? { 'idempotency-key': String(idempotencyKey) } : {}));
      }),
    );

  task.command('show <id>').description('live state of a task').action(run(async (id: string) => print(await call(opts(), 'GET', `/tasks/${id}`))));
  task
    .command('list')
    .option('--repo <url>')
    .option('--status <status>')
    .action(
      run(async (o: { repo?: string; status?: string }) => {
        const query = new URLSearchParams(Object.entries(o).filter(([, v]) => v !== undefined) as [string, string][]);
        print(await call(opts(), 'GET', `/tasks${query.size ? `?${query}` : ''}`));
      }),
    );
  task
    .command('message <id> <text...>')
    .description('steer a running task; returns once the task accepted the message')
    .option('--from <who>')
    .action(run(async (id: string, words: string[], o: { from?: string }) => print(await call(opts(), 'POST', `/tasks/${id}/messages`, { text: words.join(' '), from: o.from }))));
  for (const [name, description] of [
    ['pause', 'stop between steps, keeping the sandbox'],
    ['resume', 'go on after a pause'],
    ['cancel', 'cancel: the branch keeps the work so far, the sandbox is destroyed'],
    ['approve', 'approve the plan of a task awaiting approval'],
  ] as const) {
    task
      .command(`${name} <id>`)
      .description(description)
      .option('--by <who>')
      .action(run(async (id: string, o: { by?: string }) => print(await call(opts(), 'POST', `/tasks/${id}/${name}`, { by: o.by }))));
  }
  task
    .command('promote <id> <attempt>')
    .description('open the PR of an attempt Errand did not choose (a task run with --attempts)')
    .option('--by <who>')
    .action(run(async (id: string, n: string, o: { by?: string }) => print(await call(opts(), 'POST', `/tasks/${id}/attempts/${encodeURIComponent(n)}/promote`, { by: o.by }))));
  task.command('transcript <id>').description('the whole conversation').action(run(async (id: string) => print(await call(opts(), 'GET', `/tasks/${id}/transcript`))));
  task
    .command('events <id>')
    .description('follow the event stream until the task ends (one JSON line per event)')
    .action(
      run(async (id: string) => {
        const res = await fetch(`${opts().api.replace(/\/$/, '')}/tasks/${id}/events`, { headers: authorization(opts()) }).catch((err: Error) => {
          throw new ApiError(`cannot reach the Errand API at ${opts().api} (${err.message})`);
        });
        if (!res.ok || !res.body) throw new ApiError(`${res.status}: ${((await res.json()) as { detail?: string }).detail}`);
        for await (const message of parseServerSentEvents(res.body as unknown as AsyncIterable<Uint8Array>)) console.log(message.data);
      }),
    );
}

export function registerPlaybookCommands(program: Command): void {
  const playbook = program.command('playbook').description('the playbooks a repository can run');
  const opts = apiOptions(playbook);
  playbook
    .command('list')
    .description("the built-in playbooks and the repository's own (.errand/playbooks/*.md), with any that cannot be run and why")
    .requiredOption('--repo <url>', 'git URL or absolute path')
    .option('--base-branch <name>', "read the repository's playbooks from this branch")
    .action(
      run(async (o: { repo: string; baseBranch?: string }) => {
        const query = new URLSearchParams({ repo: o.repo, ...(o.baseBranch && { baseBranch: o.baseBranch }) });
        print(await call(opts(), 'GET', `/playbooks?${query}`));
      }),
    );
}
