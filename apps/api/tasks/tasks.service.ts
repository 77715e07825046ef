// Translates task requests into Temporal calls and Temporal's answers into the API's task
// view. Business rules live in the workflow; this only starts, queries, lists and cancels.
import { createHash, randomUUID } from 'node:crypto';
import { ConflictException, HttpException, Inject, Injectable, NotFoundException, UnprocessableEntityException, type OnModuleDestroy } from '@nestjs/common';
import {
  Client,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  isGrpcServiceError,
  type WorkflowExecutionDescription,
} from '@temporalio/client';
import { NO_MODEL_MESSAGE, type Config } from '../../config.js';
import { approvePlanUpdate, cancelRequestedSignal, ErrandPhase, ErrandRepo, ErrandRequester, initialTaskState, pauseSignal, resumeSignal, sendMessageUpdate, stateQuery, type Budget, type MessageAccepted, type SteeringMessage, type QueuedTask, type TaskInput, type TaskResult, type TaskState } from '../../../workflows/contracts.js';
import { AdmissionService } from '../admission/admission.service.js';
import { DEPENDENCY_BUMP_WORKFLOW_TYPE, TASK_WORKFLOW_TYPE, taskIdOfWorkflow, taskWorkflowId } from '../../../workflows/names.js';
import type { DependencyBumpInput } from '../../../workflows/dependency-bump.js';
import { describeFailure } from '../../../workflows/failures.js';
import { taskLinks, taskStart } from '../../../workflows/task-start.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readTranscript } from '../../../activities/agent/conversation.js';
import type { Storage } from '../../../activities/store/storage.js';
import { taskKeys } from '../../../activities/store/keys.js';
import { CONFIG, FORGE, STORAGE, TEMPORAL_CLIENT } from '../tokens.js';
import { streamTaskEvents } from './event-stream.js';
import type { Forge } from '../../../activities/forge/forge.js';
import { preparePlaybookRun } from '../../../activities/playbooks/catalog.js';
import { badRequest, type CreateTaskBody, type ListTasksQuery, type LogName } from './task-request.js';

const QUERY_DEADLINE_MS = 5_000;
/**
 * How long a running task's query may take when the API has an earlier answer to fall back on:
 * a busy worker answers queries behind its workflow tasks (seconds, under load), and a page
 * polling for progress is better served by the state of a moment ago, marked as such.
 */
const FAST_QUERY_MS = 150;
/** How long a message or an approval waits for the task to accept it (a worker must run it). */
const UPDATE_DEADLINE_MS = 5_000;
/** Running tasks whose last answer is kept for that. */
const LAST_KNOWN = 2_000;
/** Why a log is missing, for a task that ended and for one still running. */
const NO_LOG: Record<LogName, string> = {
  setup: 'it ran no setup script (its repository has no .errand/setup.sh and the task gave no setupScript)',
  test: 'it ran no tests (no test command was given or found, or it ended before testing)',
};
const NO_LOG_YET: Record<LogName, string> = {
  setup: 'its setup has not finished, or it has no setup script',
  test: 'it has not run its tests yet',
};

export interface TaskView extends Partial<TaskState> {
  /** Its place while it waits for a slot to run (running-task limits). */
  queue?: QueuedTask;
  /** Who asked for it (the list has it from the search attribute). */
  requester?: string;
  id: string;
  status: string;
  /** Set when the worker was slow to answer: the state is the one it gave at this time. */
  stateAsOf?: string;
  startedAt?: string;
  closedAt?: string;
  links: { self: string; temporalUi: string };
}

