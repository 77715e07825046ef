// `errand schedule ...`: playbooks on a schedule, through the REST API: create and update with
// a flag for every field, list (next runs, last results), show, pause and unpause with a note,
// trigger now, delete. The API checks every value and says what is wrong.
import type { Command } from 'commander';
import { apiOptions, bodyOf, call, guarded as run, number, print, taskFieldFlags } from './api-client.js';

/** The flags of every field a schedule has; `create` makes --repo and --playbook required. */
function scheduleFlags(command: Command, required: boolean): Command {
  const repo = '--repo <url>';
  const playbook = '--playbook <name>';
  if (required) command.requiredOption(repo, 'git URL, absolute path or owner/name').requiredOption(playbook, 'the playbook each run runs');
  else command.option(repo, 'git URL, absolute path or owner/name').option(playbook, 'the playbook each run runs');
  return taskFieldFlags(command)
    .option('--cron <expr>', 'when it runs, e.g. "0 6 * * MON" (with --timezone)')
    .option('--interval <duration>', 'or how often, e.g. "1 day", "12h"')
    .option('--timezone <zone>', "the cron's time zone, e.g. Europe/Paris (default UTC)")
    .option('--jitter <duration>', 'start each run up to this much later, at random')
    .option('--catchup-window <duration>', 'after an outage, take runs missed within this window (default 1 hour)')
    .option('--overlap <policy>', 'skip (default) | buffer_one | allow_all, when a run is due while one still runs')
    .option('--max-failures <n>', 'failed runs in a row before it pauses itself (default 3)', number);
}

export function registerScheduleCommands(program: Command): void {
  const schedule = program.command('schedule').description('run playbooks on a schedule (Temporal Schedules) through the API');
  const opts = apiOptions(schedule);

  scheduleFlags(schedule.command('create').description('create a schedule; it runs from its next time, or now with `trigger`'), true)
    .option('--id <id>', 'its id, e.g. weekly-deps (default: the playbook and a random suffix)')
    .option('--paused', 'create it paused')
    .option('--note <text>', 'why it exists, or why it is paused')
    .action(run(async (o: Record<string, unknown>) => print(await call(opts(), 'POST', '/schedules', bodyOf(o)))));
  scheduleFlags(schedule.command('update <id>').description('change the fields given, keep the rest'), false).action(
    run(async (id: string, o: Record<string, unknown>) => print(await call(opts(), 'PATCH', `/schedules/${encodeURIComponent(id)}`, bodyOf(o)))),
  );
  schedule.command('list').description('every schedule, with its next runs and last results').action(run(async () => print(await call(opts(), 'GET', '/schedules'))));
  schedule.command('show <id>').action(run(async (id: string) => print(await call(opts(), 'GET', `/schedules/${encodeURIComponent(id)}`))));
  for (const [name, description] of [
    ['pause', 'stop it firing until unpaused'],
    ['unpause', 'let it fire again'],
  ] as const) {
    schedule
      .command(`${name} <id>`)
      .description(description)
      .option('--note <text>', 'why')
      .option('--by <who>')
      .action(run(async (id: string, o: { note?: string; by?: string }) => print(await call(opts(), 'POST', `/schedules/${encodeURIComponent(id)}/${name}`, o))));
  }
  schedule.command('trigger <id>').description('run it now (not while a run is going, under overlap skip)').action(run(async (id: string) => print(await call(opts(), 'POST', `/schedules/${encodeURIComponent(id)}/trigger`))));
  schedule.command('delete <id>').action(
    run(async (id: string) => {
      await call(opts(), 'DELETE', `/schedules/${encodeURIComponent(id)}`);
      print({ id, deleted: true });
    }),
  );
}
