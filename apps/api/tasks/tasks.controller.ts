// HTTP routes for tasks; thin: validate, hand to the service.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Body, Controller, Get, Headers, HttpCode, Inject, Param, Post, Query, Req, Res } from '@nestjs/common';
import { TasksService } from './tasks.service.js';
import { ActorBody, CreateTaskBody, IdempotencyKey, ListTasksQuery, LogName, MessageBody, TaskIdParam, ZodPipe } from './task-request.js';

@Controller('tasks')
export class TasksController {
  constructor(@Inject(TasksService) private readonly tasks: TasksService) {}

  /** With an Idempotency-Key header, a retried request returns the task the first one started. */
  @Post()
  @HttpCode(201)
  async create(
    @Body(new ZodPipe(CreateTaskBody)) body: CreateTaskBody,
    @Headers('idempotency-key') rawKey: string | undefined,
    @Res({ passthrough: true }) res: ServerResponse,
  ) {
    // Headers take no pipes in Nest; the same pipe validates it by hand.
    const idempotencyKey = new ZodPipe(IdempotencyKey, 'Idempotency-Key').transform(rawKey);
    const task = await this.tasks.create(body, idempotencyKey);
    if (task.replayed) res.setHeader('idempotent-replayed', 'true');
    return task;
  }

  @Get()
  list(@Query(new ZodPipe(ListTasksQuery, 'query')) query: ListTasksQuery) {
    return this.tasks.list(query);
  }

  @Get(':id')
  get(@Param('id', new ZodPipe(TaskIdParam, 'id')) id: string) {
    return this.tasks.get(id);
  }

  @Get(':id/transcript')
  transcript(@Param('id', new ZodPipe(TaskIdParam, 'id')) id: string) {
    return this.tasks.transcript(id);
  }

  /** The full log of the task's tests or setup script, as plain text. */
  @Get(':id/logs/:name')
  async log(@Param('id', new ZodPipe(TaskIdParam, 'id')) id: string, @Param('name', new ZodPipe(LogName, 'name')) name: LogName, @Res({ passthrough: true }) res: ServerResponse) {
    const log = await this.tasks.log(id, name);
    // Only for the log itself: a 404 stays JSON, like every other error.
    res.setHeader('content-type', 'text/plain; charset=utf-8');
    return log;
  }

  /** Server-sent events: the whole log first, then live until the task ends (Last-Event-ID resumes). */
  @Get(':id/events')
  events(@Param('id', new ZodPipe(TaskIdParam, 'id')) id: string, @Req() req: IncomingMessage, @Res() res: ServerResponse) {
    return this.tasks.streamEvents(id, req, res);
  }

  @Post(':id/cancel')
  @HttpCode(202)
  cancel(@Param('id', new ZodPipe(TaskIdParam, 'id')) id: string, @Body(new ZodPipe(ActorBody)) body: ActorBody) {
    return this.tasks.cancel(id, body.by);
  }

  @Post(':id/pause')
  @HttpCode(202)
  pause(@Param('id', new ZodPipe(TaskIdParam, 'id')) id: string, @Body(new ZodPipe(ActorBody)) body: ActorBody) {
    return this.tasks.pause(id, body.by);
  }

  @Post(':id/resume')
  @HttpCode(202)
  resume(@Param('id', new ZodPipe(TaskIdParam, 'id')) id: string, @Body(new ZodPipe(ActorBody)) body: ActorBody) {
    return this.tasks.resume(id, body.by);
  }

  /** Answers once the task has accepted the message (a Temporal update); 409 when it no longer can. */
  @Post(':id/messages')
  @HttpCode(202)
  message(@Param('id', new ZodPipe(TaskIdParam, 'id')) id: string, @Body(new ZodPipe(MessageBody)) body: MessageBody) {
    return this.tasks.sendMessage(id, body);
  }

  @Post(':id/approve')
  @HttpCode(200)
  approve(@Param('id', new ZodPipe(TaskIdParam, 'id')) id: string, @Body(new ZodPipe(ActorBody)) body: ActorBody) {
    return this.tasks.approve(id, body.by);
  }
}
