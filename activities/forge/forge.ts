// Forge: where pull requests live. GitHub in production; the local forge by default.
import type { PullRequestRef } from '../../workflows/contracts.js';

export interface OpenPullRequest {
  repo: string;
  base: string;
  head: string;
  headSha: string;
  title: string;
  body: string;
  /** A draft is not ready for review (an incomplete task, or one still under review). */
  draft: boolean;
  diff: string;
  taskId: string;
}

export interface Forge {
  readonly name: string;
  /** Opens a PR, or updates the open one for the same repo and head branch. */
  openPullRequest(req: OpenPullRequest): Promise<PullRequestRef>;
}
