// The dependency-bump playbook end to end, on the real Temporal server, with real package
// registries on this machine (verdaccio for npm, a Go module proxy the test writes) and the
// package managers themselves in the confined sandbox: nothing stands between Errand and npm or
// go. A schedule triggered now opens the PR with its table; the policy (update kind, deny list,
// minimum release age) and grouping decide what goes where; nothing outdated opens nothing; an
// update that breaks the tests is fixed by the (scripted) agent, or, without a model, becomes a
// draft PR that says what broke or no PR; the next run updates the open PR rather than adding one.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { LocalSandboxProvider } from '../../activities/sandbox/local.js';
import { approve, call, gate } from '../fixtures/model-server.js';
import { git, makeOriginRepo } from '../fixtures/repos.js';
import { npmOriginRepo, registriesEnv, registryHost } from '../support/dependency-registries.js';
import { api, eventually, startErrand, type ErrandProcess } from '../support/errand-process.js';
import { startGoProxy, type GoProxy } from '../support/go-proxy.js';
import { startNpmRegistry, type NpmRegistry } from '../support/npm-registry.js';
import { describeWithPart } from '../support/required-part.js';
import { useErrand } from '../support/use.js';

const DAY = 86_400_000;

let npm: NpmRegistry;
let goProxy: GoProxy;

/** Errand's environment for this file's registries. */
const errandEnv = () => registriesEnv({ npm, goProxy });

beforeAll(async () => {
  npm = await startNpmRegistry(registryHost());
  goProxy = await startGoProxy(registryHost());
  const lib = (version: string) => ({ 'index.js': `exports.version = ${JSON.stringify(version)};\n` });
  const published: [string, string, Record<string, string>, number, string?][] = [
    // name, version, files, days ago, repository
    ['alpha', '1.0.0', lib('1.0.0'), 30, 'https://github.com/acme/alpha.git'],
    ['alpha', '1.0.1', lib('1.0.1'), 20, 'https://github.com/acme/alpha.git'],
    ['alpha', '1.1.0', lib('1.1.0'), 10, 'https://github.com/acme/alpha.git'],
    ['alpha', '2.0.0', lib('2.0.0'), 5, 'https://github.com/acme/alpha.git'],
    ['beta', '1.0.0', lib('1.0.0'), 30],
    ['beta', '1.1.0', lib('1.1.0'), 10],
    ['beta', '1.2.0', lib('1.2.0'), 0], // too young for a 2-day minimum release age
    ['gamma', '1.0.0', lib('1.0.0'), 30],
    ['gamma', '1.3.0', lib('1.3.0'), 10],
    // A minor release that renames what the fixture repository calls: its tests break.
    ['breaky', '1.0.0', { 'index.js': 'exports.greet = (name) => `hello ${name}`;\n' }, 30],
    ['breaky', '1.1.0', { 'index.js': 'exports.salute = (name) => `hello ${name}`;\n' }, 10],
  ];
  for (const [name, version, files, daysAgo, repository] of published) {
    await npm.publish({ name, version, files, repository });
    if (daysAgo) await npm.setPublishTime(name, version, new Date(Date.now() - daysAgo * DAY));
  }
  // A package whose install script calls out, and leaves a mark in the project when it got through.
  await npm.publish({
    name: 'callhome',
    version: '1.0.0',
    // Through the sandbox's egress proxy when it has one (Node's http ignores HTTP_PROXY), else direct.
    scripts: {
      install: `node -e "const p = process.env.http_proxy, r = process.env.npm_config_registry; require('http').get(p ? { host: new URL(p).hostname, port: new URL(p).port, path: r } : r, () => require('fs').writeFileSync(process.env.INIT_CWD + '/CALLED-HOME', 'an install script reached the network')).on('error', () => {})"`,
    },
  });
  const greet = (word: string) => ({ 'greet.go': `package greet\n\nfunc Hello() string { return "${word}" }\n` });
  goProxy.publish('example.com/greet', 'v1.0.0', greet('hello'), new Date(Date.now() - 30 * DAY));
  goProxy.publish('example.com/greet', 'v1.2.0', greet('hello'), new Date(Date.now() - 10 * DAY));
}, 120_000);