@Injectable()
export class TasksService implements OnModuleDestroy {
  /** Ends open event streams on shutdown (before the HTTP server waits for them to close). */
  private readonly shutdown = new AbortController();
  /**
   * The last state each running task's query gave, and when it was asked (no state after a change
   * made through the API); and the run it came from.
   */
  private readonly lastKnown = new Map<string, { state?: TaskState; asked: number; runId?: string }>();
  /** Requests with an Idempotency-Key being answered now, by task id. */
  private readonly creating = new Map<string, { requestHash: string; view: Promise<TaskView & { replayed?: boolean }> }>();

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    @Inject(TEMPORAL_CLIENT) private readonly client: Client,
    @Inject(STORAGE) private readonly storage: Storage,
    @Inject(FORGE) private readonly forge: Forge,
    @Inject(AdmissionService) private readonly admission: AdmissionService,
  ) {}

  /**
   * Starts a task. With an Idempotency-Key the task id is derived from the key and the requester
   * (a token's name, set by the controller; without tokens, the body's own), so a retried request
   * finds the task the first one started (`replayed`) instead of starting another, and another
   * requester's same key is another task: a key is never a way to learn of, or block, someone
   * else's request.
   */
  async create(body: CreateTaskBody, idempotencyKey?: string): Promise<TaskView & { replayed?: boolean }> {
    // The dependency-bump playbook needs no model; everything else does.
    if (!this.config.model && body.playbook !== DEPENDENCY_BUMP) throw badRequest([{ field: 'model', message: NO_MODEL_MESSAGE }]);
    if (body.maxCostUsd !== undefined && !this.config.model?.price) {
      throw badRequest([{ field: 'maxCostUsd', message: `this server has no price for model ${this.config.model?.model ?? '(none configured)'}, so cost cannot be counted; add it to ERRAND_MODEL_PRICES or use maxTokens` }]);
    }
    const requestHash = createHash('sha256').update(JSON.stringify(body)).digest('hex');
    if (!idempotencyKey) return this.startNew(randomUUID().replace(/-/g, '').slice(0, 12), body, requestHash, false);
    // JSON, so no requester and key run together into another pair's. (Tasks started before keys
    // were scoped had ids of the key alone: a retry of one starts a new task.)
    const taskId = idFromKey(`idempotency:${JSON.stringify([body.requester ?? null, idempotencyKey])}`);
    // A client that retries at once (or sends twice) gets the first request's answer, with no
    // second round of calls to Temporal.
    const inFlight = this.creating.get(taskId);
    if (inFlight?.requestHash === requestHash) return { ...(await inFlight.view), replayed: true };
    await inFlight?.view.catch(() => undefined);
    // Starting is tried first (a new key is the common case): Temporal refuses a second start
    // of the same id, and then the earlier task is the answer. A request that cannot start now
    // (its repository or playbook changed since) may still name a task an earlier one started.
    const view = this.startNew(taskId, body, requestHash, true).catch(async (err: unknown) => {
      if (!(err instanceof HttpException) || err instanceof UnprocessableEntityException) throw err;
      return (await this.replay(taskId, requestHash)) ?? Promise.reject(err);
    });
    this.creating.set(taskId, { requestHash, view });
    try {
      return await view;
    } finally {
      if (this.creating.get(taskId)?.view === view) this.creating.delete(taskId);
    }
  }

  private async startNew(taskId: string, body: CreateTaskBody, requestHash: string, replayable: boolean): Promise<TaskView & { replayed?: boolean }> {
    const target = await this.resolveRepository(body.repo, body.baseBranch);
    const { playbook: name, params, prompt, ...fields } = body;
    const asked = { ...fields, ...target, budget: resolveBudget(this.config.defaults.budget, body), coAuthor: coAuthorOf(body.requester) };
    if (!name) return this.start(this.taskInput(taskId, { ...asked, prompt: prompt! }), requestHash, replayable);
    const run = await preparePlaybookRun(this.forge, { repo: target.repo, ref: target.baseBranch, name, params });
    if (!run.ok) throw badRequest(run.issues);
    if (run.runs === 'dependency-bump') {
      if (prompt) throw badRequest([{ field: 'prompt', message: 'dependency-bump takes no prompt: its policy is in params' }]);
      const { taskId: _t, links: _l, prompt: _p, ...task } = this.taskInput(taskId, { ...asked, prompt: '', playbook: run.playbook });
      const input: DependencyBumpInput = { taskId, repo: target.repo, baseBranch: target.baseBranch, params: run.playbook.params, task: { ...task, awaitFeedbackMinutes: 0 }, links: this.linkBases() };
      return this.start(input, requestHash, replayable, DEPENDENCY_BUMP_WORKFLOW_TYPE);
    }
    // The caller's prompt, if any, adds to the playbook's instructions.
    const withPrompt = prompt ? `${run.prompt}\n\nAlso, from the person who asked:\n${prompt}` : run.prompt;
    return this.start(this.taskInput(taskId, { ...asked, prompt: withPrompt, playbook: run.playbook }), requestHash, replayable);
  }

  /** A task with the server's defaults for whatever `fields` leaves out (webhooks start tasks this way). */
  taskInput(taskId: string, fields: Partial<TaskInput> & Pick<TaskInput, 'repo' | 'baseBranch' | 'prompt'>): TaskInput {
    return { ...this.withDefaults(fields), taskId, links: taskLinks(this.linkBases(), taskId) };
  }

  /** `fields` with the server's defaults for what they leave out. */
  withDefaults<T extends Partial<TaskInput>>(fields: T): T & Pick<TaskInput, 'network' | 'budget' | 'checkpointEverySteps' | 'maxReviewRounds' | 'awaitFeedbackMinutes'> {
    const d = this.config.defaults;
    return {
      ...fields,
      network: fields.network ?? d.network,
      budget: fields.budget ?? d.budget,
      checkpointEverySteps: fields.checkpointEverySteps ?? d.checkpointEverySteps,
      maxReviewRounds: fields.maxReviewRounds ?? d.maxReviewRounds,
      awaitFeedbackMinutes: fields.awaitFeedbackMinutes ?? d.awaitFeedbackMinutes,
    };
  }

  /** Where tasks' pages and runs in Temporal UI are: a task's is this and its id (its workflow id for Temporal UI). */
  linkBases(): { task?: string; temporalUi: string } {
    const { uiUrl, namespace } = this.config.temporal;
    return {
      task: this.config.api.publicUrl ? `${this.config.api.publicUrl.replace(/\/$/, '')}/tasks/` : undefined,
      temporalUi: `${uiUrl}/namespaces/${encodeURIComponent(namespace)}/workflows/`,
    };
  }

  /**
   * Starts the workflow. A task id is never reused, even after its task ended; when it exists
   * already and `replayable`, the existing task is the answer (same request) or a 422 (another).
   */
  async start(input: TaskInput | DependencyBumpInput, requestHash: string, replayable: boolean, workflowType = TASK_WORKFLOW_TYPE): Promise<TaskView & { replayed?: boolean }> {
    const { taskId } = input;
    await this.admission.checkBudget(requesterOf(input) ?? 'unknown');
    let runId: string;
    try {
      ({ firstExecutionRunId: runId } = await this.client.workflow.start(workflowType, {
        ...taskStart({ taskId, repo: input.repo, requester: requesterOf(input) }),
        taskQueue: this.config.temporal.taskQueue,
        args: [input],
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        memo: { requestHash },
      }));
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      // Two requests with the same key at once: the other one started it.
      const existing = replayable ? await this.replay(taskId, requestHash) : undefined;
      if (existing) return existing;
      throw new ConflictException(`task ${taskId} already exists`);
    }
    const initial = 'prompt' in input ? initialTaskState(input) : initialTaskState({ ...input.task, taskId, repo: input.repo, baseBranch: input.baseBranch, prompt: '' });
    // What a GET falls back on until the worker has answered once.
    this.remember(taskId, initial, Date.now(), runId);
    return { id: taskId, status: 'running', ...initial, links: this.links(taskId) };
  }

  /** Where the task's code lives, as the forge names it; a repository it does not know is a 400. */
  private async resolveRepository(repo: string, baseBranch?: string): Promise<{ repo: string; baseBranch: string }> {
    const resolved = await this.forge.resolveRepository(repo, baseBranch);
    if ('field' in resolved) throw badRequest([{ field: resolved.field, message: resolved.message }]);
    return resolved;
  }

  /** The task an earlier request with the same key started, or undefined if there is none. */
  private async replay(taskId: string, requestHash: string): Promise<(TaskView & { replayed: true }) | undefined> {
    const description = await this.client.workflow
      .getHandle(taskWorkflowId(taskId))
      .describe()
      .catch((err: unknown) => {
        if (err instanceof WorkflowNotFoundError) return undefined;
        throw err;
      });
    if (!description) return undefined;
    // Only the same requester's key names this task, so this tells nothing of anyone else's.
    if ((await description.memo)?.requestHash !== requestHash) {
      throw new UnprocessableEntityException('this Idempotency-Key was already used for a different request; use a new key for a new task');
    }
    return { ...(await this.get(taskId)), replayed: true };
  }

  async get(taskId: string): Promise<TaskView> {
    // A running task the API has an answer for is asked for its state while it is described:
    // a GET then takes the slower of the two calls, not both one after the other.
    const asked = Date.now();
    const early = this.lastKnown.get(taskId);
    const earlyState = early?.state && early.runId ? this.queryState(taskId, early.runId, asked + FAST_QUERY_MS) : undefined;
    const description = await this.describeKnown(taskId);
    const handle = this.client.workflow.getHandle(taskWorkflowId(taskId), description.runId);
    const status = statusName(description);
    // A completed task's result holds its final state (read from history, no worker). Otherwise
    // the query answers, for running and closed tasks alike (a worker replays closed ones); with
    // no worker polling it would wait, so it is bounded and the search attributes stand in.
    let state = status === 'completed' ? await this.finalState(handle) : undefined;
    let stateAsOf: string | undefined;
    if (!state) {
      const known = status === 'running' ? this.lastKnown.get(taskId) : undefined;
      const deadline = known?.state ? FAST_QUERY_MS : QUERY_DEADLINE_MS;
      state =
        earlyState && known?.runId === description.runId
          ? await earlyState
          : await this.queryState(taskId, description.runId, asked + deadline);
      if (state && status === 'running') this.remember(taskId, state, asked, description.runId);
      else if (!state && known?.state) [state, stateAsOf] = [known.state, new Date(known.asked).toISOString()];
    }
    if (status !== 'running') this.lastKnown.delete(taskId);
    const view: TaskView = { id: taskId, status, ...state, ...(stateAsOf && { stateAsOf }), ...times(description), links: this.links(taskId) };
    if (!state) {
      view.repo = description.typedSearchAttributes.get(ErrandRepo);
      view.phase = description.typedSearchAttributes.get(ErrandPhase) as TaskState['phase'];
    }
    if (status === 'running' && view.phase === 'queued') view.queue = (await this.admission.places()).get(taskId);
    if (status === 'failed' && !view.error) {
      view.error = await handle.result().then(
        () => undefined,
        (err: Error) => describeFailure(err),
      );
    }
    return view;
  }

  /** The state query's answer, or undefined if it has none by `deadline` (epoch ms). */
  private queryState(taskId: string, runId: string | undefined, deadline: number): Promise<TaskState | undefined> {
    const handle = this.client.workflow.getHandle(taskWorkflowId(taskId), runId);
    return this.client.withDeadline(deadline, () => handle.query(stateQuery)).catch(() => undefined);
  }

  /** Keeps a running task's answer, unless a newer one or a change came since it was asked. */
  private remember(taskId: string, state: TaskState | undefined, asked: number, runId?: string): void {
    const previous = this.lastKnown.get(taskId);
    if (previous && previous.asked > asked) return;
    this.lastKnown.delete(taskId);
    this.lastKnown.set(taskId, { state, asked, runId: runId ?? previous?.runId });
    for (const oldest of this.lastKnown.keys()) {
      if (this.lastKnown.size <= LAST_KNOWN) break;
      this.lastKnown.delete(oldest);
    }
  }

  /** After a change made through the API, the next GET waits for the worker's answer: read your writes. */
  private changed(taskId: string): void {
    this.remember(taskId, undefined, Date.now());
  }

  /** The state a completed coding task returned with its result (older tasks and other workflows: none). */
  private async finalState(handle: ReturnType<Client['workflow']['getHandle']>): Promise<TaskState | undefined> {
    const result = (await handle.result().catch(() => undefined)) as TaskResult | undefined;
    return result?.state;
  }

  /** The repository a task works on; undefined when there is no such task. */
  async repoOf(taskId: string): Promise<string | undefined> {
    const description = await this.describe(taskId).catch((err: unknown) => (err instanceof NotFoundException ? undefined : Promise.reject(err)));
    return description?.typedSearchAttributes.get(ErrandRepo);
  }

  /** The newest tasks the caller may see (`visible`: by repository, for tokens limited to some). */
  async list(q: ListTasksQuery, visible: (repo: string | undefined) => boolean = () => true): Promise<{ tasks: TaskView[] }> {
    // A dependency bump is a task too (its groups' coding tasks are listed beside it).
    const clauses = [`(WorkflowType = '${TASK_WORKFLOW_TYPE}' OR WorkflowType = '${DEPENDENCY_BUMP_WORKFLOW_TYPE}')`];
    // As tasks record it: where the repository really is, for one on the local forge's host.
    if (q.repo) clauses.push(`${ErrandRepo.name} = ${JSON.stringify(this.forge.nameOf(q.repo) ?? q.repo)}`);
    if (q.requester) clauses.push(`${ErrandRequester.name} = ${JSON.stringify(q.requester)}`);
    if (q.status) clauses.push(`ExecutionStatus = '${visibilityStatus(q.status)}'`);
    const tasks: TaskView[] = [];
    for await (const wf of this.client.workflow.list({ query: clauses.join(' AND '), pageSize: q.limit })) {
      const id = taskIdOfWorkflow(wf.workflowId) ?? wf.workflowId;
      const repo = wf.typedSearchAttributes.get(ErrandRepo);
      if (!visible(repo)) continue;
      tasks.push({
        id,
        status: wf.status.name.toLowerCase(),
        repo,
        requester: wf.typedSearchAttributes.get(ErrandRequester),
        phase: wf.typedSearchAttributes.get(ErrandPhase) as TaskState['phase'],
        startedAt: wf.startTime.toISOString(),
        closedAt: wf.closeTime?.toISOString(),
        // As of its last phase (workflows/coding-task/run.ts keeps them in the memo).
        costUsd: wf.memo?.costUsd as number | undefined,
        pr: wf.memo?.pr as TaskView['pr'],
        links: this.links(id),
      });
      if (tasks.length >= q.limit) break;
    }
    if (tasks.some((t) => t.phase === 'queued')) {
      const places = await this.admission.places();
      for (const t of tasks) t.queue = places.get(t.id);
    }
    return { tasks };
  }

  /** Cancels a running task: the work so far stays on its branch, the sandbox is destroyed. */
  async cancel(taskId: string, by?: string): Promise<{ id: string; status: string }> {
    const handle = await this.running(taskId, 'cancelled');
    await handle.signal(cancelRequestedSignal, { by });
    await handle.cancel();
    this.changed(taskId);
    return { id: taskId, status: 'cancelling' };
  }

  async pause(taskId: string, by?: string): Promise<{ id: string; status: string }> {
    await (await this.running(taskId, 'paused')).signal(pauseSignal, { by });
    this.changed(taskId);
    return { id: taskId, status: 'pausing' };
  }

  async resume(taskId: string, by?: string): Promise<{ id: string; status: string }> {
    await (await this.running(taskId, 'resumed')).signal(resumeSignal, { by });
    this.changed(taskId);
    return { id: taskId, status: 'resuming' };
  }

  /** Returns once the workflow has accepted the message; the model reads it before its next call. */
  async sendMessage(taskId: string, message: SteeringMessage): Promise<{ id: string } & MessageAccepted> {
    const handle = await this.running(taskId, 'sent messages');
    return { id: taskId, ...(await this.update(taskId, () => handle.executeUpdate(sendMessageUpdate, { args: [message] }))) };
  }

  async approve(taskId: string, by?: string): Promise<{ id: string; approvedBy?: string }> {
    const handle = await this.running(taskId, 'approved');
    return { id: taskId, ...(await this.update(taskId, () => handle.executeUpdate(approvePlanUpdate, { args: [{ by }] }))) };
  }

  /** The handle of a running task; 404 for an unknown one, 409 for one that has ended. */
  private async running(taskId: string, action: string) {
    const status = statusName(await this.describe(taskId));
    if (status !== 'running') throw new ConflictException(`task ${taskId} is already ${status}; only running tasks can be ${action}`);
    return this.client.workflow.getHandle(taskWorkflowId(taskId));
  }

  /**
   * A rejected update (its validator said no, or the task ended meanwhile) is a 409 that says why.
   * An update waits for a worker to run the task: with none, the caller hears a 503 in seconds.
   */
  private async update<T>(taskId: string, call: () => Promise<T>): Promise<T> {
    try {
      return await this.client.withDeadline(Date.now() + UPDATE_DEADLINE_MS, call);
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
      this.changed(taskId);
    }
  }

  onModuleDestroy(): void {
    this.shutdown.abort();
  }

  async log(taskId: string, name: LogName): Promise<string> {
    const description = await this.describe(taskId);
    const log = await this.storage.blobs.get(taskKeys(taskId).log(name));
    if (log !== undefined) return log;
    if (description.status.name === 'RUNNING') throw new NotFoundException(`task ${taskId} has no ${name} log yet: ${NO_LOG_YET[name]}`);
    throw new NotFoundException(`task ${taskId} has no ${name} log: ${NO_LOG[name]}`);
  }

  /** The change the task published, as a unified diff (`git diff` of its base and its branch). */
  async diff(taskId: string): Promise<string> {
    const description = await this.describe(taskId);
    const diff = await this.storage.blobs.get(taskKeys(taskId).diff);
    if (diff !== undefined) return diff;
    throw new NotFoundException(`task ${taskId} has no diff${description.status.name === 'RUNNING' ? ' yet: it is written when the work is published' : ': it published no change'}`);
  }

  async transcript(taskId: string) {
    await this.describe(taskId);
    const messages = await readTranscript(this.storage.blobs, taskId);
    return { id: taskId, steps: messages.reduce((max, m) => Math.max(max, m.step), 0), messages };
  }

  /** Answers 404 before the stream starts; afterwards the stream itself reports the end. */
  async streamEvents(taskId: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    await this.describe(taskId);
    await streamTaskEvents(req, res, {
      logs: this.storage.logs,
      taskId,
      signal: this.shutdown.signal,
      status: async () => {
        const status = statusName(await this.describe(taskId));
        return { closed: status !== 'running', status };
      },
    });
  }

  /**
   * A running task's current run, named by its id when the API knows it: Temporal then finds it
   * in its cache, where a task named only by its workflow id costs a database read to find its
   * current run (under load, behind every write). A run that continued as new is followed.
   */
  private async describeKnown(taskId: string): Promise<WorkflowExecutionDescription> {
    const runId = this.lastKnown.get(taskId)?.runId;
    if (runId) {
      const description = await this.client.workflow
        .getHandle(taskWorkflowId(taskId), runId)
        .describe()
        .catch(() => undefined);
      if (description && description.status.name !== 'CONTINUED_AS_NEW') return description;
    }
    return this.describe(taskId);
  }

  private async describe(taskId: string): Promise<WorkflowExecutionDescription> {
    try {
      return await this.client.workflow.getHandle(taskWorkflowId(taskId)).describe();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw taskNotFound(taskId);
      throw err;
    }
  }

  private links(taskId: string) {
    return { self: `/tasks/${taskId}`, temporalUi: `${this.linkBases().temporalUi}${taskWorkflowId(taskId)}` };
  }
}

