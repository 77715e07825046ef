// Translates schedule requests into Temporal Schedules and back. Temporal keeps each schedule
// (so it survives any restart), fires it, and applies its overlap, catch-up and jitter; the
// run it starts is the scheduledPlaybook workflow. What a schedule is (its repo, playbook,
// timing, task fields) travels as that workflow's argument, so reading it back is one describe.
import { ConflictException, Inject, Injectable, NotFoundException } from '@nestjs/common';
import {
  Client,
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  WorkflowNotFoundError,
  type ScheduleDescription,
  type ScheduleOptions,
} from '@temporalio/client';
import type { Forge } from '../../../lib/forge/forge.js';
import { preparePlaybookRun } from '../../../lib/playbooks/catalog.js';
import type { ScheduledRun, ScheduledRunResult, ScheduleTiming } from '../../../workflows/contracts/schedules.js';
import { describeFailure } from '../../../workflows/failures.js';
import { isSystemSchedule, SCHEDULED_PLAYBOOK_WORKFLOW_TYPE, SYSTEM_SCHEDULES, systemScheduleTemporalId, scheduledRunWorkflowId, scheduleIdOf, temporalScheduleId } from '../../../workflows/names.js';
import { NO_MODEL_MESSAGE, type Config } from '../../config.js';
import { badRequest } from '../tasks/task-request.js';
import { linkBases } from '../tasks/task-links.js';
import { coAuthorOf, resolveBudget, TaskStarting } from '../tasks/task-starting.js';
import { CONFIG, FORGE, TEMPORAL_CLIENT } from '../tokens.js';
import { noteOf, type CreateScheduleBody, type NoteBody, type UpdateScheduleBody } from './schedule-request.js';

/** The runs a schedule view shows, newest first. */
const RECENT_RUNS = 5;
const OVERLAP: Record<ScheduleTiming['overlap'], ScheduleOverlapPolicy> = {
  skip: ScheduleOverlapPolicy.SKIP,
  buffer_one: ScheduleOverlapPolicy.BUFFER_ONE,
  allow_all: ScheduleOverlapPolicy.ALLOW_ALL,
};
/** What marks a schedule as this Errand's (its task queue), in the schedule's memo. */
interface ErrandMemo {
  errand?: { taskQueue: string };
  /** Why the schedule exists, as its creator said: kept apart from the note each pause replaces. */
  description?: string;
}

export interface ScheduleRunView {
  workflowId: string;
  scheduledAt: string;
  startedAt: string;
  status: string;
  result?: ScheduledRunResult | unknown;
  error?: string;
}

export interface ScheduleView extends Partial<Omit<ScheduledRun, 'task' | 'links' | 'timing' | 'scheduleId'>>, Partial<ScheduleTiming> {
  id: string;
  /** Errand's own (the sandbox reaper, the environment refresh): listed, paused and triggered like the others, never changed or deleted. */
  system?: boolean;
  paused: boolean;
  /** Why it exists, as given when it was made (a pause's note does not replace it). */
  description?: string;
  /** The last pause's or unpause's note (or, until then, the description). */
  note?: string;
  /** None while it is paused. */
  nextRuns: string[];
  recentRuns: ScheduleRunView[];
  links: { self: string; temporalUi: string };
}

@Injectable()
export class SchedulesService {
  constructor(
    @Inject(CONFIG) private readonly config: Config,
    @Inject(TEMPORAL_CLIENT) private readonly client: Client,
    @Inject(FORGE) private readonly forge: Forge,
    @Inject(TaskStarting) private readonly tasks: TaskStarting,
  ) {}

  async create(body: CreateScheduleBody): Promise<ScheduleView> {
    const id = body.id ?? `${body.playbook}-${Math.random().toString(16).slice(2, 8)}`;
    const run = await this.scheduledRun(id, body);
    try {
      await this.client.schedule.create({
        ...this.options(run),
        scheduleId: temporalScheduleId(id),
        state: { paused: body.paused ?? false, note: body.note },
        memo: { errand: { taskQueue: this.config.temporal.taskQueue }, ...(body.note && { description: body.note }) } satisfies ErrandMemo,
      });
    } catch (err) {
      if (err instanceof ScheduleAlreadyRunning) throw new ConflictException(`schedule ${id} already exists; PATCH /schedules/${id} changes it`);
      throw invalidTiming(err);
    }
    return this.get(id);
  }

  async update(id: string, patch: UpdateScheduleBody): Promise<ScheduleView> {
    const current = this.runOf(await this.describe(id, 'change'));
    const run = await this.scheduledRun(id, { ...asRequest(current), ...patch, ...(patch.cron && { interval: undefined }), ...(patch.interval && { cron: undefined }) });
    try {
      await this.handle(id).update((previous) => ({ ...previous, ...this.options(run) }));
    } catch (err) {
      throw invalidTiming(err);
    }
    return this.get(id);
  }

