// The GitHub forge, through Octokit: a personal token or a GitHub App (installation tokens,
// narrowed per use: read-only for the clone, write for the push). Pull requests open as drafts
// early, are marked ready (GraphQL: REST cannot) when the review approves, carry the configured
// labels, and GitHub's own message is what the user sees when it refuses.
import { createAppAuth } from '@octokit/auth-app';
import { RequestError } from '@octokit/request-error';
import { Octokit } from '@octokit/rest';
import picomatch from 'picomatch';
import type { PullRequestRef } from '../../workflows/contracts/task.js';
import { FailureType } from '../../workflows/failures.js';
import { ErrandFailure } from '../failures/errand-failure.js';
import type { Forge, ForgeCollaboration, GitRemote, OpenPullRequest, Permission, PullRequestState, ResolvedRepository, UpdatePullRequest } from './forge.js';

export interface GitHubSettings {
  /** REST base URL: https://api.github.com, or GitHub Enterprise Server's /api/v3. */
  apiUrl: string;
  /** Where git reaches a repository; {owner} and {repo} are filled in. */
  gitUrl: string;
  auth: { token: string } | { appId: string; privateKey: string; installationId?: number };
  labels: string[];
}

export interface RepoName {
  owner: string;
  repo: string;
}

/** `owner/name`, or a github.com URL of one. */
export function parseRepoName(repo: string): RepoName | undefined {
  const m = /^(?:https:\/\/[^/]+\/)?([A-Za-z0-9](?:[A-Za-z0-9-]{0,38}))\/([A-Za-z0-9._-]{1,100}?)(?:\.git)?\/?$/.exec(repo.trim());
  return m ? { owner: m[1]!, repo: m[2]! } : undefined;
}

export class GitHubForge implements Forge, ForgeCollaboration {
  readonly name = 'github';
  readonly collaboration: ForgeCollaboration = this;
  private readonly octokits = new Map<string, Octokit>();
  private appAuth?: ReturnType<typeof createAppAuth>;

  constructor(private readonly settings: GitHubSettings) {}

  /** `owner/name` (or its URL); GitHub itself answers for it, and for the branch, as the task starts. */
  async resolveRepository(repo: string, baseBranch?: string): Promise<ResolvedRepository> {
    const name = this.nameOf(repo);
    if (!name) return { field: 'repo', message: `"${repo}" is not a GitHub repository; give owner/name or https://github.com/owner/name` };
    return { repo: name, baseBranch: baseBranch ?? '' };
  }

  nameOf(repo: string): string | undefined {
    const name = parseRepoName(repo);
    return name && `${name.owner}/${name.repo}`;
  }

  async checkRepository(repo: string, baseBranch: string): Promise<{ baseBranch: string }> {
    const name = this.name_(repo);
    const octokit = await this.client(name);
    const { data } = await call(`reading ${repo}`, () => octokit.rest.repos.get({ ...name }));
    // A personal token's view says what it may do; an App's installation token was granted
    // contents:write and pull_requests:write at installation, or the calls below say no.
    if (data.permissions && !data.permissions.push) {
      throw ErrandFailure.permanent(FailureType.ForgeRejected, `GitHub gives Errand no push access to ${data.full_name}; grant the token (or App) write access to contents and pull requests`);
    }
    const branch = baseBranch || data.default_branch;
    await call(`reading branch ${branch} of ${repo}`, () => octokit.rest.repos.getBranch({ ...name, branch }));
    return { baseBranch: branch };
  }

  async readFile(repo: string, ref: string, file: string): Promise<string | undefined> {
    const name = this.name_(repo);
    const octokit = await this.client(name);
    try {
      const { data } = await octokit.rest.repos.getContent({ ...name, path: file, ...(ref && { ref }) });
      return !Array.isArray(data) && data.type === 'file' && 'content' in data ? Buffer.from(data.content, 'base64').toString('utf8') : undefined;
    } catch (err) {
      if (err instanceof RequestError && err.status === 404) return undefined;
      throw err;
    }
  }

  async listFiles(repo: string, ref: string, dir: string): Promise<string[]> {
    const name = this.name_(repo);
    const octokit = await this.client(name);
    try {
      const { data } = await octokit.rest.repos.getContent({ ...name, path: dir, ...(ref && { ref }) });
      return Array.isArray(data) ? data.filter((entry) => entry.type === 'file').map((entry) => entry.name) : [];
    } catch (err) {
      if (err instanceof RequestError && err.status === 404) return [];
      throw err;
    }
  }

