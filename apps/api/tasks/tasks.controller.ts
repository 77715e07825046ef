// HTTP routes for tasks; thin: validate, hand to the provider for the job (starting, reading,
// control, artifacts).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Body, Controller, Get, Headers, HttpCode, Inject, Param, Post, Query, Req, Res } from '@nestjs/common';
import { TaskArtifacts } from './task-artifacts.js';
import { TaskControl } from './task-control.js';
import { TaskReading } from './task-reading.js';
import { TaskStarting } from './task-starting.js';
import { ActorBody, actorOf, AttemptParam, CreateTaskBody, IdempotencyKey, ListTasksQuery, LogName, MessageBody, TaskIdParam, ZodPipe } from './task-request.js';
import { z } from 'zod';
import { Answers } from '../openapi/document.js';
import { Caller, Visible } from '../auth/api-token.guard.js';
import { OVER_DAILY_BUDGET, TaskChange, TaskList, TaskView, Text, Transcript } from '../openapi/responses.js';

@Controller('tasks')
export class TasksController {
  constructor(
    @Inject(TaskStarting) private readonly starting: TaskStarting,
    @Inject(TaskReading) private readonly reading: TaskReading,
    @Inject(TaskControl) private readonly control: TaskControl,
    @Inject(TaskArtifacts) private readonly artifacts: TaskArtifacts,
  ) {}

  /** With an Idempotency-Key header, a retried request returns the task the first one started (the same requester's). */
  @Post()
  @HttpCode(201)
  @Answers({
    audit: 'task.create',
    scope: 'tasks:write',
    repoFrom: ['body'],
    summary: 'Start a task (or a playbook run)',
    description:
      "With an Idempotency-Key the same key from the same requester (the token; without tokens, the body's requester) always names the same task: a repeat answers 201 with header Idempotent-Replayed: true. Another requester's same key is a key of its own.",
    ok: { description: 'the task, started (or the one this key started before)', schema: TaskView },
    headers: z.object({ 'idempotency-key': IdempotencyKey }),
    problems: { 422: 'this requester used this Idempotency-Key for a different request', 429: OVER_DAILY_BUDGET },
  })
  async create(
    @Body(new ZodPipe(CreateTaskBody)) body: CreateTaskBody,
    @Headers('idempotency-key') rawKey: string | undefined,
    @Res({ passthrough: true }) res: ServerResponse,
    @Caller() caller: string | undefined,
  ) {
    // Headers take no pipes in Nest; the same pipe validates it by hand.
    const idempotencyKey = new ZodPipe(IdempotencyKey, 'Idempotency-Key').transform(rawKey);
    // With tokens, the requester is the token's name, not what the body claims.
    const task = await this.starting.create(caller ? { ...body, requester: caller } : body, idempotencyKey);
    if (task.replayed) res.setHeader('idempotent-replayed', 'true');
    return task;
  }

  @Get()
  @Answers({ scope: 'tasks:read', repoFrom: ['list'], summary: 'Tasks from Temporal visibility, newest first', ok: { description: 'the tasks', schema: TaskList } })
  list(@Query(new ZodPipe(ListTasksQuery, 'query')) query: ListTasksQuery, @Visible() visible: (repo: string | undefined) => boolean) {
    return this.reading.list(query, visible);
  }

  @Get(':id')
  @Answers({ scope: 'tasks:read', repoFrom: ['task'], summary: "A task's live state", ok: { description: 'the task', schema: TaskView } })
  get(@Param('id', new ZodPipe(TaskIdParam, 'id')) id: string) {
    return this.reading.get(id);
  }

  @Get(':id/transcript')
  @Answers({ scope: 'tasks:read', repoFrom: ['task'], summary: "The agent's conversation, redacted", ok: { description: 'the transcript', schema: Transcript } })
  transcript(@Param('id', new ZodPipe(TaskIdParam, 'id')) id: string) {
    return this.artifacts.transcript(id);
  }

  /** The full log of the task's tests or setup script, as plain text. */
  @Get(':id/logs/:name')
  @Answers({ scope: 'tasks:read', repoFrom: ['task'], summary: 'The full test or setup log, as text', ok: { description: 'the log', schema: Text, contentType: 'text/plain' } })
  async log(@Param('id', new ZodPipe(TaskIdParam, 'id')) id: string, @Param('name', new ZodPipe(LogName, 'name')) name: LogName, @Res({ passthrough: true }) res: ServerResponse) {
    const log = await this.artifacts.log(id, name);
    // Only for the log itself: a 404 stays JSON, like every other error.
    res.setHeader('content-type', 'text/plain; charset=utf-8');
    return log;
  }

  /** The published change as a unified diff, as plain text. */
  @Get(':id/diff')
  @Answers({ scope: 'tasks:read', repoFrom: ['task'], summary: 'The change the task published, as a unified diff', ok: { description: 'the diff', schema: Text, contentType: 'text/x-diff' } })
  async diff(@Param('id', new ZodPipe(TaskIdParam, 'id')) id: string, @Res({ passthrough: true }) res: ServerResponse) {
    const diff = await this.artifacts.diff(id);
    res.setHeader('content-type', 'text/x-diff; charset=utf-8');
    return diff;
  }

