// How a task starts, in one place: its workflow id, the search attributes the task list and
// Temporal UI filter by (repository, phase, requester), and the links to its page and its run.
// Pure and workflow-safe, so the API's client.workflow.start and a workflow's startChild (a
// dependency bump's groups, a schedule's runs) start every task alike.
import type { SearchAttributePair } from '@temporalio/common';
import { ErrandPhase, ErrandRepo, ErrandRequester } from './contracts/search-attributes.js';
import { taskWorkflowId } from './names.js';

/** Where tasks' pages and Temporal UI runs are: a task's is its base and its id (its workflow id for Temporal UI). */
export interface LinkBases {
  task?: string;
  temporalUi?: string;
}

export function taskLinks(bases: LinkBases, taskId: string): LinkBases {
  return { task: bases.task && `${bases.task}${taskId}`, temporalUi: bases.temporalUi && `${bases.temporalUi}${taskWorkflowId(taskId)}` };
}

/** The workflow id and search attributes of the task `taskId`, queued, on `repo`, for `requester`. */
export function taskStart(task: { taskId: string; repo: string; requester?: string }): { workflowId: string; typedSearchAttributes: SearchAttributePair[] } {
  return {
    workflowId: taskWorkflowId(task.taskId),
    typedSearchAttributes: [
      { key: ErrandRepo, value: task.repo },
      { key: ErrandPhase, value: 'queued' },
      ...(task.requester ? [{ key: ErrandRequester, value: task.requester }] : []),
    ],
  };
}
