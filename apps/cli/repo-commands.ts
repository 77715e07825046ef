// `errand repo ...`: what Errand keeps per repository, through the API: its environments kept
// after setup (and removing them, so the next task runs its setup anew), and its secrets by name.
import type { Command } from 'commander';
import { apiOptions, call, guarded as run, print } from './api-client.js';

export function registerRepoCommands(program: Command): void {
  const repo = program.command('repo').description("what Errand keeps per repository: its environment after setup, its secrets' names");
  const opts = apiOptions(repo);
  const path = (url: string, what: string) => `/repos/${encodeURIComponent(url)}/${what}`;
  repo
    .command('environment <repo>')
    .description("the environments kept after the repository's setup (age, size, inputs, hits and misses)")
    .option('--remove', 'remove them: the next task runs its setup and keeps a new one')
    .action(run(async (url: string, o: { remove?: boolean }) => print(await call(opts(), o.remove ? 'DELETE' : 'GET', path(url, 'environment')))));
  repo
    .command('secrets <repo>')
    .description("the secrets the repository's tasks get: names and scopes, never values")
    .action(run(async (url: string) => print(await call(opts(), 'GET', path(url, 'secrets')))));
}