  /** One attempt's change, as a unified diff: the attempt chosen and the others alike. */
  @Get(':id/attempts/:n/diff')
  @Answers({ scope: 'tasks:read', repoFrom: ['task'], summary: "An attempt's change, as a unified diff", ok: { description: 'the diff', schema: Text, contentType: 'text/x-diff' }, problems: { 404: 'the task has no such attempt, or it published no change' } })
  async attemptDiff(@Param('id', new ZodPipe(TaskIdParam, 'id')) id: string, @Param('n', new ZodPipe(AttemptParam, 'n')) n: number, @Res({ passthrough: true }) res: ServerResponse) {
    const { attempt } = await this.control.attempt(id, n);
    const diff = await this.artifacts.diff(attempt.taskId);
    res.setHeader('content-type', 'text/x-diff; charset=utf-8');
    return diff;
  }

  /** A person prefers another attempt: its PR is opened (Errand's choice keeps its own). */
  @Post(':id/attempts/:n/promote')
  @HttpCode(201)
  @Answers({
    audit: 'task.promote',
    scope: 'tasks:control',
    repoFrom: ['task'],
    summary: 'Open the PR of an attempt Errand did not choose',
    description: 'Once the task has chosen. Asked again for the same attempt, the same PR.',
    ok: { description: 'the PR opened for the attempt', schema: TaskChange },
    problems: { 404: 'the task has no such attempt', 409: 'the task is still running, the attempt is the chosen one, or it has no change', 422: 'the forge refused the PR' },
  })
  promote(@Param('id', new ZodPipe(TaskIdParam, 'id')) id: string, @Param('n', new ZodPipe(AttemptParam, 'n')) n: number, @Body(new ZodPipe(ActorBody)) body: ActorBody, @Caller() caller: string | undefined) {
    return this.control.promote(id, n, actorOf(caller, body));
  }

  /** Server-sent events: the whole log first, then live until the task ends (Last-Event-ID resumes). */
  @Get(':id/events')
  @Answers({ scope: 'tasks:read', repoFrom: ['task'], summary: "The task's events as server-sent events, live until it ends", ok: { description: 'an event stream (Last-Event-ID resumes)', schema: Text, contentType: 'text/event-stream' } })
  events(@Param('id', new ZodPipe(TaskIdParam, 'id')) id: string, @Req() req: IncomingMessage, @Res() res: ServerResponse) {
    return this.artifacts.streamEvents(id, req, res);
  }

  @Post(':id/cancel')
  @HttpCode(202)
  @Answers({ audit: 'task.cancel', scope: 'tasks:control', repoFrom: ['task'], summary: 'Cancel: the work so far is pushed, the sandbox destroyed', ok: { description: 'cancelling', schema: TaskChange }, problems: { 409: 'the task has already ended' } })
  cancel(@Param('id', new ZodPipe(TaskIdParam, 'id')) id: string, @Body(new ZodPipe(ActorBody)) body: ActorBody, @Caller() caller: string | undefined) {
    return this.control.cancel(id, actorOf(caller, body));
  }

  @Post(':id/pause')
  @HttpCode(202)
  @Answers({ audit: 'task.pause', scope: 'tasks:control', repoFrom: ['task'], summary: 'Pause between steps (the sandbox is kept)', ok: { description: 'pausing', schema: TaskChange }, problems: { 409: 'the task has already ended' } })
  pause(@Param('id', new ZodPipe(TaskIdParam, 'id')) id: string, @Body(new ZodPipe(ActorBody)) body: ActorBody, @Caller() caller: string | undefined) {
    return this.control.pause(id, actorOf(caller, body));
  }

  @Post(':id/resume')
  @HttpCode(202)
  @Answers({ audit: 'task.resume', scope: 'tasks:control', repoFrom: ['task'], summary: 'Resume a paused task', ok: { description: 'resuming', schema: TaskChange }, problems: { 409: 'the task has already ended' } })
  resume(@Param('id', new ZodPipe(TaskIdParam, 'id')) id: string, @Body(new ZodPipe(ActorBody)) body: ActorBody, @Caller() caller: string | undefined) {
    return this.control.resume(id, actorOf(caller, body));
  }

  /** Answers once the task has accepted the message (a Temporal update); 409 when it no longer can. */
  @Post(':id/messages')
  @HttpCode(202)
  @Answers({ audit: 'task.message', scope: 'tasks:control', repoFrom: ['task'], summary: 'Steer: a message the agent reads before its next model call', ok: { description: 'accepted by the task', schema: TaskChange }, problems: { 409: 'the task can no longer take messages' } })
  message(@Param('id', new ZodPipe(TaskIdParam, 'id')) id: string, @Body(new ZodPipe(MessageBody)) body: MessageBody, @Caller() caller: string | undefined) {
    return this.control.sendMessage(id, caller ? { ...body, from: caller } : body);
  }

  @Post(':id/approve')
  @HttpCode(200)
  @Answers({ audit: 'task.approve', scope: 'tasks:control', repoFrom: ['task'], summary: "Approve the task's plan", ok: { description: 'approved', schema: TaskChange }, problems: { 409: 'the task is not awaiting approval' } })
  approve(@Param('id', new ZodPipe(TaskIdParam, 'id')) id: string, @Body(new ZodPipe(ActorBody)) body: ActorBody, @Caller() caller: string | undefined) {
    return this.control.approve(id, actorOf(caller, body));
  }
}

