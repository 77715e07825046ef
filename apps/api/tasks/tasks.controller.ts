// HTTP routes for tasks; thin: validate, hand to the service.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Body, Controller, Get, HttpCode, Inject, Param, Post, Query, Req, Res } from '@nestjs/common';
import { TasksService } from './tasks.service.js';
import { CreateTaskBody, ListTasksQuery, TaskIdParam, ZodPipe } from './task-request.js';

@Controller('tasks')
export class TasksController {
  constructor(@Inject(TasksService) private readonly tasks: TasksService) {}

  @Post()
  @HttpCode(201)
  create(@Body(new ZodPipe(CreateTaskBody)) body: CreateTaskBody) {
    return this.tasks.create(body);
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

  /** Server-sent events: the whole log first, then live until the task ends (Last-Event-ID resumes). */
  @Get(':id/events')
  events(@Param('id', new ZodPipe(TaskIdParam, 'id')) id: string, @Req() req: IncomingMessage, @Res() res: ServerResponse) {
    return this.tasks.streamEvents(id, req, res);
  }

  @Post(':id/cancel')
  @HttpCode(202)
  cancel(@Param('id', new ZodPipe(TaskIdParam, 'id')) id: string) {
    return this.tasks.cancel(id);
  }
}
