// Where the tasks API meets Temporal, and the only part of it that does: a task's workflow
// started, described, listed, queried, signalled and updated, with Temporal's errors mapped to the
// API's (404, 409, 503); and each running task's last answered state, so a busy worker does not
// hold up a GET.
import { ConflictException, HttpException, Inject, Injectable, NotFoundException, UnprocessableEntityException } from '@nestjs/common';
import { Client, WorkflowExecutionAlreadyStartedError, WorkflowFailedError, WorkflowNotFoundError, WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError, isGrpcServiceError, type WorkflowExecutionDescription, type WorkflowExecutionInfo, type WorkflowHandle } from '@temporalio/client';
import type { SignalDefinition, UpdateDefinition } from '@temporalio/common';
import type { Config } from '../../config.js';
import { cancelRequestedSignal, stateQuery } from '../../../workflows/contracts/control.js';
import { ErrandRepo, ErrandRequester } from '../../../workflows/contracts/search-attributes.js';
import type { PromoteAttemptInput } from '../../../workflows/attempts.js';
import { attemptTaskId } from '../../../workflows/contracts/attempts.js';
import type { PullRequestRef, TaskResult, TaskState } from '../../../workflows/contracts/task.js';
import { describeFailure } from '../../../workflows/failures.js';
import { PROMOTE_ATTEMPT_WORKFLOW_TYPE, promoteWorkflowId, TASK_WORKFLOWS_QUERY, taskWorkflowId } from '../../../workflows/names.js';
import { taskStart } from '../../../workflows/task-start.js';
import { CONFIG, TEMPORAL_CLIENT } from '../tokens.js';
import { LastKnownStates } from './last-known-states.js';
import type { ListTasksQuery } from './task-request.js';

const QUERY_DEADLINE_MS = 5_000;
/**
 * How long a running task's query may take when the API has an earlier answer to fall back on:
 * a busy worker answers queries behind its workflow tasks (seconds, under load), and a page
 * polling for progress is better served by the state of a moment ago, marked as such.
 */
const FAST_QUERY_MS = 150;
/** How long a message or an approval waits for the task to accept it (a worker must run it). */
const UPDATE_DEADLINE_MS = 5_000;

/** A task's description, and its state as fresh as Temporal gave it in time. */
export interface TaskSnapshot {
  description: WorkflowExecutionDescription;
  state?: TaskState;
  /** Set when the worker was slow to answer: the state is the one it gave at this time. */
  stateAsOf?: string;
}

