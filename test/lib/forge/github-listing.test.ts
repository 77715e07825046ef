// The GitHub forge's listing of an owner's repositories (what a campaign over `acme/*` reaches)
// and the state of a pull request (open, closed, merged), called on GitHubForge itself. GitHub
// cannot be reached from here: every request goes to test/fixtures/github-server.ts, which
// validates it against GitHub's published OpenAPI description and answers schema-valid bodies.
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { GitHubForge, type GitHubSettings } from '../../../lib/forge/github.js';
import { ErrandFailure } from '../../../lib/failures/errand-failure.js';
import { FailureType } from '../../../workflows/failures.js';
import { GitHubStandIn } from '../../fixtures/github-server.js';
import { BUGGY_SUM, git } from '../../fixtures/repos.js';

let github: GitHubStandIn;
let asToken: GitHubForge;
let asApp: GitHubForge;

const settings = (auth: GitHubSettings['auth']): GitHubSettings => ({ apiUrl: github.url, gitUrl: github.gitUrl, auth, labels: [] });

beforeAll(async () => {
  github = new GitHubStandIn();
  await github.start();
  github.orgs.add('acme');
  for (const name of ['shop', 'billing', 'Service-api', 'service-web', '.github']) github.addRepoRecord(`acme/${name}`);
  github.addRepoRecord('acme/old', { archived: true });
  github.addRepoRecord('acme/readonly', { push: false });
  github.addRepoRecord('acmecorp/shop'); // another owner whose name starts alike
  github.addRepoRecord('other/shop');
  github.addRepoRecord('ada/notes'); // a user, not an organization
  // Three pages of 100: listing follows GitHub's Link headers, and stops once it has enough.
  for (let i = 0; i < 250; i++) github.addRepoRecord(`bulk/repo-${String(i).padStart(3, '0')}`);
  asToken = new GitHubForge(settings({ token: github.token }));
  asApp = new GitHubForge(settings({ appId: github.app.id, privateKey: github.app.privateKey }));
});

afterEach(() => {
  // Every request the forge sent, and every answer the stand-in gave, matched GitHub's description.
  expect(github.violations).toEqual([]);
});

afterAll(async () => {
  await github?.stop();
});

const listings = (since: number, op: string) => github.requests.slice(since).filter((r) => r.operationId === op);

/** The failure a call ends with, for asserting on its type and message. */
async function failureOf(promise: Promise<unknown>): Promise<ErrandFailure> {
  const outcome = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(outcome).toBeInstanceOf(ErrandFailure);
  return outcome as ErrandFailure;
}

describe.each([
  ['a personal token', () => asToken, 'repos/list-for-authenticated-user'],
  ['a GitHub App', () => asApp, 'apps/list-repos-accessible-to-installation'],
])('listing repositories with %s', (_auth, forge, listing) => {
  it("lists an owner's repositories that take pushes, in name order, as GitHub spells them", async () => {
    expect(await forge().listRepositories('acme/*', 100)).toEqual({
      repos: ['acme/.github', 'acme/billing', 'acme/Service-api', 'acme/service-web', 'acme/shop'],
      more: false,
    });
  });

  it('matches names regardless of case, with globs and braces', async () => {
    expect(await forge().listRepositories('ACME/service-*', 100)).toEqual({ repos: ['acme/Service-api', 'acme/service-web'], more: false });
    expect(await forge().listRepositories('acme/{shop,billing,old}', 100)).toEqual({ repos: ['acme/billing', 'acme/shop'], more: false });
    expect(await forge().listRepositories('acme/shop', 100)).toEqual({ repos: ['acme/shop'], more: false });
    expect(await forge().listRepositories('acme/nothing-*', 100)).toEqual({ repos: [], more: false });
  });

  it('gives at most `limit`, saying when there were more', async () => {
    expect(await forge().listRepositories('acme/*', 2)).toEqual({ repos: ['acme/.github', 'acme/billing'], more: true });
    expect(await forge().listRepositories('acme/*', 5)).toMatchObject({ more: false });
  });

  it('follows the pages, and stops asking once one more than `limit` matched', async () => {
    let since = github.requests.length;
    const last = await forge().listRepositories('bulk/repo-24*', 100);
    expect(last).toEqual({ repos: Array.from({ length: 10 }, (_, i) => `bulk/repo-24${i}`), more: false });
    expect(listings(since, listing).map((r) => r.path)).toHaveLength(3);

    since = github.requests.length;
    const first = await forge().listRepositories('bulk/*', 3);
    expect(first.more).toBe(true);
    expect(first.repos).toHaveLength(3);
    expect(listings(since, listing)).toHaveLength(1);
  });

  it('refuses a pattern whose owner is not one account written out, saying what to write', async () => {
    for (const pattern of ['*/shop', '{acme,other}/*', 'ac*/shop']) {
      const failure = await failureOf(forge().listRepositories(pattern, 10));
      expect(failure).toMatchObject({ type: FailureType.ForgeRejected, retryable: false });
      expect(failure.message).toContain(`"${pattern}": the owner`);
      expect(failure.message).toContain('must be one account written out, without wildcards; give one pattern per owner, e.g. acme/*');
    }
    for (const pattern of ['acme', 'acme/', 'acme/shop/*']) {
      expect((await failureOf(forge().listRepositories(pattern, 10))).message).toBe(
        `"${pattern}" is not a pattern of GitHub repositories; give an owner and a glob of names, e.g. acme/*, acme/service-* or acme/{shop,billing}`,
      );
    }
  });
});

