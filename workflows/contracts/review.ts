// What the review agent answers about a task's diff: its verdict and comments, and the files
// changed outside the task's allowed paths. Part of the contract: imports nothing.

export type ReviewVerdict = 'approve' | 'request_changes';

export interface ReviewComment {
  file: string;
  line?: number;
  severity: 'blocking' | 'suggestion' | 'nit';
  body: string;
}

export interface ReviewResult {
  verdict: ReviewVerdict;
  summary: string;
  comments: ReviewComment[];
  /** Files the diff changes outside the task's allowed paths. */
  outsideAllowedPaths: string[];
  /** False when the reviewer's answer never validated and this verdict stands in for it. */
  valid: boolean;
  /** No review model is configured: Errand's deterministic checks and the tests decided. */
  checksOnly?: boolean;
}
