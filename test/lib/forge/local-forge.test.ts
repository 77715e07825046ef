// The local forge's pull requests: one per branch however often it is asked (an activity retried),
// numbers never shared, and opening one never depends on the records of the others (a forge
// with thousands of them, or one a person or tool left unreadable). And the name it gives a
// repository on this host, which a token's allowlist is compared with.
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { LocalForge } from '../../../lib/forge/local.js';
import { BUGGY_SUM, git, makeOriginRepo } from '../../fixtures/repos.js';

const request = (head: string) => ({ taskId: 't1', repo: '/srv/repos/app.git', base: 'main', head, title: `t ${head}`, body: 'b', draft: true, diff: 'd' });

describe('LocalForge pull requests', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'errand-local-forge-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('opens one pull request per branch, numbered in order, and gives the same one when asked again', async () => {
    const forge = new LocalForge(dir);
    const a = await forge.openPullRequest(request('errand/a'));
    const b = await forge.openPullRequest(request('errand/b'));
    expect([a.number, b.number]).toEqual([1, 2]);
    const again = await forge.openPullRequest(request('errand/a'));
    expect(again).toMatchObject({ number: 1, existing: true });
    expect((await forge.all()).map((pr) => pr.head).sort()).toEqual(['errand/a', 'errand/b']);
  });

  it("opens a pull request even when another one's record is unreadable", async () => {
    const forge = new LocalForge(dir);
    await forge.openPullRequest(request('errand/a'));
    writeFileSync(path.join(dir, '1.json'), '{ half written');
    const b = await forge.openPullRequest(request('errand/b'));
    expect(b.number).toBe(2);
    expect(await forge.openPullRequest(request('errand/b'))).toMatchObject({ number: 2, existing: true });
  });

  it('gives different numbers to pull requests opened at once', async () => {
    const forge = new LocalForge(dir);
    const opened = await Promise.all(Array.from({ length: 20 }, (_, i) => forge.openPullRequest(request(`errand/${i}`))));
    expect(new Set(opened.map((pr) => pr.number)).size).toBe(20);
  });
});

// A token's repository allowlist is compared with the name the forge gives a repository, so that
// name must be where git really goes: git completes a path (`x` to `x/.git`, `x.git`, …), follows
// a `.git` link or gitfile, a link anywhere in the path, `..` after a link, and a worktree's
// commondir. Each case pushes through the path it gives and finds the push in the repository
// the forge named: the name is proven against git itself, not against this test's idea of it.
describe('LocalForge names a repository by where git really reaches', () => {
  let root: string;
  let plain: string;
  let work: string;
  beforeAll(() => {
    root = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'errand-local-names-')));
    const origin = makeOriginRepo(BUGGY_SUM);
    plain = realpathSync(origin);
    work = path.join(path.dirname(plain), 'work');
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const at = (name: string) => path.join(root, name);

  it.each<[string, () => string]>([
    ['a directory whose .git is a link', () => (mkdirSync(at('dotgit-link')), symlinkSync(plain, at('dotgit-link/.git')), at('dotgit-link'))],
    ['a directory whose .git is a gitfile', () => (mkdirSync(at('dotgit-file')), writeFileSync(at('dotgit-file/.git'), `gitdir: ${plain}\n`), at('dotgit-file'))],
    ['a directory whose .git is a relative gitfile', () => (mkdirSync(at('dotgit-relative')), writeFileSync(at('dotgit-relative/.git'), `gitdir: ${path.relative(at('dotgit-relative'), plain)}\n`), at('dotgit-relative'))],
    ['a path that is itself a gitfile', () => (writeFileSync(at('bare-gitfile'), `gitdir: ${plain}\n`), at('bare-gitfile'))],
    ['a path that is a link', () => (symlinkSync(plain, at('link.git')), at('link.git'))],
    ['a path with a trailing slash', () => (symlinkSync(plain, at('slash.git')), `${at('slash.git')}/`)],
    ['a name git completes with .git', () => (symlinkSync(plain, at('completed.git')), at('completed'))],
    ['a name ending in .git that git completes with another', () => (symlinkSync(plain, at('twice.git.git')), at('twice.git'))],
    // Lexically this is root/origin.git; the kernel takes `..` after the link from where it leads.
    ['.. after a link', () => (symlinkSync(plain, at('up.git')), `${at('up.git')}/../${path.basename(plain)}`)],
    ['a worktree-like git directory whose commondir is another repository', () => {
      mkdirSync(at('common.git'));
      writeFileSync(at('common.git/HEAD'), 'ref: refs/heads/main\n');
      writeFileSync(at('common.git/commondir'), `${plain}\n`);
      return at('common.git');
    }],
    ['a file:// URL', () => (mkdirSync(at('url')), symlinkSync(plain, at('url/.git')), pathToFileURL(at('url')).href)],
    // git ignores a file:// URL's host, and decodes %2e%2e only after the URL is split: `..` then goes after the link.
    ['a file:// URL with a host', () => (symlinkSync(plain, at('hosted.git')), `file://elsewhere${at('hosted.git')}`)],
    ['a file:// URL with an encoded .. after a link', () => (symlinkSync(plain, at('encoded.git')), `file://${at('encoded.git')}/%2e%2e/${path.basename(plain)}`)],
  ])('names %s by the repository git pushes into', async (_what, make) => {
    const given = make();
    const forge = new LocalForge(mkdtempSync(path.join(root, 'prs-')));
    expect(forge.nameOf(given)).toBe(plain);
    const branch = `probe-${Math.random().toString(36).slice(2, 8)}`;
    git(work, 'push', '-q', given, `HEAD:refs/heads/${branch}`);
    expect(git(plain, 'rev-parse', '--verify', '-q', `refs/heads/${branch}`).trim()).toMatch(/^[0-9a-f]{40}$/);
    // What a task records, and reads its files from, is that same repository.
    expect(await forge.resolveRepository(given)).toEqual({ repo: plain, baseBranch: 'main' });
    expect(await forge.readFile(plain, 'main', 'sum.js')).toBe(BUGGY_SUM['sum.js']);
  });

  it('names a repository as it is when it is already where git goes, a working copy by its directory', () => {
    const forge = new LocalForge(mkdtempSync(path.join(root, 'prs-')));
    expect(forge.nameOf(plain)).toBe(plain);
    expect(forge.nameOf(forge.nameOf(plain)!)).toBe(plain);
    expect(forge.nameOf(work)).toBe(work);
  });

  it('leaves what is not a repository on this host as it was given, reaching for no other host', () => {
    const forge = new LocalForge(mkdtempSync(path.join(root, 'prs-')));
    mkdirSync(at('not-a-repo'));
    for (const given of ['ssh://git@127.0.0.1:1/x.git', 'https://127.0.0.1:1/x.git', 'git@127.0.0.1:x.git', 'relative/path', at('missing.git'), at('not-a-repo'), `${at('missing')}/../x.git`]) {
      expect(forge.nameOf(given)).toBe(given);
    }
  });
});