  cloneRemote(repo: string): Promise<GitRemote> {
    return this.remote(repo, 'read');
  }

  pushRemote(repo: string): Promise<GitRemote> {
    return this.remote(repo, 'write');
  }

  async openPullRequest(req: OpenPullRequest): Promise<PullRequestRef & { existing?: true }> {
    const name = this.name_(req.repo);
    const octokit = await this.client(name);
    const existing = await this.findOpen(octokit, name, req.head);
    if (existing) return { ...existing, existing: true };
    const { data } = await call(`opening a pull request on ${req.repo}`, () =>
      octokit.rest.pulls.create({ ...name, title: req.title, head: req.head, base: req.base, body: req.body, draft: req.draft }),
    );
    if (this.settings.labels.length) {
      await call(`labelling #${data.number}`, () => octokit.rest.issues.addLabels({ ...name, issue_number: data.number, labels: this.settings.labels }));
    }
    return toRef(data);
  }

  async updatePullRequest(req: UpdatePullRequest): Promise<PullRequestRef> {
    const name = this.name_(req.repo);
    const octokit = await this.client(name);
    let { data } =
      req.title !== undefined || req.body !== undefined
        ? await call(`updating #${req.number}`, () => octokit.rest.pulls.update({ ...name, pull_number: req.number, title: req.title, body: req.body }))
        : await call(`reading #${req.number}`, () => octokit.rest.pulls.get({ ...name, pull_number: req.number }));
    if (req.ready && data.draft) {
      await call(`marking #${req.number} ready for review`, () =>
        octokit.graphql(
          'mutation($id: ID!) { markPullRequestReadyForReview(input: { pullRequestId: $id }) { pullRequest { isDraft } } }',
          { id: data.node_id },
        ),
      );
      data = { ...data, draft: false };
    }
    return toRef(data);
  }

  async comment(req: { repo: string; number: number; body: string }): Promise<void> {
    const name = this.name_(req.repo);
    const octokit = await this.client(name);
    await call(`commenting on #${req.number}`, () => octokit.rest.issues.createComment({ ...name, issue_number: req.number, body: req.body }));
  }

  /**
   * The repositories of one owner that match `pattern` (`acme/*`, `acme/service-*`,
   * `acme/{shop,billing}`; names compared regardless of case, as GitHub's are) and that can take
   * a push: not archived, and writable by the token when GitHub says. A personal token lists what
   * its user may reach (their own, as collaborator, through an organization: GET /user/repos;
   * GET /users/{owner}/repos would show only public ones), in name order; a GitHub App what its
   * installation on the owner was granted, in GitHub's own order. Pages stop once one more than
   * `limit` matched, so past `limit` an App's listing shows the first it met, not the first by name.
   */
  async listRepositories(pattern: string, limit: number): Promise<{ repos: string[]; more: boolean }> {
    const glob = pattern.trim();
    const owner = ownerOf(glob);
    // GitHub has no hidden repositories: `acme/*` includes `acme/.github`.
    const matches = picomatch(glob, { nocase: true, dot: true });
    const auth = this.settings.auth;
    let pages: AsyncIterable<{ data: ListedRepository[] }>;
    if ('token' in auth) {
      const octokit = this.tokenClient(auth.token);
      pages = octokit.paginate.iterator(octokit.rest.repos.listForAuthenticatedUser, { sort: 'full_name', per_page: 100 });
    } else {
      const octokit = this.installationClient(auth.installationId ?? (await this.installationOn(owner)));
      pages = octokit.paginate.iterator(octokit.rest.apps.listReposAccessibleToInstallation, { per_page: 100 });
    }
    const found: string[] = [];
    await call(`listing the repositories of ${owner}`, async () => {
      for await (const { data } of pages) {
        for (const repo of data) {
          const name = this.nameOf(repo.full_name);
          if (name && matches(repo.full_name) && !repo.archived && repo.permissions?.push !== false) found.push(name);
        }
        if (found.length > limit) break;
      }
    });
    const repos = found.sort(byName);
    return { repos: repos.slice(0, limit), more: repos.length > limit };
  }

  async pullRequestState(repo: string, number: number): Promise<PullRequestState> {
    const name = this.name_(repo);
    const octokit = await this.client(name);
    const { data } = await call(`reading #${number} of ${repo}`, () => octokit.rest.pulls.get({ ...name, pull_number: number }));
    // Either says it: `merged` is the full pull request's, `merged_at` also in a list's (a pull request simple).
    return data.merged || data.merged_at ? 'merged' : data.state === 'closed' ? 'closed' : 'open';
  }

