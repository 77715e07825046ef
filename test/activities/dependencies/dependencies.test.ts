// The dependency bump's decisions, pure: what a repository depends on (by manager, from its
// lockfile), which version each goes to under a policy (patch, minor, major; allow and deny; a
// minimum release age), how updates are grouped, and the command and PR text that come of it,
// with hostile names quoted and escaped.
import { describe, expect, it } from '@jest/globals';
import { bumpCommand, bumpTable, bumpTitle } from '../../../activities/dependencies/bump.js';
import { detectNodeManager, goDependencies, nodeDependencies } from '../../../activities/dependencies/manifests.js';
import { chooseUpdate, groupUpdates } from '../../../activities/dependencies/policy.js';
import { bumpSettings, parseNamedGroups, type BumpPolicy } from '../../../lib/playbooks/dependency-bump-settings.js';
import { escapeModulePath, goProxyUrl, releaseNotesUrl } from '../../../activities/dependencies/registries.js';
import type { BumpedPackage } from '../../../workflows/contracts/playbooks.js';

const NOW = new Date('2026-11-28T12:00:00Z');
const daysAgo = (n: number) => new Date(NOW.getTime() - n * 86_400_000);
const policy = (over: Partial<BumpPolicy> = {}): BumpPolicy => ({ update: 'minor', allow: [], deny: [], minReleaseAgeDays: 0, ...over });
const VERSIONS = [
  { version: '1.0.0', time: daysAgo(100) },
  { version: '1.0.1', time: daysAgo(30) },
  { version: '1.1.0', time: daysAgo(10) },
  { version: '1.2.0-beta.1', time: daysAgo(2) },
  { version: '1.1.5', time: daysAgo(1), deprecated: true },
  { version: '2.0.0', time: daysAgo(5) },
];

describe('which version a dependency goes to', () => {
  it.each([
    ['patch', 0, { to: '1.0.1', kind: 'patch' }],
    ['minor', 0, { to: '1.1.0', kind: 'minor' }],
    ['major', 0, { to: '2.0.0', kind: 'major' }],
    ['major', 7, { to: '1.1.0', kind: 'minor' }],
    ['major', 20, { to: '1.0.1', kind: 'patch' }],
    ['major', 365, undefined],
  ] as const)('under %s with a minimum age of %i days', (update, minReleaseAgeDays, expected) => {
    expect(chooseUpdate('1.0.0', VERSIONS, policy({ update, minReleaseAgeDays }), NOW)).toEqual(expected);
  });

  it('never picks a pre-release or a deprecated version, and leaves pre-releases and pseudo-versions alone', () => {
    expect(chooseUpdate('1.1.0', VERSIONS, policy(), NOW)).toBeUndefined();
    expect(chooseUpdate('1.2.0-beta.1', VERSIONS, policy({ update: 'major' }), NOW)).toBeUndefined();
    expect(chooseUpdate('v0.0.0-20240101000000-abcdef123456', [{ version: 'v0.1.0' }], policy({ update: 'major' }), NOW)).toBeUndefined();
    expect(chooseUpdate('v1.0.0', [{ version: 'v1.0.1' }, { version: 'v1.3.0' }], policy(), NOW)).toEqual({ to: 'v1.3.0', kind: 'minor' });
  });

  it('takes only versions written as the registry protocol writes them, never a string semver merely tolerates', () => {
    // A hostile or broken registry: each of these cleans up to a valid version, and each would go into a command.
    const hostile = [' 1.9.9', '=1.8.0', '1.7.0\n', 'v1.6.0', '1.5.0 ', '\t1.4.0'].map((version) => ({ version }));
    expect(chooseUpdate('1.0.0', [...hostile, { version: '1.1.0' }], policy(), NOW)).toEqual({ to: '1.1.0', kind: 'minor' });
    // Go's versions carry their `v`, and only that.
    expect(chooseUpdate('v1.0.0', [{ version: 'v1.9.0 ' }, { version: '=v1.8.0' }, { version: 'v1.2.0' }], policy(), NOW)).toEqual({ to: 'v1.2.0', kind: 'minor' });
  });

  it('treats a version with no known publish time as too young when there is a minimum age', () => {
    expect(chooseUpdate('1.0.0', [{ version: '1.0.1' }], policy({ minReleaseAgeDays: 1 }), NOW)).toBeUndefined();
  });
});

