// Reads tasks for the API: one task's live view, the list from Temporal visibility, and the
// repository a task works on (which the token guard checks). Temporal is asked through the gateway.
import { Inject, Injectable } from '@nestjs/common';
import type { Forge } from '../../../lib/forge/forge.js';
import type { QueuedTask } from '../../../workflows/contracts/admission.js';
import { ErrandPhase, ErrandRepo, ErrandRequester } from '../../../workflows/contracts/search-attributes.js';
import type { AttemptBudgets, AttemptChoice, AttemptProposal, AttemptRow } from '../../../workflows/contracts/attempts.js';
import type { PullRequestRef, TaskState } from '../../../workflows/contracts/task.js';
import { commitTitle } from '../../../workflows/coding-task/pull-request-text.js';
import { DEPENDENCY_BUMP_WORKFLOW_TYPE, scheduleIdOfRun, taskIdOfWorkflow, campaignIdOfWorkflow } from '../../../workflows/names.js';
import type { Config } from '../../config.js';
import { AdmissionService } from '../admission/admission.service.js';
import { CONFIG, FORGE } from '../tokens.js';
import { statusName, TaskGateway } from './task-gateway.js';
import { viewLinks, type ViewLinks } from './task-links.js';
import type { ListTasksQuery } from './task-request.js';

/** What a task is: a coding task, or a dependency bump (whose groups are coding tasks of their own). */
export type TaskKind = 'coding_task' | 'dependency_bump';

/** What started a task, when another task (a dependency bump's group) or a schedule did. */
export type TaskParent = { kind: 'task' | 'schedule' | 'campaign'; id: string };

/** An attempt as the API shows it: its PR's text left to the PR, its page, and the PR a person promoted it to. */
export type AttemptView = Omit<AttemptRow, 'proposal'> & { proposal?: Omit<AttemptProposal, 'body'>; promotedPr?: PullRequestRef; links: ViewLinks };

export interface TaskView extends Partial<TaskState> {
  /** A task with several attempts: each attempt, and the choice once made (with its reasons). */
  attempts?: AttemptView[];
  attemptBudgets?: AttemptBudgets;
  choice?: AttemptChoice;
  kind?: TaskKind;
  /** What it is, in a line: its prompt's title (a list reads it from the memo, as of its last phase). */
  title?: string;
  parent?: TaskParent;
  /** Its place while it waits for a slot to run (running-task limits). */
  queue?: QueuedTask;
  /** Where it was asked for: `api` (the API, CLI and console), `github` (a webhook), `slack`; a task another started has none. */
  via?: string;
  /** Who asked for it (the list has it from the search attribute). */
  requester?: string;
  id: string;
  status: string;
  /** Set when the worker was slow to answer: the state is the one it gave at this time. */
  stateAsOf?: string;
  startedAt?: string;
  closedAt?: string;
  links: ViewLinks;
}

@Injectable()
export class TaskReading {
  constructor(
    @Inject(CONFIG) private readonly config: Config,
    @Inject(FORGE) private readonly forge: Forge,
    @Inject(AdmissionService) private readonly admission: AdmissionService,
    @Inject(TaskGateway) private readonly gateway: TaskGateway,
  ) {}

  /** The task as it is now; with no state from the worker in time, what its search attributes tell. */
  async get(taskId: string): Promise<TaskView> {
    const { description, state, stateAsOf } = await this.gateway.read(taskId);
    const status = statusName(description);
    const parent = parentOf(description.parentExecution?.workflowId ?? undefined);
    const via = (await description.memo)?.via;
    const view: TaskView = {
      id: taskId,
      kind: kindOf(description.type),
      ...(typeof via === 'string' && { via }),
      ...(parent && { parent }),
      status,
      ...state,
      ...(stateAsOf && { stateAsOf }),
      startedAt: description.startTime.toISOString(),
      closedAt: description.closeTime?.toISOString(),
      links: viewLinks(this.config, taskId),
    };
    if (view.costUsd !== undefined) view.costUsd = roundUsd(view.costUsd);
    if (view.prompt) view.title = commitTitle(view.prompt);
    if (!state) {
      view.repo = description.typedSearchAttributes.get(ErrandRepo);
      view.phase = description.typedSearchAttributes.get(ErrandPhase) as TaskState['phase'];
    }
    if (view.attempts) view.attempts = await this.attemptsOf(view as TaskView & { attempts: (AttemptRow | AttemptView)[] }, status);
    if (status === 'running' && view.phase === 'queued') view.queue = (await this.admission.places()).get(taskId);
    if (status === 'failed' && !view.error) view.error = await this.gateway.failure(taskId, description.runId);
    return view;
  }