afterAll(async () => {
  await npm?.stop();
  await goProxy?.stop();
});

const t = useErrand(errandEnv);
/** The review agent reads every bump this server makes (and approves it). */
let reviews: ReturnType<typeof t.model.reviews>;
beforeAll(() => {
  reviews = t.model.reviews('chore(deps):');
});

/** An npm project on `deps`, with its lockfile, against this file's registry. */
const npmRepo = (deps: Record<string, string>, test: string) => npmOriginRepo(npm, deps, test);

const ALPHA_BETA_GAMMA = () => npmRepo({ alpha: '1.0.0', beta: '1.0.0', gamma: '1.0.0' }, "test('loads', () => assert.ok(require('alpha').version && require('beta').version));");
const BREAKY = () => npmRepo({ breaky: '1.0.0' }, "test('greets', () => assert.strictEqual(require('breaky').greet('ada'), 'hello ada'));");

/** POST /tasks with the playbook; the run's view once it has ended (completed or failed). */
async function bump(errand: ErrandProcess, repo: string, params: Record<string, unknown>, fields: Record<string, unknown> = {}): Promise<any> {
  const created = await api(errand.url, 'POST', '/tasks', { repo, playbook: 'dependency-bump', params, ...fields });
  expect(created).toMatchObject({ status: 201 });
  return ended(errand, created.body.id);
}

const ended = (errand: ErrandProcess, id: string) =>
  eventually(
    async () => {
      const { body } = await api(errand.url, 'GET', `/tasks/${id}`);
      return body.status === 'running' ? undefined : body;
    },
    180_000,
    `dependency bump ${id} to end`,
  );

const pullRequest = (errand: ErrandProcess, number: number) => JSON.parse(readFileSync(path.join(errand.stateDir, 'forge', 'pulls', `${number}.json`), 'utf8'));
const pullRequestsOf = (errand: ErrandProcess, repo: string): { number: number; repo: string }[] =>
  readdirSync(path.join(errand.stateDir, 'forge', 'pulls'))
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(path.join(errand.stateDir, 'forge', 'pulls', f), 'utf8')))
    .filter((p) => p.repo === repo);
const fileAt = (origin: string, ref: string, file: string) => git(origin, 'show', `${ref}:${file}`);

