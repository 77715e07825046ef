// The stable failure types activities end with (ApplicationFailure.type), and the one way to
// read a failure that reached a workflow or a client through Temporal's wrappers. Workflow-safe.
import { ApplicationFailure } from '@temporalio/common';

export const FailureType = {
  ModelRejected: 'ModelRequestRejected',
  ModelUnavailable: 'ModelUnavailable',
  SandboxGone: 'SandboxGone',
  RepoUnavailable: 'RepoUnavailable',
  NoChanges: 'NoChanges',
  SetupFailed: 'SetupFailed',
  MalformedToolCalls: 'MalformedToolCalls',
  /** Too many sandboxes lost in one task: something is wrong beyond one bad node. */
  SandboxLost: 'SandboxLost',
  /** The diff adds something that looks like a secret; it was not pushed. */
  SecretInDiff: 'SecretInDiff',
  /** A scheduled run's playbook cannot run (gone from the repository, broken, its parameters no longer fit). */
  PlaybookUnavailable: 'PlaybookUnavailable',
  /** Some groups of a dependency bump failed (the others' PRs stand). */
  DependencyGroupsFailed: 'DependencyGroupsFailed',
  /** The change touches paths its playbook forbids; it was not pushed. */
  ForbiddenPath: 'ForbiddenPath',
  /** The forge refused: no such repo or branch, no permission, a protected branch. */
  ForgeRejected: 'ForgeRejected',
  /** The forge did not answer (5xx, rate limited, unreachable): retried. */
  ForgeUnavailable: 'ForgeUnavailable',
  PushRejected: 'PushRejected',
  /** A branch checks out to more files or bytes than ERRAND_REPO_MAX_* allow: not handed to a sandbox, not pushed. */
  RepoTooLarge: 'RepoTooLarge',
  /** The sandbox cannot start (an image that cannot be pulled, an unschedulable pod, a crash loop). */
  SandboxUnavailable: 'SandboxUnavailable',
} as const;
export type FailureType = (typeof FailureType)[keyof typeof FailureType];

/**
 * The failure under Temporal's wrappers (an activity's, a workflow's, an update's): the first
 * ApplicationFailure, which carries the type, or else the innermost cause.
 */
export function rootCause(err: unknown): unknown {
  let cur: unknown = err;
  while (cur instanceof Error && !(cur instanceof ApplicationFailure) && cur.cause) cur = cur.cause;
  return cur;
}

/** The stable type of the failure at the root, if it is one of ours. */
export function failureType(err: unknown): string | undefined {
  const root = rootCause(err);
  return root instanceof ApplicationFailure ? (root.type ?? undefined) : undefined;
}

/** The root failure's message: what a user should read. */
export function describeFailure(err: unknown): string {
  const root = rootCause(err);
  return root instanceof Error ? root.message : String(root);
}