describe('LocalForge listing and pull request states', () => {
  let dir: string;
  beforeEach(() => (dir = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'errand-local-list-')))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** A bare repository cloned from a fresh origin to `dir/<name>`. */
  const repoAt = (name: string) => {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    git(dir, 'clone', '-q', '--bare', makeOriginRepo(BUGGY_SUM), path.join(dir, name));
    return path.join(dir, name);
  };

  it('lists the repositories a path glob matches, by name, not through links, as resolveRepository names them', async () => {
    const forge = new LocalForge(path.join(dir, 'forge'));
    const [shop, billing] = [repoAt('git/shop.git'), repoAt('git/billing.git')];
    const nested = repoAt('git/team/search.git');
    repoAt('other/web.git');
    mkdirSync(path.join(dir, 'git/not-a-repo.git'));
    symlinkSync(shop, path.join(dir, 'git/linked.git'));
    expect(await forge.listRepositories(`${dir}/git/*.git`, 10)).toEqual({ repos: [billing, shop], more: false });
    expect(await forge.listRepositories(`${dir}/git/**/*.git`, 10)).toEqual({ repos: [billing, shop, nested], more: false });
    expect(await forge.listRepositories(`${dir}/git/{shop,search}.git`, 10)).toEqual({ repos: [shop], more: false });
    expect(await forge.listRepositories(`${dir}/git/*.git`, 1)).toEqual({ repos: [billing], more: true });
    for (const repo of (await forge.listRepositories(`${dir}/**/*.git`, 10)).repos) {
      expect(await forge.resolveRepository(repo)).toMatchObject({ repo });
    }
    await expect(forge.listRepositories('git/*.git', 10)).rejects.toThrow('give an absolute path with a wildcard');
    await expect(forge.listRepositories(`${dir}/git/shop.git`, 10)).rejects.toThrow('give an absolute path with a wildcard');
  });

  it("says a pull request is merged once its branch is in its base, closed when its branch is gone", async () => {
    const forge = new LocalForge(path.join(dir, 'forge'));
    const origin = repoAt('shop.git');
    const work = path.join(dir, 'work');
    git(dir, 'clone', '-q', origin, work);
    git(work, 'checkout', '-q', '-b', 'errand/x');
    writeFileSync(path.join(work, 'sum.js'), 'exports.sum = (a, b) => a + b;\n');
    git(work, 'commit', '-q', '-am', 'fix');
    git(work, 'push', '-q', 'origin', 'errand/x');
    const pr = await forge.openPullRequest({ taskId: 't', repo: origin, base: 'main', head: 'errand/x', title: 'fix', body: '', draft: false });
    expect(await forge.pullRequestState(origin, pr.number)).toBe('open');
    git(work, 'push', '-q', 'origin', 'errand/x:main');
    expect(await forge.pullRequestState(origin, pr.number)).toBe('merged');
    git(work, 'push', '-q', 'origin', ':errand/x');
    expect(await forge.pullRequestState(origin, pr.number)).toBe('closed');
  });
});