describe('dependency-bump', () => {
  it('runs from a schedule triggered now: the policy picks the versions, one PR with the table, updated by the next run', async () => {
    const origin = await ALPHA_BETA_GAMMA();
    const id = `deps-${Date.now().toString(36)}`;
    const created = await api(t.errand.url, 'POST', '/schedules', { id, repo: origin, playbook: 'dependency-bump', params: { update: 'minor', deny: ['gam*'], minReleaseAgeDays: 2 }, cron: '0 6 * * MON', timezone: 'Europe/Paris' });
    expect(created).toMatchObject({ status: 201, body: { params: { update: 'minor', deny: ['gam*'], minReleaseAgeDays: 2, grouping: 'all', onFailure: 'draft' } } });
    const lastRun = async (runs: number) =>
      eventually(async () => {
        const { body } = await api(t.errand.url, 'GET', `/schedules/${id}`);
        return body.recentRuns.length >= runs && body.recentRuns[0].status !== 'running' ? body.recentRuns[0] : undefined;
      }, 180_000, `run ${runs} of ${id}`);

    await api(t.errand.url, 'POST', `/schedules/${id}/trigger`);
    const first = await lastRun(1);
    // alpha: 1.1.0, not the major 2.0.0; beta: 1.1.0, not 1.2.0 published today; gamma denied.
    expect(first).toMatchObject({ status: 'completed', result: { outcome: 'updated', groups: [{ name: 'all', status: 'pull_request', pr: { number: expect.any(Number), draft: false } }] } });
    const number = first.result.groups[0].pr.number;
    const pr = pullRequest(t.errand, number);
    expect(pr).toMatchObject({ title: 'chore(deps): bump 2 packages', head: expect.stringMatching(/^errand-deps\/minor-[0-9a-f]{8}\/all$/), draft: false });
    const branch = pr.head as string;
    expect(pr.body).toContain('| `alpha` | 1.0.0 | 1.1.0 (minor) | [releases](https://github.com/acme/alpha/releases) |');
    expect(pr.body).toContain('| `beta` | 1.0.0 | 1.1.0 (minor) |  |');
    expect(pr.body).not.toContain('gamma');
    // With a model configured, the review agent read the change.
    expect(JSON.stringify(reviews.requests.at(-1)?.messages)).toContain('alpha');
    // The package manager itself wrote the manifest and the lockfile.
    const manifest = JSON.parse(fileAt(origin, branch, 'package.json'));
    expect(manifest.dependencies).toEqual({ alpha: '^1.1.0', beta: '^1.1.0', gamma: '^1.0.0' });
    const lock = JSON.parse(fileAt(origin, branch, 'package-lock.json'));
    expect(lock.packages['node_modules/alpha'].version).toBe('1.1.0');
    expect(lock.packages['node_modules/gamma'].version).toBe('1.0.0');

    // A week later: alpha has a patch release, and main moved on.
    await npm.publish({ name: 'alpha', version: '1.1.1', files: { 'index.js': 'exports.version = "1.1.1";\n' }, repository: 'https://github.com/acme/alpha.git', tag: 'release-1' });
    await npm.setPublishTime('alpha', '1.1.1', new Date(Date.now() - 3 * DAY));
    const work = path.join(path.dirname(origin), 'work');
    writeFileSync(path.join(work, 'README.md'), 'The shop.\n');
    git(work, 'add', 'README.md');
    git(work, 'commit', '-q', '-m', 'docs: a README');
    git(work, 'push', '-q', origin, 'main');
    await api(t.errand.url, 'POST', `/schedules/${id}/trigger`);
    const second = await lastRun(2);
    expect(second).toMatchObject({ status: 'completed', result: { outcome: 'updated', groups: [{ name: 'all', pr: { number } }] } });
    const updated = pullRequest(t.errand, number);
    expect(updated.body).toContain('| `alpha` | 1.0.0 | 1.1.1 (minor) |');
    expect(JSON.parse(fileAt(origin, branch, 'package.json')).dependencies.alpha).toBe('^1.1.1');
    // On the new base: main's new commit is under the update.
    expect(git(origin, 'merge-base', '--is-ancestor', 'main', branch)).toBe('');
    expect(pullRequestsOf(t.errand, origin).map((p) => p.number)).toEqual([number]);
    await api(t.errand.url, 'DELETE', `/schedules/${id}`);
  });

  it('groups: named groups first, then one PR per package; nothing outdated opens nothing and says up to date', async () => {
    const origin = await ALPHA_BETA_GAMMA();
    const grouped = await bump(t.errand, origin, { update: 'major', grouping: 'each', groups: ['ab=alpha,beta'] }, { requester: 'deps-bot' });
    expect(grouped.status).toBe('completed');
    const groups = Object.fromEntries(grouped.dependencyGroups.map((g: { name: string }) => [g.name, g]));
    expect(Object.keys(groups).sort()).toEqual(['ab', 'gamma']);
    // One policy, one digest: each group's branch under it.
    const policy = /^errand-deps\/major-[0-9a-f]{8}\//.exec(pullRequest(t.errand, groups.ab.pr.number).head)![0];
    expect(pullRequest(t.errand, groups.ab.pr.number)).toMatchObject({ title: 'chore(deps): bump 2 packages (ab)', head: `${policy}ab` });
    expect(pullRequest(t.errand, groups.ab.pr.number).body).toContain('| `alpha` | 1.0.0 | 2.0.0 (major) |');
    expect(pullRequest(t.errand, groups.gamma.pr.number)).toMatchObject({ title: 'chore(deps): bump gamma from 1.0.0 to 1.3.0', head: `${policy}gamma` });
    // GET /tasks lists the run and each group's task.
    const listed = await eventually(async () => {
      const { body } = await api(t.errand.url, 'GET', `/tasks?repo=${encodeURIComponent(origin)}`);
      return body.tasks.length === 3 ? body.tasks.map((task: { id: string }) => task.id).sort() : undefined;
    }, 30_000, 'the bump and its groups in GET /tasks');
    expect(listed).toEqual([grouped.id, groups.ab.taskId, groups.gamma.taskId].sort());
    // Each group's task is the requester's too: filtered by requester, the same three.
    const mine = (await api(t.errand.url, 'GET', `/tasks?repo=${encodeURIComponent(origin)}&requester=deps-bot`)).body.tasks;
    expect(mine.map((task: { id: string; requester?: string }) => [task.id, task.requester]).sort()).toEqual([grouped.id, groups.ab.taskId, groups.gamma.taskId].sort().map((id) => [id, 'deps-bot']));
    // What each is and what started it: the bump lists its groups' tasks, each links back to it.
    expect(grouped).toMatchObject({ kind: 'dependency_bump' });
    expect(grouped.parent).toBeUndefined();
    for (const group of [groups.ab, groups.gamma]) {
      expect((await api(t.errand.url, 'GET', `/tasks/${group.taskId}`)).body).toMatchObject({ kind: 'coding_task', parent: { kind: 'task', id: grouped.id } });
    }
    expect(mine.map((task: { id: string; kind: string }) => [task.id, task.kind]).sort()).toEqual(
      [[grouped.id, 'dependency_bump'], [groups.ab.taskId, 'coding_task'], [groups.gamma.taskId, 'coding_task']].sort(),
    );

    // beta 1.2.0 exists, but it is a minor update: under `patch`, 1.1.0 is up to date.
    const patchOnly = await bump(t.errand, await npmRepo({ beta: '1.1.0' }, "test('ok', () => {});"), { update: 'patch' });
    expect(patchOnly).toMatchObject({ status: 'completed', phase: 'completed', summary: 'up to date: 1 dependency checked (npm); nothing to update within the policy', dependencyGroups: [] });
  });

  it('an update that breaks the tests goes to the agent, which fixes the code and keeps the update', async () => {
    const origin = await BREAKY();
    const script = t.model.script('bump breaky from 1.0.0 to 1.1.0', [
      call('write_file', { path: 'shop.test.js', content: "const test = require('node:test');\nconst assert = require('node:assert');\ntest('greets', () => assert.strictEqual(require('breaky').salute('ada'), 'hello ada'));\n" }),
      call('finish', { summary: 'breaky 1.1 renamed greet to salute; the test calls salute' }),
    ]);
    const done = await bump(t.errand, origin, {});
    expect(done).toMatchObject({ status: 'completed', dependencyGroups: [{ name: 'all', status: 'pull_request', pr: { draft: false } }] });
    // The agent saw the failing tests, and was told to keep the versions.
    expect(JSON.stringify(script.requests[0]!.messages)).toContain('change the code, not the versions');
    expect(JSON.stringify(script.requests[0]!.messages)).toMatch(/salute|greet is not a function/);
    const head = pullRequest(t.errand, done.dependencyGroups[0].pr.number).head;
    expect(JSON.parse(fileAt(origin, head, 'package.json')).dependencies.breaky).toBe('^1.1.0');
    expect(fileAt(origin, head, 'shop.test.js')).toContain(".salute('ada')");
    expect(pullRequest(t.errand, done.dependencyGroups[0].pr.number).title).toBe('chore(deps): bump breaky from 1.0.0 to 1.1.0');
  });

  it('keeps the PRs of two policies on one repository apart: an ad-hoc minor bump leaves the major one as it was', async () => {
    const origin = await ALPHA_BETA_GAMMA();
    const major = await bump(t.errand, origin, { update: 'major' });
    const minor = await bump(t.errand, origin, { update: 'minor' });
    const [majorPr, minorPr] = [major, minor].map((done) => pullRequest(t.errand, done.dependencyGroups[0].pr.number));
    expect(majorPr.number).not.toBe(minorPr.number);
    expect(majorPr.head).not.toBe(minorPr.head);
    expect(majorPr.body).toContain('| `alpha` | 1.0.0 | 2.0.0 (major) |');
    expect(JSON.parse(fileAt(origin, majorPr.head, 'package.json')).dependencies.alpha).toBe('^2.0.0');
    expect(JSON.parse(fileAt(origin, minorPr.head, 'package.json')).dependencies.alpha).toMatch(/^\^1\.1\.\d+$/);
    // The same policy again updates its own PR in place.
    const again = await bump(t.errand, origin, { update: 'major' });
    expect(again.dependencyGroups[0].pr.number).toBe(majorPr.number);
    expect(pullRequestsOf(t.errand, origin)).toHaveLength(2);
  });

  it('an update the agent cannot fix: no PR under onFailure none, and nothing on the group branch', async () => {
    const origin = await BREAKY();
    const script = t.model.script('bump breaky from 1.0.0 to 1.1.0', [call('finish', { summary: 'I could not make it work' })], { indexBy: 'turn' });
    const done = await bump(t.errand, origin, { onFailure: 'none' });
    expect(script.requests.length).toBeGreaterThan(0);
    expect(done).toMatchObject({ status: 'completed', dependencyGroups: [{ name: 'all', status: 'no_pull_request' }] });
    expect(pullRequestsOf(t.errand, origin)).toEqual([]);
    expect(git(origin, 'branch', '--list', 'errand-deps/*')).toBe('');
  });

  it("never runs the agent's code with the network: a replacement sandbox makes the update on the base, then restores the work", async () => {
    const origin = await BREAKY();
    const group = (id: string) => `${id}-all`;
    let bumpId = '';
    // The agent fixes the test, and adds a dependency whose install script calls out: with no
    // network (`setup`), nothing installs it in its sandbox.
    t.model.script('bump breaky from 1.0.0 to 1.1.0', [
      call('write_file', { path: 'package.json', content: JSON.stringify({ name: 'shop', version: '1.0.0', private: true, scripts: { test: 'node --test' }, dependencies: { breaky: '^1.1.0', callhome: '1.0.0' } }, null, 2) }),
      call('write_file', { path: 'shop.test.js', content: "const test = require('node:test');\nconst assert = require('node:assert');\ntest('greets', () => assert.strictEqual(require('breaky').salute('ada'), 'hello ada'));\n" }),
      call('finish', { summary: 'breaky 1.1 renamed greet to salute' }),
    ]);
    // Its sandbox is lost while the review reads the pushed branch: a replacement publishes it.
    const reviewing = gate();
    const sandboxes = new LocalSandboxProvider({ dir: path.join(t.errand.stateDir, 'sandboxes'), sandboxdCommand: [] });
    const held = t.model.reviews('chore(deps):', [{ kind: 'later', after: reviewing.promise, reply: approve() }]);
    try {
      const created = await api(t.errand.url, 'POST', '/tasks', { repo: origin, playbook: 'dependency-bump', params: {} });
      bumpId = created.body.id;
      await eventually(async () => (held.requests.length ? true : undefined), 120_000, 'the review');
      await sandboxes.destroy(group(bumpId));
      reviewing.open();
      const done = await ended(t.errand, bumpId);
      expect(done).toMatchObject({ status: 'completed', dependencyGroups: [{ name: 'all', status: 'pull_request' }] });
    } finally {
      reviewing.open();
      reviews = t.model.reviews('chore(deps):');
    }
    const task = (await api(t.errand.url, 'GET', `/tasks/${group(bumpId)}`)).body;
    expect(task.sandboxLosses).toBe(1);
    // The work is published as the agent left it, and nothing it added ran with the network.
    const head = pullRequest(t.errand, task.pr.number).head;
    expect(JSON.parse(fileAt(origin, head, 'package.json')).dependencies).toEqual({ breaky: '^1.1.0', callhome: '1.0.0' });
    expect(git(origin, 'ls-tree', '--name-only', head)).not.toContain('CALLED-HOME');
  });

  const goMissing = (() => {
    try {
      execFileSync('go', ['version'], { stdio: 'ignore' });
      return undefined;
    } catch (err) {
      return (err as Error).message;
    }
  })();
  describeWithPart({ name: 'the Go toolchain', missing: goMissing, install: 'install Go (https://go.dev/dl/) and put `go` on PATH; the project setup needs it too' }, 'Go modules', () => {
    it('updates Go modules through the module proxy', async () => {
      const origin = makeOriginRepo({
        'go.mod': 'module example.com/shop\n\ngo 1.21\n\nrequire example.com/greet v1.0.0\n',
        'go.sum': '',
        'shop.go': 'package shop\n\nimport "example.com/greet"\n\nfunc Welcome() string { return greet.Hello() }\n',
        'shop_test.go': 'package shop\n\nimport "testing"\n\nfunc TestWelcome(t *testing.T) {\n\tif Welcome() != "hello" {\n\t\tt.Fatal(Welcome())\n\t}\n}\n',
      });
      const done = await bump(t.errand, origin, {});
      expect(done).toMatchObject({ status: 'completed', dependencyGroups: [{ status: 'pull_request' }] });
      const head = pullRequest(t.errand, done.dependencyGroups[0].pr.number).head;
      expect(fileAt(origin, head, 'go.mod')).toContain('require example.com/greet v1.2.0');
      expect(fileAt(origin, head, 'go.sum')).toContain('example.com/greet v1.2.0 h1:');
      expect(pullRequest(t.errand, done.dependencyGroups[0].pr.number).body).toContain('| `example.com/greet` | v1.0.0 | v1.2.0 (minor) |');
    });
  });

  describe('on a server without a model', () => {
    let bare: ErrandProcess;
    beforeAll(async () => {
      bare = await startErrand({ env: await errandEnv() });
    });
    afterAll(async () => {
      await bare?.stop();
    });

    it('an update that breaks the tests: a draft PR that says what broke, or no PR', async () => {
      const draft = await bump(bare, await BREAKY(), {});
      expect(draft).toMatchObject({ status: 'completed', dependencyGroups: [{ status: 'pull_request', pr: { draft: true } }] });
      const pr = pullRequest(bare, draft.dependencyGroups[0].pr.number);
      expect(pr.draft).toBe(true);
      expect(pr.body).toContain('npm test');
      expect(pr.body).toMatch(/greet is not a function/);
      // No model reviewed it, and the PR does not say one did.
      expect(pr.body).toContain('Not reviewed by a model (none is configured): the deterministic checks passed');
      expect(pr.body).not.toContain('by the review agent');

      const none = await bump(bare, await BREAKY(), { onFailure: 'none' });
      expect(none).toMatchObject({ status: 'completed', dependencyGroups: [{ status: 'no_pull_request', error: expect.stringContaining('no PR (onFailure: none)') }] });
      expect(none.dependencyGroups[0].pr).toBeUndefined();

      // Other playbooks and prompts still need a model.
      const refused = await api(bare.url, 'POST', '/tasks', { repo: await BREAKY(), prompt: 'fix it' });
      expect(refused).toMatchObject({ status: 400, body: { detail: expect.stringContaining('model') } });

      // An ended bump is read whole from its history: no worker needs to replay it for its groups.
      await bare.stop();
      const apiAlone = await startErrand({ command: 'api', env: await errandEnv(), stateDir: bare.stateDir, taskQueue: bare.taskQueue });
      try {
        const read = await api(apiAlone.url, 'GET', `/tasks/${none.id}`);
        expect(read.body).toMatchObject({ status: 'completed', phase: 'completed', dependencyGroups: [{ status: 'no_pull_request' }], summary: expect.stringContaining('all (no pull request)') });
        // The list (from visibility) shows its last phase too, not the `queued` it was started with.
        await eventually(async () => {
          const listed = await api(apiAlone.url, 'GET', `/tasks?repo=${encodeURIComponent(read.body.repo)}`);
          return listed.body.tasks.find((task: { id: string; phase: string }) => task.id === none.id && task.phase === 'completed');
        }, 10_000, 'the bump listed as completed');
      } finally {
        await apiAlone.stop();
      }
    });
  });
});
