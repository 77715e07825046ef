// Forge: where repositories and pull requests live. GitHub in production (Octokit); the local
// forge (bare repos on disk, PR records as JSON) by default.
import type { PullRequestRef } from '../../workflows/contracts/task.js';

/** Where git fetches or pushes, and the environment that carries credentials for that one command. */
export interface GitRemote {
  url: string;
  /** GIT_CONFIG_* variables with an auth header, or nothing; never given to the agent's commands. */
  env: Record<string, string>;
}

export interface OpenPullRequest {
  taskId: string;
  repo: string;
  base: string;
  head: string;
  title: string;
  body: string;
  /** A draft is not ready for review (work in progress, an incomplete task, changes requested). */
  draft: boolean;
  /** The diff, for forges that keep it with the PR record (the local forge). */
  diff?: string;
}

export interface UpdatePullRequest {
  repo: string;
  number: number;
  title?: string;
  body?: string;
  /** true: mark a draft ready for review. */
  ready?: boolean;
  diff?: string;
}

/** What someone may do in a repository, as the forge says. */
export type Permission = 'admin' | 'maintain' | 'write' | 'triage' | 'read' | 'none';

/** What a forge that sends webhooks about pull requests can also tell (GitHub). */
export interface ForgeCollaboration {
  /** What `login` may do in the repository: only writers steer Errand from a PR. */
  permissionOf(repo: string, login: string): Promise<Permission>;
  /** The head and base branches of a pull request (a comment on one names only its number). */
  pullRequestRefs(repo: string, number: number): Promise<{ head: string; base: string }>;
}

/** A repository as the forge names it, or why the one asked for is not one (the field and the fix). */
export type ResolvedRepository = { repo: string; baseBranch: string } | { field: 'repo' | 'baseBranch'; message: string };

export interface Forge {
  readonly name: string;
  /**
   * At the edge, before a task starts: `repo` in the forge's own form, and the base branch when
   * the forge can tell it now ('' when the task resolves it as it starts, with checkRepository).
   */
  resolveRepository(repo: string, baseBranch?: string): Promise<ResolvedRepository>;
  /**
   * The name resolveRepository gives `repo` when it resolves, worked out without asking anyone
   * (undefined: it is not one), so an access check reaches for no repository it refuses. It is
   * where the forge really acts: the local forge names a path on this host by the git directory
   * it leads to (reading the filesystem, running nothing); GitHub's is owner/name, from the text.
   */
  nameOf(repo: string): string | undefined;
  /** Set when the forge sends webhooks about pull requests (GitHub). */
  readonly collaboration?: ForgeCollaboration;
  /**
   * Fails at once (non-retryable, with the forge's own message) when the repository or base
   * branch does not exist or Errand may not push to it and open pull requests. An empty
   * `baseBranch` means the repository's default branch, which it returns.
   */
  checkRepository(repo: string, baseBranch: string): Promise<{ baseBranch: string }>;
  /** A file of the repository at `ref` ('' : the default branch), or undefined when it has none (read before any sandbox exists). */
  readFile(repo: string, ref: string, path: string): Promise<string | undefined>;
  /** The names of the files directly in `dir` at `ref` ('' : the default branch); [] when there is no such directory. */
  listFiles(repo: string, ref: string, dir: string): Promise<string[]>;
  /** Read access, for the clone inside the sandbox before the agent starts. */
  cloneRemote(repo: string): Promise<GitRemote>;
  /** Write access, for the push step, which runs in the worker. */
  pushRemote(repo: string): Promise<GitRemote>;
  /** Opens a PR, or returns the open one for the same repo and head branch, marked `existing`. */
  openPullRequest(req: OpenPullRequest): Promise<PullRequestRef & { existing?: true }>;
  updatePullRequest(req: UpdatePullRequest): Promise<PullRequestRef>;
  /** A comment on an issue or pull request. */
  comment(req: { repo: string; number: number; body: string }): Promise<void>;
  /**
   * The repositories Errand can reach on this forge whose name matches `pattern`, a glob
   * (`acme/*` on GitHub; `/srv/git/*.git` on this host), each as resolveRepository names it, in
   * name order: at most `limit`, and whether there were more.
   */
  listRepositories(pattern: string, limit: number): Promise<{ repos: string[]; more: boolean }>;
  /** Where a pull request stands: open, closed without being merged, or merged. */
  pullRequestState(repo: string, number: number): Promise<PullRequestState>;
}

export type PullRequestState = 'open' | 'closed' | 'merged';
