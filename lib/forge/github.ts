// The GitHub forge, through Octokit: a personal token or a GitHub App (installation tokens,
// narrowed per use: read-only for the clone, write for the push). Pull requests open as drafts
// early, are marked ready (GraphQL: REST cannot) when the review approves, carry the configured
// labels, and GitHub's own message is what the user sees when it refuses.
import { createAppAuth } from '@octokit/auth-app';
import { RequestError } from '@octokit/request-error';
import { Octokit } from '@octokit/rest';
import type { PullRequestRef } from '../../workflows/contracts/task.js';
import { FailureType } from '../../workflows/failures.js';
import { ErrandFailure } from '../failures/errand-failure.js';
import type { Forge, ForgeCollaboration, GitRemote, OpenPullRequest, Permission, ResolvedRepository, UpdatePullRequest } from './forge.js';

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
    const key = 'token' in auth ? 'token' : `${name.owner}/${name.repo}`;
    let octokit = this.octokits.get(key);
    if (!octokit) {
      octokit =
        'token' in auth
          ? new Octokit({ auth: auth.token, baseUrl: this.settings.apiUrl, userAgent: 'errand' })
          : new Octokit({
              authStrategy: createAppAuth,
              auth: { appId: auth.appId, privateKey: auth.privateKey, installationId: auth.installationId ?? (await this.installationOf(name)) },
              baseUrl: this.settings.apiUrl,
              userAgent: 'errand',
            });
      this.octokits.set(key, octokit);
    }
    return octokit;
  }

  /** The App itself (JWT), for finding the installation that covers a repository. */
  private async appClient(): Promise<Octokit> {
    const auth = this.settings.auth;
    if ('token' in auth) throw new Error('not a GitHub App');
    let octokit = this.octokits.get('app');
    if (!octokit) {
      octokit = new Octokit({ authStrategy: createAppAuth, auth: { appId: auth.appId, privateKey: auth.privateKey }, baseUrl: this.settings.apiUrl, userAgent: 'errand' });
      this.octokits.set('app', octokit);
    }
    return octokit;
  }

  private async installationOf(name: RepoName): Promise<number> {
    const app = await this.appClient();
    const { data } = await call(`finding the App's installation on ${name.owner}/${name.repo}`, () => app.rest.apps.getRepoInstallation({ ...name }));
    return data.id;
  }

  private name_(repo: string): RepoName {
    const name = parseRepoName(repo);
    if (!name) throw ErrandFailure.permanent(FailureType.ForgeRejected, `${repo} is not a GitHub repository (owner/name)`);
    return name;
  }
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