describe('groups', () => {
  const update = (name: string): BumpedPackage => ({ name, manager: 'npm', from: '1.0.0', to: '1.1.0', kind: 'minor' });
  const updates = ['react-dom', 'lodash', '@types/react', 'react', 'left-pad'].map(update);

  it('puts everything in one, one per package, or named groups first', () => {
    expect(groupUpdates(updates, 'all', []).map((g) => [g.name, g.packages.map((p) => p.name)])).toEqual([['all', ['@types/react', 'left-pad', 'lodash', 'react', 'react-dom']]]);
    expect(groupUpdates(updates, 'each', []).map((g) => g.name)).toEqual(['left-pad', 'lodash', 'react', 'react-dom', 'types-react']);
    const named = parseNamedGroups(['react=react,react-dom,@types/react*']);
    expect(groupUpdates(updates, 'all', named).map((g) => [g.name, g.packages.map((p) => p.name)])).toEqual([
      ['all', ['left-pad', 'lodash']],
      ['react', ['@types/react', 'react', 'react-dom']],
    ]);
  });

  it('refuses a named group it cannot read, saying how to write one', () => {
    expect(() => parseNamedGroups(['React Stuff=react'])).toThrow('"React Stuff=react" is not a group: write name=glob,glob');
    expect(() => bumpSettings({ groups: ['nope'] })).toThrow('is not a group');
    expect(bumpSettings({ update: 'patch', deny: ['lodash'], grouping: 'each', minReleaseAgeDays: 3, onFailure: 'none' })).toEqual({
      policy: { update: 'patch', allow: [], deny: ['lodash'], minReleaseAgeDays: 3 },
      grouping: 'each',
      named: [],
      onFailure: 'none',
    });
  });
});

describe('what a repository depends on', () => {
  const pkg = JSON.stringify({
    dependencies: { lodash: '^4.17.20', 'left-pad': '~1.1.0', exact: '2.0.0', ranged: '>=1 <3', git: 'github:a/b', '../evil': '^1.0.0' },
    devDependencies: { jest: '^29.0.0' },
  });

  it('knows the manager by its lockfile, and each direct dependency at its locked version', () => {
    const lock = JSON.stringify({ lockfileVersion: 3, packages: { '': {}, 'node_modules/lodash': { version: '4.17.20' }, 'node_modules/jest': { version: '29.7.0' }, 'node_modules/a/node_modules/lodash': { version: '1.0.0' } } });
    expect(detectNodeManager({ 'package.json': pkg, 'pnpm-lock.yaml': 'x', 'package-lock.json': lock })).toBe('pnpm');
    expect(detectNodeManager({ 'package.json': pkg, 'yarn.lock': '' })).toBe('yarn');
    expect(detectNodeManager({ 'package.json': pkg })).toBe('npm');
    expect(detectNodeManager({})).toBeUndefined();
    expect(nodeDependencies({ 'package.json': pkg, 'package-lock.json': lock })).toEqual([
      { name: 'lodash', manager: 'npm', current: '4.17.20', prefix: '^' },
      { name: 'left-pad', manager: 'npm', current: '1.1.0', prefix: '~' },
      { name: 'exact', manager: 'npm', current: '2.0.0', prefix: '' },
      { name: 'jest', manager: 'npm', current: '29.7.0', prefix: '^', dev: true },
    ]);
  });

  it('reads pnpm and yarn lockfiles', () => {
    const pnpm = "lockfileVersion: '9.0'\nimporters:\n  .:\n    dependencies:\n      lodash:\n        specifier: ^4.17.20\n        version: 4.17.21\n    devDependencies:\n      jest:\n        specifier: ^29.0.0\n        version: 29.7.0(@types/node@20.0.0)\n";
    expect(nodeDependencies({ 'package.json': pkg, 'pnpm-lock.yaml': pnpm }).filter((d) => ['lodash', 'jest'].includes(d.name)).map((d) => [d.name, d.current, d.manager])).toEqual([
      ['lodash', '4.17.21', 'pnpm'],
      ['jest', '29.7.0', 'pnpm'],
    ]);
    const yarn = '# yarn lockfile v1\n\n"lodash@^4.17.20":\n  version "4.17.21"\n  resolved "x"\n\njest@^29.0.0:\n  version "29.7.0"\n';
    expect(nodeDependencies({ 'package.json': pkg, 'yarn.lock': yarn }).filter((d) => ['lodash', 'jest'].includes(d.name)).map((d) => [d.name, d.current, d.manager])).toEqual([
      ['lodash', '4.17.21', 'yarn'],
      ['jest', '29.7.0', 'yarn'],
    ]);
  });

  it('reads go.mod: direct requirements, not indirect or replaced ones', () => {
    const goMod = 'module example.com/app\n\ngo 1.22\n\nrequire example.com/one v1.2.3\n\nrequire (\n\texample.com/two v0.4.0\n\texample.com/three v1.0.0 // indirect\n\texample.com/four v2.0.0\n)\n\nreplace example.com/four => ../four\n';
    expect(goDependencies(goMod).map((d) => [d.name, d.current])).toEqual([
      ['example.com/two', 'v0.4.0'],
      ['example.com/one', 'v1.2.3'],
    ]);
  });
});