  /** The repository a schedule's runs work on ({} for Errand's own); undefined when there is no such schedule. */
  async repoOf(id: string): Promise<{ repo?: string } | undefined> {
    const description = await this.describe(id).catch((err: unknown) => (err instanceof NotFoundException ? undefined : Promise.reject(err)));
    if (!description) return undefined;
    return isSystemSchedule(id) ? {} : { repo: this.runOf(description).repo };
  }

  /** Every schedule the caller may see (`visible`: by repository, for tokens limited to some). */
  async list(visible: (repo: string | undefined) => boolean = () => true): Promise<{ schedules: ScheduleView[] }> {
    const ids: string[] = [];
    for await (const summary of this.client.schedule.list()) {
      const ours = (summary.memo as ErrandMemo | undefined)?.errand?.taskQueue === this.config.temporal.taskQueue;
      const id = ours ? scheduleIdOf(summary.scheduleId) : this.systemIdOf(summary.scheduleId);
      if (id) ids.push(id);
    }
    // A schedule deleted between the listing and its describe is not listed.
    const views = await Promise.all(ids.sort().map((id) => this.get(id).catch((err: unknown) => (err instanceof NotFoundException ? undefined : Promise.reject(err)))));
    return { schedules: views.filter((v): v is ScheduleView => v !== undefined && visible(v.repo)) };
  }

  async get(id: string): Promise<ScheduleView> {
    const description = await this.describe(id);
    const { state, info } = description;
    const view: ScheduleView = {
      id,
      paused: state.paused,
      ...(typeof (description.memo as ErrandMemo | undefined)?.description === 'string' && { description: (description.memo as ErrandMemo).description }),
      note: state.note || undefined,
      // Temporal goes on computing the times while a schedule is paused; none of them will run.
      nextRuns: state.paused ? [] : info.nextActionTimes.slice(0, 5).map((t) => t.toISOString()),
      recentRuns: await Promise.all([...info.recentActions].reverse().slice(0, RECENT_RUNS).map((a) => this.runView(a.action.workflow, a.scheduledAt, a.takenAt))),
      links: { self: `/schedules/${id}`, temporalUi: `${this.config.temporal.uiUrl}/namespaces/${encodeURIComponent(this.config.temporal.namespace)}/schedules/${encodeURIComponent(description.scheduleId)}` },
    };
    if (isSystemSchedule(id)) return { ...view, system: true, description: `${SYSTEM_SCHEDULES[id].title}: ${SYSTEM_SCHEDULES[id].does}`, interval: `${this.config.systemSchedules[id]} minutes` };
    const { task, links: _links, timing, scheduleId: _id, ...run } = this.runOf(description);
    // Whose its runs are: the token that made it (on a server without tokens, what it was told).
    return { ...view, ...run, ...timing, ...(task.requester && { requester: task.requester }) };
  }

  async pause(id: string, body: NoteBody): Promise<ScheduleView> {
    await this.handle(id).pause(noteOf('paused', body)).catch((err: unknown) => Promise.reject(notFound(err, id)));
    return this.get(id);
  }

  async unpause(id: string, body: NoteBody): Promise<ScheduleView> {
    await this.handle(id).unpause(noteOf('unpaused', body)).catch((err: unknown) => Promise.reject(notFound(err, id)));
    return this.get(id);
  }

  /** Runs it now, under its own overlap policy: with `skip`, not while a run is still going. */
  async trigger(id: string): Promise<{ id: string; triggered: true }> {
    const description = await this.describe(id);
    await this.handle(id).trigger(description.policies.overlap);
    return { id, triggered: true };
  }

  async delete(id: string): Promise<void> {
    await this.describe(id, 'delete');
    await this.handle(id).delete().catch((err: unknown) => Promise.reject(notFound(err, id)));
  }

  /** A schedule's run, as its requests describe it, checked now: the repo, the playbook and its parameters. */
  private async scheduledRun(id: string, body: Omit<CreateScheduleBody, 'id' | 'paused' | 'note'>): Promise<ScheduledRun> {
    if (!body.cron && !body.interval) throw badRequest([{ field: 'cron', message: 'required: a cron ("0 6 * * MON") or an interval ("1 day")' }]);
    const resolved = await this.forge.resolveRepository(body.repo, body.baseBranch);
    if ('field' in resolved) throw badRequest([{ field: resolved.field, message: resolved.message }]);
    const prepared = await preparePlaybookRun(this.forge, { repo: resolved.repo, ref: resolved.baseBranch, name: body.playbook, params: body.params });
    if (!prepared.ok) throw badRequest(prepared.issues);
    if (prepared.runs === 'coding-task' && !this.config.model) throw badRequest([{ field: 'model', message: NO_MODEL_MESSAGE }]);
    const { repo: _r, baseBranch: _b, playbook: _p, params: _params, cron, interval, timezone, jitter, catchupWindow, overlap, maxFailures, ...fields } = body;
    return {
      scheduleId: id,
      repo: resolved.repo,
      baseBranch: resolved.baseBranch,
      playbook: body.playbook,
      params: prepared.playbook.params,
      // A scheduled run does not wait for feedback: the schedule waits for its run.
      task: this.tasks.withDefaults({ ...fields, budget: resolveBudget(this.config.defaults.budget, fields), coAuthor: coAuthorOf(fields.requester), awaitFeedbackMinutes: 0 }),
      links: linkBases(this.config),
      maxFailures: maxFailures ?? 3,
      timing: { cron, interval, timezone: timezone ?? 'UTC', jitter: jitter ?? '0 seconds', catchupWindow: catchupWindow ?? '1 hour', overlap: overlap ?? 'skip' },
    };
  }

