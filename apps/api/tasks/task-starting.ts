// Starts tasks: a request's repository, playbook, budget and defaults made into a workflow's input,
// with an Idempotency-Key's replay; and the same input for what else starts tasks (webhooks,
// schedules). Business rules live in the workflow; Temporal is asked through the gateway.
import { createHash, randomUUID } from 'node:crypto';
import { ConflictException, HttpException, Inject, Injectable, UnprocessableEntityException } from '@nestjs/common';
import type { Forge } from '../../../lib/forge/forge.js';
import { preparePlaybookRun } from '../../../lib/playbooks/catalog.js';
import type { Budget } from '../../../workflows/budget.js';
import { initialAttemptsState, type AttemptsInput } from '../../../workflows/contracts/attempts.js';
import { initialTaskState, type TaskInput, type TaskState } from '../../../workflows/contracts/task.js';
import { playbookPrompt } from '../../../workflows/contracts/playbooks.js';
import type { DependencyBumpInput } from '../../../workflows/dependency-bump.js';
import { ATTEMPTS_WORKFLOW_TYPE, DEPENDENCY_BUMP_WORKFLOW_TYPE, TASK_WORKFLOW_TYPE } from '../../../workflows/names.js';
import { taskLinks } from '../../../workflows/task-start.js';
import { NO_MODEL_MESSAGE, type Config } from '../../config.js';
import { AdmissionService } from '../admission/admission.service.js';
import { CONFIG, FORGE } from '../tokens.js';
import { TaskGateway } from './task-gateway.js';
import { linkBases, viewLinks } from './task-links.js';
import { TaskReading, type TaskView } from './task-reading.js';
import { badRequest, type CreateTaskBody } from './task-request.js';

/** The built-in playbook that runs as its own workflow, without a model. */
const DEPENDENCY_BUMP = 'dependency-bump';