  /** A task's attempts, for its view: with their pages, and once it has ended, the PRs people promoted them to. */
  private async attemptsOf(view: TaskView & { attempts: (AttemptRow | AttemptView)[] }, status: string): Promise<AttemptView[]> {
    return Promise.all(
      view.attempts.map(async (row) => {
        const { proposal, ...rest } = row;
        const promotedPr = status !== 'running' && proposal && row.n !== view.choice?.n ? await this.gateway.promoted(row.taskId) : undefined;
        return { ...rest, ...(proposal && { proposal: { branch: proposal.branch, headSha: proposal.headSha, title: proposal.title, ready: proposal.ready, diffKey: proposal.diffKey } }), ...(promotedPr && { promotedPr }), links: viewLinks(this.config, row.taskId) };
      }),
    );
  }

  /** The repository a task works on; undefined when there is no such task. */
  async repoOf(taskId: string): Promise<string | undefined> {
    return (await this.gateway.find(taskId))?.typedSearchAttributes.get(ErrandRepo);
  }

  /** The newest tasks the caller may see (`visible`: by repository, for tokens limited to some). */
  async list(q: ListTasksQuery, visible: (repo: string | undefined) => boolean = () => true): Promise<{ tasks: TaskView[] }> {
    // As tasks record it: where the repository really is, for one on the local forge's host.
    const recorded = q.repo && (this.forge.nameOf(q.repo) ?? q.repo);
    const tasks: TaskView[] = [];
    for await (const wf of this.gateway.list({ ...q, repo: recorded })) {
      const id = taskIdOfWorkflow(wf.workflowId) ?? wf.workflowId;
      const repo = wf.typedSearchAttributes.get(ErrandRepo);
      if (!visible(repo)) continue;
      tasks.push({
        id,
        kind: kindOf(wf.type),
        ...(typeof wf.memo?.title === 'string' && { title: wf.memo.title }),
        ...(typeof wf.memo?.via === 'string' && { via: wf.memo.via }),
        status: wf.status.name.toLowerCase(),
        repo,
        requester: wf.typedSearchAttributes.get(ErrandRequester),
        phase: wf.typedSearchAttributes.get(ErrandPhase) as TaskState['phase'],
        startedAt: wf.startTime.toISOString(),
        closedAt: wf.closeTime?.toISOString(),
        // As of its last phase (workflows/coding-task/run.ts keeps them in the memo).
        costUsd: typeof wf.memo?.costUsd === 'number' ? roundUsd(wf.memo.costUsd) : undefined,
        pr: wf.memo?.pr as TaskView['pr'],
        links: viewLinks(this.config, id),
      });
      if (tasks.length >= q.limit) break;
    }
    if (tasks.some((t) => t.phase === 'queued')) {
      const places = await this.admission.places();
      for (const t of tasks) t.queue = places.get(t.id);
    }
    return { tasks };
  }
}

const kindOf = (workflowType: string): TaskKind => (workflowType === DEPENDENCY_BUMP_WORKFLOW_TYPE ? 'dependency_bump' : 'coding_task');

function parentOf(workflowId: string | undefined): TaskParent | undefined {
  if (!workflowId) return undefined;
  const task = taskIdOfWorkflow(workflowId);
  if (task) return { kind: 'task', id: task };
  const schedule = scheduleIdOfRun(workflowId);
  if (schedule) return { kind: 'schedule', id: schedule };
  const campaign = campaignIdOfWorkflow(workflowId);
  return campaign ? { kind: 'campaign', id: campaign } : undefined;
}

/** Dollars to a hundredth of a cent: sums of per-call prices carry float noise (0.061529999999999994). */
const roundUsd = (usd: number) => Math.round(usd * 10_000) / 10_000;
