// One human line per moment of a task that matters, for the terminal of `npm start` (the JSON
// logs are for machines): started, a pull request opened, a sandbox lost, completed, failed
// with the reason, cancelled. It watches Temporal's visibility for this task queue's tasks and
// tails each running task's event log; it only reads, and what it prints is redacted.
import type { Client } from '@temporalio/client';
import { taskEvents, type TaskEvent } from '../../lib/storage/events.js';
import type { LogCursor, LogStore } from '../../lib/storage/storage.js';
import type { Redactor } from '../../lib/storage/redactor.js';
import { stateQuery } from '../../workflows/contracts/control.js';
import { ErrandRepo } from '../../workflows/contracts/search-attributes.js';
import type { TaskState } from '../../workflows/contracts/task.js';
import { TASK_WORKFLOW_TYPE, taskIdOfWorkflow } from '../../workflows/names.js';

const EVERY_MS = 1_000;

export interface NarratorOptions {
  client: Client;
  logs: LogStore;
  redactor: Redactor;
  taskQueue: string;
  /** Where lines go (stderr by default). */
  write?: (line: string) => void;
}

export function startNarrator(opts: NarratorOptions): { stop(): Promise<void> } {
  const write = opts.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const say = (taskId: string, text: string) => write(opts.redactor.redact(`errand: task ${taskId} ${text}`));
  const tasks = new Map<string, LogCursor<TaskEvent>>();
  const since = new Date().toISOString();
  let stopped = false;

  const told = (taskId: string, e: TaskEvent) => {
    if (e.type === 'pr_opened') say(taskId, `opened ${e.draft ? 'draft ' : ''}PR #${e.number}: ${e.url}`);
    if (e.type === 'sandbox_lost') say(taskId, `lost its sandbox during ${e.during} (${e.why}); restored from ${e.restoredFrom}; lost: ${e.lost}`);
  };

  const ended = async (taskId: string, workflowId: string, status: string) => {
    const state = await opts.client.workflow
      .getHandle(workflowId)
      .query(stateQuery)
      .catch((): TaskState | undefined => undefined);
    if (status === 'COMPLETED') say(taskId, `completed${state?.pr ? `: PR #${state.pr.number}${state.pr.draft ? ' (draft)' : ''} ${state.pr.url}` : ''}`);
    else if (status === 'FAILED') say(taskId, `failed: ${state?.error ?? 'see GET /tasks/' + taskId}`);
    else if (status === 'CANCELLED') say(taskId, `was cancelled${state?.cancelledBy ? ` by ${state.cancelledBy}` : ''}`);
    else say(taskId, `ended: ${status.toLowerCase()}`);
  };

  const done = new Set<string>();
  const look = async () => {
    const query = `WorkflowType = '${TASK_WORKFLOW_TYPE}' AND TaskQueue = '${opts.taskQueue}' AND (ExecutionStatus = 'Running' OR CloseTime > '${since}')`;
    for await (const wf of opts.client.workflow.list({ query })) {
      const taskId = taskIdOfWorkflow(wf.workflowId) ?? wf.workflowId;
      const status = wf.status.name;
      if (status === 'CONTINUED_AS_NEW' || done.has(taskId)) continue; // a later run goes on; or told already
      let reader = tasks.get(taskId);
      if (!reader) {
        reader = taskEvents(opts.logs, taskId);
        tasks.set(taskId, reader);
        // A task that was running before this process started is picked up quietly.
        if (wf.startTime.toISOString() > since) say(taskId, `started on ${String(wf.typedSearchAttributes.get(ErrandRepo) ?? 'its repository')}`);
        else await reader.next(); // what happened before is not news
      }
      for (const { record } of await reader.next()) told(taskId, record);
      if (status !== 'RUNNING') {
        await ended(taskId, wf.workflowId, status);
        tasks.delete(taskId);
        done.add(taskId);
      }
    }
  };

  const loop = (async () => {
    while (!stopped) {
      await look().catch(() => undefined); // Temporal restarting, say: look again next time
      await new Promise((r) => setTimeout(r, EVERY_MS));
    }
  })();

  return {
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}