describe('listing repositories with a GitHub App', () => {
  it("finds the installation on an organization or on a user, and lists it with the installation's token", async () => {
    const fresh = new GitHubForge(settings({ appId: github.app.id, privateKey: github.app.privateKey }));
    const since = github.requests.length;
    expect(await fresh.listRepositories('ada/*', 10)).toEqual({ repos: ['ada/notes'], more: false });
    expect(github.requests.slice(since).map((r) => r.operationId)).toEqual([
      'apps/get-org-installation', // ada is a user: GitHub answers 404 here
      'apps/get-user-installation',
      'apps/create-installation-access-token',
      // The installation covers every owner here: all three pages, as fewer than `limit` matched.
      'apps/list-repos-accessible-to-installation',
      'apps/list-repos-accessible-to-installation',
      'apps/list-repos-accessible-to-installation',
    ]);
    expect(github.requests.slice(since, since + 2).every((r) => /^bearer /i.test(r.auth ?? ''))).toBe(true); // the App's JWT
  });

  it('says to install the App where it is not installed', async () => {
    const failure = await failureOf(asApp.listRepositories('nobody/*', 10));
    expect(failure).toMatchObject({ type: FailureType.ForgeRejected, retryable: false });
    expect(failure.message).toBe('The GitHub App is not installed on nobody; install it on that account (with access to the repositories to list), or give a pattern for an owner it is installed on');
  });
});

describe.each([
  ['a personal token', () => asToken],
  ['a GitHub App', () => asApp],
])('pull request state with %s', (auth, forge) => {
  const repo = `octo/state-${auth.includes('App') ? 'app' : 'token'}`;
  beforeAll(() => {
    github.addRepo(repo, BUGGY_SUM);
    for (const branch of ['errand/merge-me', 'errand/close-me']) git(github.bareRepo(...(repo.split('/') as [string, string])), 'branch', branch, 'main');
  });

  const open = (head: string) => forge().openPullRequest({ taskId: 't', repo, base: 'main', head, title: head, body: '', draft: true });
  const fakeOf = (number: number) => github.pulls.find((pr) => `${pr.owner}/${pr.repo}` === repo && pr.number === number)!;

  it('is open, then merged once GitHub merges it', async () => {
    const { number } = await open('errand/merge-me');
    expect(await forge().pullRequestState(repo, number)).toBe('open');
    github.closePull(fakeOf(number), { merged: true });
    expect(await forge().pullRequestState(repo, number)).toBe('merged');
  });

  it('is closed when closed without merging', async () => {
    const { number } = await open('errand/close-me');
    github.closePull(fakeOf(number));
    expect(await forge().pullRequestState(repo, number)).toBe('closed');
  });

  it("fails with GitHub's message for a pull request that does not exist", async () => {
    const failure = await failureOf(forge().pullRequestState(repo, 999));
    expect(failure).toMatchObject({ type: FailureType.ForgeRejected, retryable: false });
    expect(failure.message).toBe(`GitHub refused reading #999 of ${repo}: 404 Not Found`);
  });
});