/** A stable 12-character task id for a key (an Idempotency-Key, a webhook delivery). */
export function idFromKey(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 12);
}

/** A requester written as `Name <email>` becomes the Co-authored-by of the final commit. */
export function coAuthorOf(requester?: string): string | undefined {
  return requester && /^[^<>]+<[^<>\s]+@[^<>\s]+>$/.test(requester.trim()) ? requester.trim() : undefined;
}

/** The task's own limits where it set them, the server's defaults elsewhere. */
export function resolveBudget(defaults: Budget, body: Pick<CreateTaskBody, 'maxSteps' | 'maxTokens' | 'maxCostUsd' | 'maxWallClockMinutes'>): Budget {
  const budget: Budget = { ...defaults };
  for (const key of ['maxSteps', 'maxTokens', 'maxCostUsd', 'maxWallClockMinutes'] as const) {
    if (body[key] !== undefined) budget[key] = body[key];
  }
  return budget;
}

function statusName(d: WorkflowExecutionDescription): string {
  return d.status.name.toLowerCase();
}

function visibilityStatus(status: ListTasksQuery['status'] & string): string {
  return status
    .split('_')
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join('');
}

function times(d: WorkflowExecutionDescription) {
  return { startedAt: d.startTime.toISOString(), closedAt: d.closeTime?.toISOString() };
}

/** The built-in playbook that runs as its own workflow, without a model. */
const DEPENDENCY_BUMP = 'dependency-bump';

const requesterOf = (input: TaskInput | DependencyBumpInput) => ('prompt' in input ? input.requester : input.task.requester);

/** What a caller gets for a task that does not exist, or that it may not see (the same, so no oracle). */
export function taskNotFound(taskId: string): NotFoundException {
  return new NotFoundException(`no task with id ${taskId}`);
}
