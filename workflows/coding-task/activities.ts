// The activities codingTask calls, by timeout class. Each proxy is typed with only the
// activities of its class, so an activity cannot be called with timeouts chosen for another.
import { proxyActivities, proxyLocalActivities, type RetryPolicy } from '@temporalio/workflow';
import type { createActivities } from '../../activities/index.js';
import { FailureType } from '../failures.js';
import { MCP_CALL_SECONDS, SEARCH_SECONDS } from '../tool-calls.js';

type Activities = ReturnType<typeof createActivities>;

const NON_RETRYABLE = [
  FailureType.ModelRejected,
  FailureType.RepoUnavailable,
  FailureType.NoChanges,
  FailureType.SetupFailed,
  FailureType.SandboxGone,
  FailureType.SecretInDiff,
  FailureType.ForbiddenPath,
  FailureType.ForgeRejected,
  FailureType.PushRejected,
  FailureType.RepoTooLarge,
];
/**
 * How long a running activity may go without a heartbeat before Temporal retries it elsewhere:
 * what a killed worker costs a task. Activities heartbeat every 2 s (activities/heartbeat.ts,
 * and the worker's maxHeartbeatThrottleInterval), so a live one has 6 s of slack.
 */
const HEARTBEAT_TIMEOUT = '8 seconds';
/** 429 and 5xx retry with backoff here, not inside the SDK, so each attempt shows in history. */
const BACKOFF: RetryPolicy = { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 8, nonRetryableErrorTypes: NON_RETRYABLE };

/**
 * Creating and destroying sandboxes: heartbeating, like every activity here, so an attempt
 * whose worker died is retried within the heartbeat timeout, not after its whole limit.
 */
export const sandboxes = proxyActivities<Pick<Activities, 'provisionSandbox' | 'destroySandbox'>>({
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: { maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE },
});

/** Git and the repository's own scripts in the sandbox: long, heartbeating. */
export const workspace = proxyActivities<Pick<Activities, 'prepareWorkspace' | 'setupRepository' | 'checkpoint' | 'runTests' | 'runPostconditions' | 'publishBranch'>>({
  startToCloseTimeout: '60 minutes',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: { maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE },
});

/** One model call of the coder. */
export const model = proxyActivities<Pick<Activities, 'modelTurn'>>({ startToCloseTimeout: '5 minutes', heartbeatTimeout: HEARTBEAT_TIMEOUT, retry: BACKOFF });

/** The review agent (a few model calls, with retries on an answer that does not validate). */
export const reviewer = proxyActivities<Pick<Activities, 'review'>>({ startToCloseTimeout: '10 minutes', heartbeatTimeout: HEARTBEAT_TIMEOUT, retry: BACKOFF });

/** The forge's API: repositories, pull requests, comments. */
export const forge = proxyActivities<Pick<Activities, 'checkRepository' | 'openPullRequest' | 'updatePullRequest' | 'comment'>>({
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumAttempts: 5, nonRetryableErrorTypes: NON_RETRYABLE },
});

/** A lease from the admission workflow: one signal to Temporal. */
export const admission = proxyActivities<Pick<Activities, 'requestAdmission'>>({
  startToCloseTimeout: '1 minute',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' },
});

/** One tool call of the agent (a command may run for up to an hour). */
export const tools = proxyActivities<Pick<Activities, 'runTool'>>({
  startToCloseTimeout: '65 minutes',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: { maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE },
});

/**
 * A tool call whose effects are outside the sandbox (an MCP server's tool that does not say it
 * only reads): one attempt. A worker that dies during it, or a call that outlives its limit,
 * fails the activity, and the model hears the outcome is unknown; it is never made twice.
 */
export const onceTools = proxyActivities<Pick<Activities, 'runTool'>>({
  startToCloseTimeout: `${MCP_CALL_SECONDS + 30} seconds`,
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: { maximumAttempts: 1 },
});

/**
 * A tool call that only reads (list_dir, read_file, search), as a local activity: it takes
 * milliseconds, and run inside the worker's workflow task it costs Temporal no activity task (no
 * scheduled, started and completed events, no trip through matching, no second workflow task):
 * about half of what an agent step costs there. A worker that dies during one has its workflow
 * task retried, which reads again (its events have ids: each is read back once).
 */
export const readTools = proxyLocalActivities<Pick<Activities, 'runTool'>>({
  startToCloseTimeout: `${SEARCH_SECONDS * 3} seconds`,
  retry: { maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE },
});
