// scheduledPlaybook: what a schedule starts each time it fires. It reads the playbook as the
// repository holds it now, starts the task as a child workflow (a coding task, or for the
// dependency-bump playbook its own workflow; either is a task: GET /tasks/:id, its own history
// in Temporal UI), and waits for it, so the schedule's overlap
// policy sees the whole run. Each run's outcome is counted on the schedule, which pauses itself
// after too many failures in a row; a failed run fails too, so Temporal UI shows it red.
import { isCancellation, ParentClosePolicy, proxyActivities, startChild, uuid4 } from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import { codingTask } from './coding-task/index.js';
import { dependencyBump, type DependencyBumpInput } from './dependency-bump.js';
import type { ScheduledRun, ScheduledRunResult } from './contracts/schedules.js';
import type { TaskInput } from './contracts/task.js';
import { describeFailure, FailureType } from './failures.js';
import { temporalScheduleId } from './names.js';
import { taskLinks, taskStart } from './task-start.js';

type Activities = ReturnType<typeof createActivities>;

const playbooks = proxyActivities<Pick<Activities, 'preparePlaybookRun' | 'recordScheduledRun'>>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumAttempts: 5, nonRetryableErrorTypes: [FailureType.PlaybookUnavailable, FailureType.ForgeRejected] },
});

export async function scheduledPlaybook(run: ScheduledRun): Promise<ScheduledRunResult> {
  const taskId = `${run.scheduleId.slice(0, 44)}-${uuid4().replace(/-/g, '').slice(0, 12)}`;
  try {
    const prepared = await playbooks.preparePlaybookRun({ repo: run.repo, ref: run.baseBranch, name: run.playbook, params: run.params });
    const links = taskLinks(run.links, taskId);
    const options = {
      ...taskStart({ taskId, repo: run.repo, requester: run.task.requester }),
      // A run stopped by hand stops its task; a schedule deleted or paused does not touch either.
      parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
    };
    let result: ScheduledRunResult;
    if (prepared.runs === 'dependency-bump') {
      const input: DependencyBumpInput = { taskId, repo: run.repo, baseBranch: run.baseBranch, params: prepared.playbook.params, task: { ...run.task, playbook: prepared.playbook }, links: run.links };
      const done = await (await startChild(dependencyBump, { ...options, args: [input] })).result();
      result = { taskId, outcome: done.outcome, groups: done.groups, summary: done.summary };
    } else {
      const input: TaskInput = { ...run.task, taskId, repo: run.repo, baseBranch: run.baseBranch, prompt: prepared.prompt, playbook: prepared.playbook, links };
      const { pr } = await (await startChild(codingTask, { ...options, args: [input] })).result();
      result = { taskId, outcome: 'pull_request', pr, summary: pr ? `${pr.draft ? 'draft ' : ''}PR #${pr.number}: ${pr.url}` : 'no pull request' };
    }
    await playbooks.recordScheduledRun({ temporalScheduleId: temporalScheduleId(run.scheduleId), failed: false });
    return result;
  } catch (err) {
    if (isCancellation(err)) throw err; // stopped by a person: not a failure of the schedule's
    await playbooks.recordScheduledRun({ temporalScheduleId: temporalScheduleId(run.scheduleId), failed: true, reason: describeFailure(err) });
    throw err;
  }
}
