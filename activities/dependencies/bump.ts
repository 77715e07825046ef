// A dependency group as a change Errand makes itself: the shell command that updates the
// manifests and lockfiles in the sandbox (each manager's own `add`/`install`/`get`, so its
// lockfile is written the way it writes it), the environment pointing at the registries, and
// the pull request's title and table. Every name and version is shell-quoted and table-escaped:
// they come from the repository's files and the registries. Pure.
import type { BumpedPackage, DependencyGroup } from '../../workflows/contracts/playbooks.js';
import { shellQuote } from '../sandbox/sandboxd/shell-quote.js';
import type { Registries } from './registries.js';

/** The commands that apply `group`, one manager after another, stopping at the first that fails. */
export function bumpCommand(group: DependencyGroup): string {
  const commands: string[] = [];
  const by = (manager: BumpedPackage['manager']) => group.packages.filter((p) => p.manager === manager);
  for (const manager of ['npm', 'pnpm', 'yarn'] as const) {
    // One command per section and pin style, so each package keeps both.
    const sets = new Map<string, BumpedPackage[]>();
    for (const p of by(manager)) sets.set(`${p.dev ? 'dev' : 'prod'}:${p.prefix ?? '^'}`, [...(sets.get(`${p.dev ? 'dev' : 'prod'}:${p.prefix ?? '^'}`) ?? []), p]);
    for (const [key, packages] of sets) {
      const [section, prefix] = key.split(':') as ['dev' | 'prod', string];
      const specs = packages.map((p) => shellQuote(`${p.name}@${p.to}`)).join(' ');
      commands.push(nodeCommand(manager, section === 'dev', prefix, specs));
    }
  }
  const go = by('go');
  if (go.length) commands.push(`go get ${go.map((p) => shellQuote(`${p.name}@${p.to}`)).join(' ')}`, 'go mod tidy');
  return commands.join(' && ');
}

function nodeCommand(manager: 'npm' | 'pnpm' | 'yarn', dev: boolean, prefix: string, specs: string): string {
  const pin = prefix === '' ? 'exact' : prefix === '~' ? 'tilde' : 'caret';
  if (manager === 'npm') {
    const save = pin === 'exact' ? '--save-exact' : `--save-prefix=${shellQuote(prefix)}`;
    return `npm install --no-audit --no-fund ${dev ? '--save-dev' : '--save-prod'} ${save} ${specs}`;
  }
  if (manager === 'pnpm') return `pnpm add ${dev ? '--save-dev' : '--save-prod'}${pin === 'exact' ? ' --save-exact' : ''} ${specs}`;
  return `yarn add ${dev ? '--dev ' : ''}${pin === 'exact' ? '--exact ' : pin === 'tilde' ? '--tilde ' : ''}${specs}`;
}

/** Where the sandbox's package managers fetch from: the same registries Errand asked. */
export function bumpEnv(registries: Registries): Record<string, string> {
  return {
    npm_config_registry: registries.npm,
    YARN_NPM_REGISTRY_SERVER: registries.npm,
    GOPROXY: registries.goProxy,
    GOFLAGS: '-mod=mod',
    GOTOOLCHAIN: 'local',
    ...(registries.goSumDb && { GOSUMDB: registries.goSumDb }),
  };
}

/** `chore(deps): bump lodash from 4.17.20 to 4.17.21`, or `chore(deps): bump 7 packages`, with the group when it is a named one. */
export function bumpTitle(group: DependencyGroup): string {
  const [only] = group.packages;
  const what = group.packages.length === 1 ? `bump ${only!.name} from ${only!.from} to ${only!.to}` : `bump ${group.packages.length} packages`;
  return `chore(deps): ${what}${group.packages.length > 1 && group.name !== 'all' ? ` (${group.name})` : ''}`;
}

/** The pull request's table: package, from, to (and the kind of update), release notes. */
export function bumpTable(group: DependencyGroup): string {
  const cell = (text: string) => text.replace(/[|\\`\n\r]/g, (c) => (c === '\n' || c === '\r' ? ' ' : `\\${c}`));
  return [
    '| Package | From | To | Release notes |',
    '| --- | --- | --- | --- |',
    ...group.packages.map((p) => `| \`${cell(p.name)}\`${p.dev ? ' (dev)' : ''} | ${cell(p.from)} | ${cell(p.to)} (${p.kind}) | ${p.notes ? `[releases](${p.notes})` : ''} |`),
  ].join('\n');
}

/** The prompt of a group's task: its title first (the PR's), then what the agent does if it breaks something. */
export function bumpPrompt(group: DependencyGroup): string {
  return [
    bumpTitle(group),
    '',
    'Errand updated these dependencies (manifests and lockfiles) and installed them:',
    '',
    bumpTable(group),
    '',
    'If you are reading this, the update broke the install or the tests. Make the code work with the new versions, keeping the updates: change the code, not the versions. Run the tests, then call finish with what you changed and why.',
  ].join('\n');
}
