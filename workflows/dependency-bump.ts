// dependencyBump: the built-in dependency-bump playbook. It asks what is outdated within the
// policy (an activity: the repository's lockfiles and the registries), then runs each group of
// updates as a coding task of its own, as a child: Errand's own change made in the sandbox,
// tested, reviewed and published by the coding task's parts, on the group's branch so an open
// PR is updated rather than duplicated; the agent only comes in when the update breaks
// something and a model is configured. Nothing outdated: no task, no PR, "up to date".
import { ApplicationFailure, defineQuery, ParentClosePolicy, patched, proxyActivities, setHandler, startChild, upsertSearchAttributes } from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import { forge } from './coding-task/activities.js';
import { codingTask } from './coding-task/index.js';
import { stateQuery } from './contracts/control.js';
import { ErrandPhase } from './contracts/search-attributes.js';
import { initialTaskState, type PullRequestRef, type TaskInput, type TaskState } from './contracts/task.js';
import { describeFailure, FailureType } from './failures.js';
import { taskLinks, taskStart } from './task-start.js';

type Activities = ReturnType<typeof createActivities>;

/** Asking the registries: heartbeating like the coding task's activities (a dead worker costs seconds). */
const { planDependencyBump } = proxyActivities<Pick<Activities, 'planDependencyBump'>>({
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '8 seconds',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumAttempts: 5, nonRetryableErrorTypes: [FailureType.PlaybookUnavailable, FailureType.RepoUnavailable] },
});

/** A run of the dependency-bump playbook: the repository, the playbook's parameters, and the task every group's run starts from. */
export interface DependencyBumpInput {
  taskId: string;
  repo: string;
  baseBranch: string;
  params: Record<string, unknown>;
  /** Every field of a group's task but what each group makes (its id, prompt, change, branch, links). */
  task: Omit<TaskInput, 'taskId' | 'repo' | 'baseBranch' | 'prompt' | 'change' | 'branch' | 'links' | 'playbook'> & Pick<TaskInput, 'playbook'>;
  links: { task?: string; temporalUi?: string };
}

export interface BumpedGroup {
  name: string;
  taskId: string;
  packages: number;
  status: 'running' | 'pull_request' | 'no_pull_request' | 'failed';
  pr?: PullRequestRef;
  error?: string;
}

export interface DependencyBumpResult {
  /** `updated`: each group has its task's outcome (a PR, or none by policy). */
  outcome: 'up_to_date' | 'updated';
  summary: string;
  checked: number;
  groups: BumpedGroup[];
  /** As the state query last read it: GET /tasks/:id reads an ended bump from its history, with no worker asked. */
  state: BumpState;
}

type BumpState = TaskState & { dependencyGroups: BumpedGroup[] };

/** The groups and their tasks while the run goes (GET /tasks/:id shows them too, in `state.dependencyGroups`). */
export const dependencyGroupsQuery = defineQuery<BumpedGroup[]>('dependencyGroups');

export async function dependencyBump(input: DependencyBumpInput): Promise<DependencyBumpResult> {
  const state: TaskState = initialTaskState({ ...input.task, taskId: input.taskId, repo: input.repo, baseBranch: input.baseBranch, prompt: '' });
  const groups: BumpedGroup[] = [];
  const view = (): BumpState => ({ ...state, dependencyGroups: groups });
  /** The phase, in the state and in visibility (the task list and the phase gauge read it there). */
  const enter = (phase: TaskState['phase'], lastAction: string) => {
    Object.assign(state, { phase, lastAction });
    if (patched('bump-phase')) upsertSearchAttributes([{ key: ErrandPhase, value: phase }]);
  };
  setHandler(stateQuery, view);
  setHandler(dependencyGroupsQuery, () => groups);
  try {
    enter('preparing', 'looking for outdated dependencies');
    const { baseBranch } = await forge.checkRepository({ repo: input.repo, baseBranch: input.baseBranch });
    state.baseBranch = baseBranch;
    const plan = await planDependencyBump({ repo: input.repo, baseBranch, params: input.params });
    if (!plan.groups.length) {
      state.summary = `up to date: ${plan.checked} ${plan.checked === 1 ? 'dependency' : 'dependencies'} checked${plan.managers.length ? ` (${plan.managers.join(', ')})` : ''}; nothing to update within the policy`;
      enter('completed', 'up to date');
      return { outcome: 'up_to_date', summary: state.summary, checked: plan.checked, groups, state: view() };
    }
    enter('working', `updating ${plan.groups.length} group${plan.groups.length === 1 ? '' : 's'}`);
    const children = await Promise.all(
      plan.groups.map(async ({ group, branch, prompt, change }) => {
        const taskId = `${input.taskId}-${group.name}`.slice(0, 64).replace(/-+$/, '');
        const entry: BumpedGroup = { name: group.name, taskId, packages: group.packages.length, status: 'running' };
        groups.push(entry);
        const task: TaskInput = {
          ...input.task,
          // The update needs the registries; the agent, if it comes, does not need the network.
          network: 'setup',
          taskId,
          repo: input.repo,
          baseBranch,
          prompt,
          change,
          branch,
          links: taskLinks(input.links, taskId),
        };
        // Groups started before they carried the requester keep the search attributes they had.
        const requester = patched('task-start-requester') ? input.task.requester : undefined;
        const handle = await startChild(codingTask, { ...taskStart({ taskId, repo: input.repo, requester }), args: [task], parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL });
        return { entry, result: handle.result() };
      }),
    );
    for (const { entry, result } of children) {
      await result.then(
        (done) => Object.assign(entry, done.pr ? { status: 'pull_request', pr: done.pr } : { status: 'no_pull_request', error: `the update breaks \`${done.test?.command}\`; no PR (onFailure: none)` }),
        (err: unknown) => Object.assign(entry, { status: 'failed', error: describeFailure(err) }),
      );
    }
    const prs = groups.filter((g) => g.pr);
    state.summary = `${prs.length} of ${groups.length} group${groups.length === 1 ? '' : 's'} with a pull request: ${groups.map((g) => `${g.name} ${g.pr ? `#${g.pr.number}${g.pr.draft ? ' (draft)' : ''}` : `(${g.status.replaceAll('_', ' ')})`}`).join(', ')}`;
    const failed = groups.filter((g) => g.status === 'failed');
    if (failed.length) {
      throw ApplicationFailure.nonRetryable(`${failed.length} of ${groups.length} dependency groups failed: ${failed.map((g) => `${g.name}: ${g.error}`).join('; ')}`, FailureType.DependencyGroupsFailed);
    }
    enter('completed', state.summary);
    return { outcome: 'updated', summary: state.summary, checked: plan.checked, groups, state: view() };
  } catch (err) {
    state.error = describeFailure(err);
    enter('failed', state.error);
    throw err;
  }
}