@Injectable()
export class TaskGateway {
  private readonly lastKnown = new LastKnownStates();

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    @Inject(TEMPORAL_CLIENT) private readonly client: Client,
  ) {}

  /**
   * Starts a task's workflow and keeps `initial` as what a GET falls back on until the worker has
   * answered once. False when a workflow with the task's id exists already (ended or not: a task
   * id is never reused).
   */
  async start(workflowType: string, task: { taskId: string; repo: string; requester?: string }, input: unknown, memo: { requestHash: string; via: string }, initial: TaskState): Promise<boolean> {
    let runId: string;
    try {
      ({ firstExecutionRunId: runId } = await this.client.workflow.start(workflowType, {
        ...taskStart(task),
        taskQueue: this.config.temporal.taskQueue,
        args: [input],
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        memo,
      }));
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) return false;
      throw err;
    }
    this.lastKnown.remember(task.taskId, initial, Date.now(), runId);
    return true;
  }

  /** The task's description; 404 for a task that does not exist. */
  async describe(taskId: string): Promise<WorkflowExecutionDescription> {
    try {
      return await this.handle(taskId).describe();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw taskNotFound(taskId);
      throw err;
    }
  }

  /** The task's description, or undefined when there is no such task. */
  find(taskId: string): Promise<WorkflowExecutionDescription | undefined> {
    return this.describe(taskId).catch((err: unknown) => (err instanceof NotFoundException ? undefined : Promise.reject(err)));
  }

  /**
   * The task's description and state. A completed task's result holds its final state (read from
   * history, no worker). Otherwise the query answers, for running and closed tasks alike (a worker
   * replays closed ones); with no worker polling it would wait, so it is bounded, and a running
   * task falls back on its last answer (`stateAsOf`).
   */
  async read(taskId: string): Promise<TaskSnapshot> {
    // A running task the API has an answer for is asked for its state while it is described:
    // a GET then takes the slower of the two calls, not both one after the other.
    const asked = Date.now();
    const early = this.lastKnown.get(taskId);
    const earlyState = early?.state && early.runId ? this.queryState(taskId, early.runId, asked + FAST_QUERY_MS) : undefined;
    const description = await this.describeKnown(taskId);
    const status = statusName(description);
    let state = status === 'completed' ? await this.finalState(taskId, description.runId) : undefined;
    let stateAsOf: string | undefined;
    if (!state) {
      const known = status === 'running' ? this.lastKnown.get(taskId) : undefined;
      const deadline = known?.state ? FAST_QUERY_MS : QUERY_DEADLINE_MS;
      state =
        earlyState && known?.runId === description.runId
          ? await earlyState
          : await this.queryState(taskId, description.runId, asked + deadline);
      if (state && status === 'running') this.lastKnown.remember(taskId, state, asked, description.runId);
      else if (!state && known?.state) [state, stateAsOf] = [known.state, new Date(known.asked).toISOString()];
    }
    if (status !== 'running') this.lastKnown.forget(taskId);
    return { description, state, ...(stateAsOf && { stateAsOf }) };
  }

  /**
   * Opens the PR of an attempt a person promotes, through its own workflow (started once: asked
   * again, the first one's PR), and waits for it. A forge that refuses is a 422 that says why.
   */
  async promote(input: PromoteAttemptInput): Promise<PullRequestRef> {
    const workflowId = promoteWorkflowId(attemptTaskId(input.parentTaskId, input.n));
    await this.client.workflow
      .start(PROMOTE_ATTEMPT_WORKFLOW_TYPE, { workflowId, taskQueue: this.config.temporal.taskQueue, args: [input], workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY' })
      .catch((err: unknown) => {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      });
    try {
      return (await this.client.workflow.getHandle(workflowId).result()) as PullRequestRef;
    } catch (err) {
      if (err instanceof WorkflowFailedError) throw new UnprocessableEntityException(`the PR of attempt ${input.n} was not opened: ${describeFailure(err)}`);
      throw err;
    }
  }

  /** The PR a person promoted the attempt `attemptTaskId` to, if one is open. */
  async promoted(attemptTaskId: string): Promise<PullRequestRef | undefined> {
    const handle = this.client.workflow.getHandle(promoteWorkflowId(attemptTaskId));
    const description = await handle.describe().catch(() => undefined);
    return description?.status.name === 'COMPLETED' ? ((await handle.result()) as PullRequestRef) : undefined;
  }

  /** Why the run `runId` of a failed task failed, from its result. */
  failure(taskId: string, runId: string): Promise<string | undefined> {
    return this.handle(taskId, runId)
      .result()
      .then(() => undefined, (err: Error) => describeFailure(err));
  }

  /** The newest tasks that match `q` (`repo` as tasks record it), from Temporal visibility, `q.limit` a page. */
  list(q: ListTasksQuery): AsyncIterable<WorkflowExecutionInfo> {
    // A dependency bump is a task too (its groups' coding tasks are listed beside it).
    const clauses = [TASK_WORKFLOWS_QUERY];
    if (q.repo) clauses.push(`${ErrandRepo.name} = ${JSON.stringify(q.repo)}`);
    if (q.requester) clauses.push(`${ErrandRequester.name} = ${JSON.stringify(q.requester)}`);
    if (q.status) clauses.push(`ExecutionStatus = '${visibilityStatus(q.status)}'`);
    return this.client.workflow.list({ query: clauses.join(' AND '), pageSize: q.limit });
  }

  /** Sends a running task `signal`; 404 for an unknown task, 409 for one that has ended (`action`: what it cannot be). */
  async signal<Arg>(taskId: string, action: string, signal: SignalDefinition<[Arg]>, arg: Arg): Promise<void> {
    await (await this.running(taskId, action)).signal(signal, arg);
    this.lastKnown.changed(taskId);
  }

  /** Cancels a running task, having told it who asked (a cancellation carries no one's name). */
  async cancel(taskId: string, by?: string): Promise<void> {
    const handle = await this.running(taskId, 'cancelled');
    await handle.signal(cancelRequestedSignal, { by });
    await handle.cancel();
    this.lastKnown.changed(taskId);
  }

  /**
   * Runs `update` on a running task and returns its answer. A rejected update (its validator said
   * no, or the task ended meanwhile) is a 409 that says why. An update waits for a worker to run
   * the task: with none, the caller hears a 503 in seconds.
   */
  async update<Ret, Arg>(taskId: string, action: string, update: UpdateDefinition<Ret, [Arg]>, arg: Arg): Promise<Ret> {
    const handle = await this.running(taskId, action);
    try {
      return await this.client.withDeadline(Date.now() + UPDATE_DEADLINE_MS, () => handle.executeUpdate(update, { args: [arg] }));
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) throw new ConflictException(describeFailure(err));
      if (err instanceof WorkflowNotFoundError) throw new ConflictException(`task ${taskId} has ended`);
      const grpc = isGrpcServiceError(err) ? err : isGrpcServiceError((err as Error).cause) ? ((err as Error).cause as { code: number }) : undefined;
      if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError || grpc?.code === 4 /* DEADLINE_EXCEEDED */ || grpc?.code === 1 /* CANCELLED */) {
        throw new HttpException(
          {
            message: `task ${taskId} did not answer within ${UPDATE_DEADLINE_MS / 1000} s: no worker is running its work right now (or Temporal is slow); it may still take this when one does, so check GET /tasks/${taskId} before sending it again`,
            headers: { 'retry-after': '10' },
          },
          503,
        );
      }
      throw err;
    } finally {
      this.lastKnown.changed(taskId);
    }
  }

  /** The handle of a running task; 404 for an unknown one, 409 for one that has ended (`action`: what it cannot be). */
  private async running(taskId: string, action: string): Promise<WorkflowHandle> {
    const status = statusName(await this.describe(taskId));
    if (status !== 'running') throw new ConflictException(`task ${taskId} is already ${status}; only running tasks can be ${action}`);
    return this.handle(taskId);
  }

  /**
   * A running task's current run, named by its id when the API knows it: Temporal then finds it
   * in its cache, where a task named only by its workflow id costs a database read to find its
   * current run (under load, behind every write). A run that continued as new is followed.
   */
  private async describeKnown(taskId: string): Promise<WorkflowExecutionDescription> {
    const runId = this.lastKnown.get(taskId)?.runId;
    if (runId) {
      const description = await this.handle(taskId, runId).describe().catch(() => undefined);
      if (description && description.status.name !== 'CONTINUED_AS_NEW') return description;
    }
    return this.describe(taskId);
  }

  private handle(taskId: string, runId?: string): WorkflowHandle {
    return this.client.workflow.getHandle(taskWorkflowId(taskId), runId);
  }

  /** The state query's answer, or undefined if it has none by `deadline` (epoch ms). */
  private queryState(taskId: string, runId: string | undefined, deadline: number): Promise<TaskState | undefined> {
    return this.client.withDeadline(deadline, () => this.handle(taskId, runId).query(stateQuery)).catch(() => undefined);
  }

  /** The state a completed coding task returned with its result (older tasks and other workflows: none). */
  private async finalState(taskId: string, runId: string): Promise<TaskState | undefined> {
    const result = (await this.handle(taskId, runId).result().catch(() => undefined)) as TaskResult | undefined;
    return result?.state;
  }
}

/** What a caller gets for a task that does not exist, or that it may not see (the same, so no oracle). */
export function taskNotFound(taskId: string): NotFoundException {
  return new NotFoundException(`no task with id ${taskId}`);
}

/** A task's status as the API names it: Temporal's, in lower case (`running`, `completed`, ...). */
export function statusName(d: WorkflowExecutionDescription): string {
  return d.status.name.toLowerCase();
}

function visibilityStatus(status: ListTasksQuery['status'] & string): string {
  return status.split('_').map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
}