describe('the change and its pull request', () => {
  const group = {
    name: 'all',
    packages: [
      { name: 'lodash', manager: 'npm', from: '4.17.20', to: '4.17.21', kind: 'patch', prefix: '^', notes: 'https://github.com/lodash/lodash/releases' },
      { name: 'jest', manager: 'npm', from: '29.0.0', to: '29.7.0', kind: 'minor', prefix: '^', dev: true },
      { name: 'left-pad', manager: 'npm', from: '1.1.0', to: '1.1.3', kind: 'patch', prefix: '~' },
      { name: 'example.com/greet', manager: 'go', from: 'v1.0.0', to: 'v1.1.0', kind: 'minor' },
    ] as BumpedPackage[],
  };

  it("uses each manager's own command, keeping sections and pins, every spec quoted", () => {
    expect(bumpCommand(group)).toBe(
      [
        "npm install --no-audit --no-fund --save-prod --save-prefix='^' 'lodash@4.17.21'",
        "npm install --no-audit --no-fund --save-dev --save-prefix='^' 'jest@29.7.0'",
        "npm install --no-audit --no-fund --save-prod --save-prefix='~' 'left-pad@1.1.3'",
        "go get 'example.com/greet@v1.1.0'",
        'go mod tidy',
      ].join(' && '),
    );
    expect(bumpCommand({ name: 'x', packages: [{ name: 'a', manager: 'pnpm', from: '1.0.0', to: '1.0.1', kind: 'patch', prefix: '', dev: true }] })).toBe("pnpm add --save-dev --save-exact 'a@1.0.1'");
    expect(bumpCommand({ name: 'x', packages: [{ name: 'a', manager: 'yarn', from: '1.0.0', to: '1.0.1', kind: 'patch', prefix: '~' }] })).toBe("yarn add --tilde 'a@1.0.1'");
  });

  it('titles and tabulates it, escaping what came from a registry', () => {
    expect(bumpTitle(group)).toBe('chore(deps): bump 4 packages');
    expect(bumpTitle({ name: 'lodash', packages: [group.packages[0]!] })).toBe('chore(deps): bump lodash from 4.17.20 to 4.17.21');
    expect(bumpTitle({ name: 'react', packages: group.packages.slice(0, 2) })).toBe('chore(deps): bump 2 packages (react)');
    expect(bumpTable(group).split('\n').slice(0, 4)).toEqual([
      '| Package | From | To | Release notes |',
      '| --- | --- | --- | --- |',
      '| `lodash` | 4.17.20 | 4.17.21 (patch) | [releases](https://github.com/lodash/lodash/releases) |',
      '| `jest` (dev) | 29.0.0 | 29.7.0 (minor) |  |',
    ]);
    expect(bumpTable({ name: 'x', packages: [{ name: 'a|b`c', manager: 'go', from: 'v1', to: 'v2\n|x', kind: 'major' }] })).toContain('| `a\\|b\\`c` | v1 | v2 \\|x (major) |');
  });

  it('links release notes only for repositories on known forges, and speaks the Go proxy protocol', () => {
    expect(releaseNotesUrl('git+https://github.com/lodash/lodash.git')).toBe('https://github.com/lodash/lodash/releases');
    expect(releaseNotesUrl('git@gitlab.com:a/b.git')).toBe('https://gitlab.com/a/b/releases');
    // npm's short forms of a repository field.
    expect(releaseNotesUrl('jsdom/webidl-conversions')).toBe('https://github.com/jsdom/webidl-conversions/releases');
    expect(releaseNotesUrl('github:jsdom/webidl-conversions')).toBe('https://github.com/jsdom/webidl-conversions/releases');
    expect(releaseNotesUrl('gitlab:a/b')).toBe('https://gitlab.com/a/b/releases');
    expect(releaseNotesUrl('bitbucket:a/b')).toBeUndefined();
    expect(releaseNotesUrl('https://example.com/a/b')).toBeUndefined();
    expect(releaseNotesUrl('https://github.com/x/y/tree/main/packages/z')).toBe('https://github.com/x/y/releases');
    expect(releaseNotesUrl('javascript:alert(1)//github.com/a/b')).toBeUndefined();
    expect(releaseNotesUrl('https://evil.example/github.com/a/b')).toBeUndefined();
    expect(escapeModulePath('github.com/Azure/SDK')).toBe('github.com/!azure/!s!d!k');
    expect(goProxyUrl('https://proxy.golang.org,direct')).toBe('https://proxy.golang.org');
    expect(() => goProxyUrl('direct')).toThrow('names no proxy');
  });
});
