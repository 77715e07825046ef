// Where a task's page and its run in Temporal UI are: the bases a task's input carries (for its
// PR and notifications) and the links of the API's own task view, from one reading of the config.
import type { Config } from '../../config.js';
import { taskWorkflowId } from '../../../workflows/names.js';

/** Where tasks' pages and runs in Temporal UI are: a task's is this and its id (its workflow id for Temporal UI). */
export function linkBases(config: Config): { task?: string; temporalUi: string } {
  const { uiUrl, namespace } = config.temporal;
  return {
    task: config.api.publicUrl ? `${config.api.publicUrl.replace(/\/$/, '')}/tasks/` : undefined,
    temporalUi: `${uiUrl}/namespaces/${encodeURIComponent(namespace)}/workflows/`,
  };
}

/** The links of a task's view: itself in this API, its run in Temporal UI. */
export interface ViewLinks {
  self: string;
  temporalUi: string;
}

export function viewLinks(config: Config, taskId: string): ViewLinks {
  return { self: `/tasks/${taskId}`, temporalUi: `${linkBases(config).temporalUi}${taskWorkflowId(taskId)}` };
}