  /** What `login` may do in the repository: only write and above may steer Errand from a PR. */
  async permissionOf(repo: string, login: string): Promise<Permission> {
    const name = this.name_(repo);
    const octokit = await this.client(name);
    try {
      const { data } = await octokit.rest.repos.getCollaboratorPermissionLevel({ ...name, username: login });
      return (data.role_name as Permission) ?? (data.permission as Permission);
    } catch (err) {
      if (err instanceof RequestError && err.status === 404) return 'none';
      throw err;
    }
  }

  /** The head and base branches of a pull request (issue comments on PRs name only the number). */
  async pullRequestRefs(repo: string, number: number): Promise<{ head: string; base: string }> {
    const name = this.name_(repo);
    const octokit = await this.client(name);
    const { data } = await call(`reading #${number}`, () => octokit.rest.pulls.get({ ...name, pull_number: number }));
    return { head: data.head.ref, base: data.base.ref };
  }

  private async findOpen(octokit: Octokit, name: RepoName, head: string): Promise<PullRequestRef | undefined> {
    const { data } = await call(`listing pull requests of ${name.owner}/${name.repo}`, () =>
      octokit.rest.pulls.list({ ...name, head: `${name.owner}:${head}`, state: 'open' }),
    );
    return data[0] ? toRef(data[0]) : undefined;
  }

  private async remote(repo: string, access: 'read' | 'write'): Promise<GitRemote> {
    const name = this.name_(repo);
    const url = this.settings.gitUrl.replace('{owner}', name.owner).replace('{repo}', name.repo);
    const token = await this.token(name, access);
    const basic = Buffer.from(`x-access-token:${token}`).toString('base64');
    // Git reads config from the environment (GIT_CONFIG_*), so the header is never written to
    // a file, and lives only as long as the one git command that gets this environment.
    return { url, env: { GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'http.extraHeader', GIT_CONFIG_VALUE_0: `AUTHORIZATION: basic ${basic}` } };
  }

  /** A personal token as it is; for an App, an installation token narrowed to this repo and use. */
  private async token(name: RepoName, access: 'read' | 'write'): Promise<string> {
    const auth = this.settings.auth;
    if ('token' in auth) return auth.token;
    // One auth for the App: it caches installation tokens until shortly before they expire.
    this.appAuth ??= createAppAuth({ appId: auth.appId, privateKey: auth.privateKey, request: new Octokit({ baseUrl: this.settings.apiUrl }).request });
    const installationId = auth.installationId ?? (await this.installationOf(name));
    const result = await this.appAuth({ type: 'installation', installationId, repositoryNames: [name.repo], permissions: { contents: access, ...(access === 'write' && { pull_requests: 'write' }) } });
    return result.token;
  }

  private async client(name: RepoName): Promise<Octokit> {
    const auth = this.settings.auth;
    if ('token' in auth) return this.tokenClient(auth.token);
    // Remembered per repository, so its installation is looked up once.
    const key = `${name.owner}/${name.repo}`;
    let octokit = this.octokits.get(key);
    if (!octokit) {
      octokit = this.installationClient(auth.installationId ?? (await this.installationOf(name)));
      this.octokits.set(key, octokit);
    }
    return octokit;
  }

  private tokenClient(token: string): Octokit {
    return this.octokit('token', { auth: token });
  }

  /** An installation of the App: createAppAuth makes and renews its tokens. */
  private installationClient(installationId: number): Octokit {
    const { appId, privateKey } = this.appCredentials();
    return this.octokit(`installation ${installationId}`, { authStrategy: createAppAuth, auth: { appId, privateKey, installationId } });
  }

  /** The App itself (JWT), for finding the installation that covers a repository or an owner. */
  private appClient(): Octokit {
    const { appId, privateKey } = this.appCredentials();
    return this.octokit('app', { authStrategy: createAppAuth, auth: { appId, privateKey } });
  }

  private octokit(key: string, options: ConstructorParameters<typeof Octokit>[0]): Octokit {
    let octokit = this.octokits.get(key);
    if (!octokit) {
      octokit = new Octokit({ ...options, baseUrl: this.settings.apiUrl, userAgent: 'errand' });
      this.octokits.set(key, octokit);
    }
    return octokit;
  }

  private appCredentials(): { appId: string; privateKey: string } {
    const auth = this.settings.auth;
    if ('token' in auth) throw new Error('not a GitHub App');
    return auth;
  }

