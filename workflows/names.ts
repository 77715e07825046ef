// How Errand names what belongs to a task, in one place, both ways: the workflow id, the task
// branch, and the workflow types. Pure and import-free, so the workflow, the API and every
// provider can use it.

export const TASK_WORKFLOW_TYPE = 'codingTask';
export const REAPER_WORKFLOW_TYPE = 'sandboxReaper';
export const ENVIRONMENT_REFRESH_WORKFLOW_TYPE = 'environmentRefresh';
export const SCHEDULED_PLAYBOOK_WORKFLOW_TYPE = 'scheduledPlaybook';
export const DEPENDENCY_BUMP_WORKFLOW_TYPE = 'dependencyBump';
export const CAMPAIGN_WORKFLOW_TYPE = 'campaign';
/** A task with several attempts (workflows/attempts.ts); each attempt is a coding task of its own. */
export const ATTEMPTS_WORKFLOW_TYPE = 'taskAttempts';
export const PROMOTE_ATTEMPT_WORKFLOW_TYPE = 'promoteAttempt';
/** The workflow that opens the PR of attempt `n` of a task, when a person promotes it. */
export const promoteWorkflowId = (attemptTaskId: string) => `promote-${attemptTaskId}`;
/** What a task is in Temporal visibility: a coding task, a dependency bump, a task with attempts. GET /tasks and the task gauges both count by it. */
export const TASK_WORKFLOWS_QUERY = `(WorkflowType = '${TASK_WORKFLOW_TYPE}' OR WorkflowType = '${DEPENDENCY_BUMP_WORKFLOW_TYPE}' OR WorkflowType = '${ATTEMPTS_WORKFLOW_TYPE}')`;

/**
 * Errand's own schedules, one of each per task queue, by their id in the API: listed, paused and
 * run through the API like the others, never changed or deleted there (their setting does that).
 */
export const SYSTEM_SCHEDULES = {
  'sandbox-reaper': { workflowType: REAPER_WORKFLOW_TYPE, title: "Errand's sandbox reaper", does: 'deletes the sandboxes whose task has ended', setting: 'ERRAND_REAPER_INTERVAL_MINUTES' },
  'environment-refresh': {
    workflowType: ENVIRONMENT_REFRESH_WORKFLOW_TYPE,
    title: "Errand's environment refresh",
    does: 'keeps the environments of recently used repositories up to date with their base branch, and evicts what is over the limits',
    setting: 'ERRAND_ENVIRONMENT_REFRESH_MINUTES',
  },
} as const;
export type SystemScheduleId = keyof typeof SYSTEM_SCHEDULES;
export const isSystemSchedule = (id: string): id is SystemScheduleId => Object.hasOwn(SYSTEM_SCHEDULES, id);
/** A system schedule's id in Temporal (also the workflow id of its runs, before Temporal's time suffix). */
export const systemScheduleTemporalId = (id: SystemScheduleId, taskQueue: string) => `errand-${id}-${taskQueue}`;

/** Schedule ids, as the API names them; in Temporal each is `schedule-<id>`. */
export const SCHEDULE_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;
const SCHEDULE_PREFIX = 'schedule-';
export const temporalScheduleId = (id: string) => `${SCHEDULE_PREFIX}${id}`;
/** The API's id of a Temporal schedule of Errand's, or undefined when it is not one. */
export function scheduleIdOf(temporalId: string): string | undefined {
  const id = temporalId.startsWith(SCHEDULE_PREFIX) ? temporalId.slice(SCHEDULE_PREFIX.length) : undefined;
  return id && SCHEDULE_ID.test(id) ? id : undefined;
}

/** What a schedule starts each time it fires; Temporal adds `-<the time it fired>` to the id. */
export const scheduledRunWorkflowId = (scheduleId: string) => `scheduled-${scheduleId}`;
/** The schedule a run's workflow id belongs to (`scheduled-<id>-2026-12-07T06:00:00Z`), or undefined. */
export function scheduleIdOfRun(workflowId: string): string | undefined {
  const id = /^scheduled-(.+)-\d{4}-\d\d-\d\dT[\d:.]+Z$/.exec(workflowId)?.[1];
  return id && SCHEDULE_ID.test(id) ? id : undefined;
}

const WORKFLOW_PREFIX = 'task-';
const BRANCH_PREFIX = 'errand/';
/** Task ids: what the API accepts and generates (12 hex characters, or a caller's own). */
export const TASK_ID = /^[a-z0-9-]{1,64}$/;

export const taskWorkflowId = (taskId: string) => `${WORKFLOW_PREFIX}${taskId}`;

/** The task a workflow id belongs to, or undefined when it is not a task's. */
export function taskIdOfWorkflow(workflowId: string): string | undefined {
  const id = workflowId.startsWith(WORKFLOW_PREFIX) ? workflowId.slice(WORKFLOW_PREFIX.length) : undefined;
  return id && TASK_ID.test(id) ? id : undefined;
}

export const taskBranch = (taskId: string) => `${BRANCH_PREFIX}${taskId}`;

/** The task a branch belongs to (`errand/<id>`), or undefined when it is not an Errand branch. */
export function taskIdOfBranch(branch: string): string | undefined {
  const id = branch.startsWith(BRANCH_PREFIX) ? branch.slice(BRANCH_PREFIX.length) : undefined;
  return id && TASK_ID.test(id) ? id : undefined;
}

/** Campaign ids: like task ids, so a campaign's tasks (`<campaign>-<n>`) are task ids too. */
export const CAMPAIGN_ID = /^[a-z0-9-]{1,56}$/;
export const campaignWorkflowId = (campaignId: string) => `campaign-${campaignId}`;
/** The campaign a workflow id belongs to, or undefined when it is not a campaign's. */
export function campaignIdOfWorkflow(workflowId: string): string | undefined {
  const id = workflowId.startsWith('campaign-') ? workflowId.slice('campaign-'.length) : undefined;
  return id && CAMPAIGN_ID.test(id) ? id : undefined;
}

/** The admission workflow (workflows/admission.ts): one per task queue, long-lived. */
export const ADMISSION_WORKFLOW_TYPE = 'admission';
export const admissionWorkflowId = (taskQueue: string) => `errand-admission-${taskQueue}`;