@Injectable()
export class TaskStarting {
  /** Requests with an Idempotency-Key being answered now, by task id. */
  private readonly creating = new Map<string, { requestHash: string; view: Promise<TaskView & { replayed?: boolean }> }>();

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    @Inject(FORGE) private readonly forge: Forge,
    @Inject(AdmissionService) private readonly admission: AdmissionService,
    @Inject(TaskGateway) private readonly gateway: TaskGateway,
    @Inject(TaskReading) private readonly reading: TaskReading,
  ) {}

  /**
   * Starts a task. With an Idempotency-Key the task id is derived from the key and the requester
   * (a token's name, set by the controller; without tokens, the body's own), so a retried request
   * finds the task the first one started (`replayed`) instead of starting another, and another
   * requester's same key is another task: a key is never a way to learn of, or block, someone
   * else's request.
   */
  async create(body: CreateTaskBody, idempotencyKey?: string): Promise<TaskView & { replayed?: boolean }> {
    this.checkServerCanRun(body);
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

  /** 400 unless this server can run what is asked: a model (the dependency-bump playbook needs none), a price for a cost budget. */
  checkServerCanRun(body: { playbook?: string; maxCostUsd?: number; attempts?: number }): void {
    if (!this.config.model && body.playbook !== DEPENDENCY_BUMP) throw badRequest([{ field: 'model', message: NO_MODEL_MESSAGE }]);
    if ((body.attempts ?? 1) > this.config.maxAttempts) throw badRequest([{ field: 'attempts', message: `at most ${this.config.maxAttempts} on this server (ERRAND_MAX_ATTEMPTS)` }]);
    if ((body.attempts ?? 1) > 1 && body.playbook === DEPENDENCY_BUMP) throw badRequest([{ field: 'attempts', message: 'dependency-bump makes its change itself: it takes no attempts' }]);
    if (body.maxCostUsd !== undefined && !this.config.model?.price) {
      throw badRequest([{ field: 'maxCostUsd', message: `this server has no price for model ${this.config.model?.model ?? '(none configured)'}, so cost cannot be counted; add it to ERRAND_MODEL_PRICES or use maxTokens` }]);
    }
  }

  /** A task with the server's defaults for whatever `fields` leaves out (webhooks start tasks this way). */
  taskInput(taskId: string, fields: Partial<TaskInput> & Pick<TaskInput, 'repo' | 'baseBranch' | 'prompt'>): TaskInput {
    return { ...this.withDefaults(fields), taskId, links: taskLinks(linkBases(this.config), taskId) };
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

  /**
   * Starts the workflow. A task id is never reused, even after its task ended; when it exists
   * already and `replayable`, the existing task is the answer (same request) or a 422 (another).
   */
  async start(input: TaskInput | DependencyBumpInput | AttemptsInput, requestHash: string, replayable: boolean, workflowType = TASK_WORKFLOW_TYPE, via: TaskVia = 'api'): Promise<TaskView & { replayed?: boolean }> {
    const { taskId, repo, requester, initial } = startOf(input);
    await this.admission.checkBudget(requester ?? 'unknown');
    if (!(await this.gateway.start(workflowType, { taskId, repo, requester }, input, { requestHash, via }, initial))) {
      // Two requests with the same key at once: the other one started it.
      const existing = replayable ? await this.replay(taskId, requestHash) : undefined;
      if (existing) return existing;
      throw new ConflictException(`task ${taskId} already exists`);
    }
    return { id: taskId, status: 'running', ...initial, links: viewLinks(this.config, taskId) };
  }

  private async startNew(taskId: string, body: CreateTaskBody, requestHash: string, replayable: boolean): Promise<TaskView & { replayed?: boolean }> {
    const target = await this.resolveRepository(body.repo, body.baseBranch);
    const { playbook: name, params, prompt, attempts = 1, attemptBudgets = 'each', ...fields } = body;
    const asked = { ...fields, ...target, budget: resolveBudget(this.config.defaults.budget, body), coAuthor: coAuthorOf(body.requester) };
    // Several attempts: the same task, run by the workflow that starts them and keeps the best.
    const startTask = (task: TaskInput) =>
      attempts > 1
        ? this.start({ task: { ...task, awaitFeedbackMinutes: 0 }, attempts, budgets: attemptBudgets, links: linkBases(this.config) }, requestHash, replayable, ATTEMPTS_WORKFLOW_TYPE)
        : this.start(task, requestHash, replayable);
    if (!name) return startTask(this.taskInput(taskId, { ...asked, prompt: prompt! }));
    const run = await preparePlaybookRun(this.forge, { repo: target.repo, ref: target.baseBranch, name, params });
    if (!run.ok) throw badRequest(run.issues);
    if (run.runs === 'dependency-bump') {
      if (prompt) throw badRequest([{ field: 'prompt', message: 'dependency-bump takes no prompt: its policy is in params' }]);
      const { taskId: _t, links: _l, prompt: _p, ...task } = this.taskInput(taskId, { ...asked, prompt: '', playbook: run.playbook });
      const input: DependencyBumpInput = { taskId, repo: target.repo, baseBranch: target.baseBranch, params: run.playbook.params, task: { ...task, awaitFeedbackMinutes: 0 }, links: linkBases(this.config) };
      return this.start(input, requestHash, replayable, DEPENDENCY_BUMP_WORKFLOW_TYPE);
    }
    return startTask(this.taskInput(taskId, { ...asked, prompt: playbookPrompt(run.prompt, prompt), playbook: run.playbook }));
  }

  /** Where the task's code lives, as the forge names it; a repository it does not know is a 400. */
  private async resolveRepository(repo: string, baseBranch?: string): Promise<{ repo: string; baseBranch: string }> {
    const resolved = await this.forge.resolveRepository(repo, baseBranch);
    if ('field' in resolved) throw badRequest([{ field: resolved.field, message: resolved.message }]);
    return resolved;
  }

  /** The task an earlier request with the same key started, or undefined if there is none. */
  private async replay(taskId: string, requestHash: string): Promise<(TaskView & { replayed: true }) | undefined> {
    const description = await this.gateway.find(taskId);
    if (!description) return undefined;
    // Only the same requester's key names this task, so this tells nothing of anyone else's.
    if ((await description.memo)?.requestHash !== requestHash) {
      throw new UnprocessableEntityException('this Idempotency-Key was already used for a different request; use a new key for a new task');
    }
    return { ...(await this.reading.get(taskId)), replayed: true };
  }
}

/** What starting `input` records: its task, repository and requester, and its state before it runs. */
function startOf(input: TaskInput | DependencyBumpInput | AttemptsInput): { taskId: string; repo: string; requester?: string; initial: TaskState } {
  if ('attempts' in input) return { taskId: input.task.taskId, repo: input.task.repo, requester: input.task.requester, initial: initialAttemptsState(input) };
  if ('prompt' in input) return { taskId: input.taskId, repo: input.repo, requester: input.requester, initial: initialTaskState(input) };
  return { taskId: input.taskId, repo: input.repo, requester: input.task.requester, initial: initialTaskState({ ...input.task, taskId: input.taskId, repo: input.repo, baseBranch: input.baseBranch, prompt: '' }) };
}

/** Where a task was asked for: the API (and the CLI and console, through it), a GitHub webhook, Slack. */
export type TaskVia = 'api' | 'github' | 'slack' | 'linear';

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