  private async installationOf(name: RepoName): Promise<number> {
    const app = this.appClient();
    const { data } = await call(`finding the App's installation on ${name.owner}/${name.repo}`, () => app.rest.apps.getRepoInstallation({ ...name }));
    return data.id;
  }

  /** The App's installation on an account: GitHub asks organizations and users by different routes. */
  private async installationOn(owner: string): Promise<number> {
    const app = this.appClient();
    const absent = (err: unknown) => {
      if (err instanceof RequestError && err.status === 404) return undefined;
      throw err;
    };
    const what = `finding the App's installation on ${owner}`;
    const installation =
      (await call(what, () => app.rest.apps.getOrgInstallation({ org: owner }).catch(absent))) ??
      (await call(what, () => app.rest.apps.getUserInstallation({ username: owner }).catch(absent)));
    if (!installation) {
      throw ErrandFailure.permanent(FailureType.ForgeRejected, `The GitHub App is not installed on ${owner}; install it on that account (with access to the repositories to list), or give a pattern for an owner it is installed on`);
    }
    return installation.data.id;
  }

  private name_(repo: string): RepoName {
    const name = parseRepoName(repo);
    if (!name) throw ErrandFailure.permanent(FailureType.ForgeRejected, `${repo} is not a GitHub repository (owner/name)`);
    return name;
  }
}

/** What a listing needs of a repository, in GET /user/repos and GET /installation/repositories alike. */
interface ListedRepository {
  full_name: string;
  archived?: boolean;
  permissions?: { push?: boolean };
}

/**
 * The owner of an `<owner>/<glob>` pattern: one account, written out, since GitHub lists one
 * account's repositories at a time (a glob there would mean listing every account).
 */
function ownerOf(pattern: string): string {
  const [owner = '', names, ...rest] = pattern.split('/');
  const example = 'e.g. acme/*, acme/service-* or acme/{shop,billing}';
  if (!names || rest.length) {
    throw ErrandFailure.permanent(FailureType.ForgeRejected, `"${pattern}" is not a pattern of GitHub repositories; give an owner and a glob of names, ${example}`);
  }
  if (!/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/.test(owner)) {
    throw ErrandFailure.permanent(FailureType.ForgeRejected, `"${pattern}": the owner ("${owner}") must be one account written out, without wildcards; give one pattern per owner, ${example}`);
  }
  return owner;
}

/** Name order regardless of case, as GitHub compares names. */
function byName(a: string, b: string): number {
  const [x, y] = [a.toLowerCase(), b.toLowerCase()];
  return x < y ? -1 : x > y ? 1 : a < b ? -1 : a > b ? 1 : 0;
}

function toRef(pr: { number: number; html_url: string; title: string; draft?: boolean; base: { ref: string }; head: { ref: string } }): PullRequestRef {
  return { number: pr.number, url: pr.html_url, title: pr.title, draft: pr.draft ?? false, base: pr.base.ref, head: pr.head.ref };
}

/**
 * GitHub's refusals (401, 403, 404, 422) fail at once with its own message; rate limits and
 * server errors retry, after as long as GitHub asks.
 */
async function call<T>(what: string, request: () => Promise<T>): Promise<T> {
  try {
    return await request();
  } catch (err) {
    if (!(err instanceof RequestError)) throw err;
    const message = `GitHub refused ${what}: ${err.status} ${githubMessage(err)}`;
    const rateLimited = err.status === 429 || (err.status === 403 && err.response?.headers['x-ratelimit-remaining'] === '0');
    if (!rateLimited && [400, 401, 403, 404, 409, 410, 422].includes(err.status)) {
      throw ErrandFailure.permanent(FailureType.ForgeRejected, message);
    }
    const headers = err.response?.headers ?? {};
    const retryAfter = Number(headers['retry-after']);
    const reset = Number(headers['x-ratelimit-reset']);
    const delayMs = retryAfter > 0 ? retryAfter * 1000 : reset > 0 ? Math.max(1000, reset * 1000 - Date.now()) : undefined;
    throw ErrandFailure.transient(FailureType.ForgeUnavailable, message, delayMs);
  }
}

function githubMessage(err: RequestError): string {
  const data = err.response?.data as { message?: string; errors?: { message?: string }[] } | undefined;
  const details = data?.errors?.map((e) => e.message).filter(Boolean) ?? [];
  return [data?.message ?? err.message, ...details].join('; ');
}