  private options(run: ScheduledRun): Pick<ScheduleOptions, 'spec' | 'action' | 'policies'> {
    const { timing } = run;
    return {
      spec: {
        ...(timing.cron ? { cronExpressions: [timing.cron] } : { intervals: [{ every: timing.interval as never }] }),
        timezone: timing.timezone,
        jitter: timing.jitter as never,
      },
      action: { type: 'startWorkflow', workflowType: SCHEDULED_PLAYBOOK_WORKFLOW_TYPE, taskQueue: this.config.temporal.taskQueue, workflowId: scheduledRunWorkflowId(run.scheduleId), args: [run] },
      policies: { overlap: OVERLAP[timing.overlap], catchupWindow: timing.catchupWindow as never },
    };
  }

  private runOf(description: ScheduleDescription): ScheduledRun {
    const action = description.action;
    return (action.type === 'startWorkflow' ? action.args?.[0] : undefined) as ScheduledRun;
  }

  private async runView(workflow: { workflowId: string; firstExecutionRunId: string }, scheduledAt: Date, takenAt: Date): Promise<ScheduleRunView> {
    const handle = this.client.workflow.getHandle(workflow.workflowId, undefined, { firstExecutionRunId: workflow.firstExecutionRunId });
    const base = { workflowId: workflow.workflowId, scheduledAt: scheduledAt.toISOString(), startedAt: takenAt.toISOString() };
    const status = await handle.describe().then(
      (d) => d.status.name.toLowerCase(),
      (err: unknown) => (err instanceof WorkflowNotFoundError ? 'unknown' : Promise.reject(err)),
    );
    if (status === 'completed') return { ...base, status, result: await handle.result() };
    if (status === 'failed') return { ...base, status, error: await handle.result().then(() => undefined, (err: unknown) => describeFailure(err)) };
    return { ...base, status };
  }

  /** The API's id of one of Errand's own schedules on this task queue, by its id in Temporal. */
  private systemIdOf(temporalId: string): string | undefined {
    return Object.keys(SYSTEM_SCHEDULES).find((id) => isSystemSchedule(id) && systemScheduleTemporalId(id, this.config.temporal.taskQueue) === temporalId);
  }

  private handle(id: string) {
    return this.client.schedule.getHandle(isSystemSchedule(id) ? systemScheduleTemporalId(id, this.config.temporal.taskQueue) : temporalScheduleId(id));
  }

  /** The schedule's description; 404 when there is none, 409 for a change to Errand's own. */
  private async describe(id: string, change?: 'change' | 'delete'): Promise<ScheduleDescription> {
    if (isSystemSchedule(id) && change) {
      const { title, does, setting } = SYSTEM_SCHEDULES[id];
      throw new ConflictException(`${id} is ${title} (it ${does}) and cannot be ${change === 'delete' ? 'deleted' : 'changed'}; pause it, or set ${setting} (0 turns it off)`);
    }
    const description = await this.handle(id).describe().catch((err: unknown) => Promise.reject(notFound(err, id)));
    if (!isSystemSchedule(id) && (description.memo as ErrandMemo | undefined)?.errand?.taskQueue !== this.config.temporal.taskQueue) throw notFound(new ScheduleNotFoundError('', id), id);
    return description;
  }
}

/** A schedule's run as the request that would make it again, for PATCH to change a field of. */
function asRequest(run: ScheduledRun): Omit<CreateScheduleBody, 'id' | 'paused' | 'note'> {
  const { task, timing } = run;
  return {
    repo: run.repo,
    baseBranch: run.baseBranch || undefined,
    playbook: run.playbook,
    params: run.params,
    ...timing,
    maxFailures: run.maxFailures,
    testCommand: task.testCommand,
    setupScript: task.setupScript,
    network: task.network,
    ...task.budget,
    requester: task.requester,
    maxReviewRounds: task.maxReviewRounds,
    allowedPaths: task.allowedPaths,
    sandboxImage: task.sandboxImage,
  };
}

function notFound(err: unknown, id: string): unknown {
  return err instanceof ScheduleNotFoundError ? scheduleNotFound(id) : err;
}

/** What a caller gets for a schedule that does not exist, or that it may not see (the same, so no oracle). */
export function scheduleNotFound(id: string): NotFoundException {
  return new NotFoundException(`no schedule ${id}; GET /schedules lists them`);
}

/** Temporal refuses a cron or time zone it cannot read with a TypeError: a 400 naming the field. */
function invalidTiming(err: unknown): unknown {
  if (!(err instanceof TypeError)) return err;
  const field = /time ?zone/i.test(err.message) ? 'timezone' : 'cron';
  return badRequest([{ field, message: `Temporal cannot read it: ${err.message}` }]);
}
