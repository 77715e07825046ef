// HTTP routes for schedules; thin: validate, hand to the service.
import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Patch, Post } from '@nestjs/common';
import { ZodPipe } from '../tasks/task-request.js';
import { CreateScheduleBody, NoteBody, ScheduleIdParam, UpdateScheduleBody } from './schedule-request.js';
import { SchedulesService } from './schedules.service.js';
import { z } from 'zod';
import { Answers } from '../openapi/document.js';
import { Caller, Visible } from '../auth/api-token.guard.js';
import { ScheduleList, ScheduleView } from '../openapi/responses.js';

const IdPipe = () => new ZodPipe(ScheduleIdParam, 'id');

@Controller('schedules')
export class SchedulesController {
  constructor(@Inject(SchedulesService) private readonly schedules: SchedulesService) {}

  @Post()
  @HttpCode(201)
  @Answers({ audit: 'schedule.create', scope: 'schedules:write', repoFrom: ['body'], summary: 'Schedule a playbook', ok: { description: 'the schedule', schema: ScheduleView }, problems: { 409: 'a schedule with this id exists' } })
  create(@Body(new ZodPipe(CreateScheduleBody)) body: CreateScheduleBody, @Caller() caller: string | undefined) {
    // With tokens, the requester of the schedule's runs is the token's name, not what the body claims.
    return this.schedules.create(caller ? { ...body, requester: caller } : body);
  }

  @Get()
  @Answers({ scope: 'tasks:read', repoFrom: ['list'], summary: 'Every schedule, the sandbox reaper too', ok: { description: 'the schedules', schema: ScheduleList } })
  list(@Visible() visible: (repo: string | undefined) => boolean) {
    return this.schedules.list(visible);
  }

  @Get(':id')
  @Answers({ scope: 'tasks:read', repoFrom: ['schedule'], summary: 'A schedule, its next and recent runs', ok: { description: 'the schedule', schema: ScheduleView } })
  get(@Param('id', IdPipe()) id: string) {
    return this.schedules.get(id);
  }

  @Patch(':id')
  @Answers({ audit: 'schedule.update', scope: 'schedules:write', repoFrom: ['schedule', 'body'], summary: 'Change a schedule', ok: { description: 'the schedule', schema: ScheduleView }, problems: { 409: "Errand's own schedules cannot be changed" } })
  update(@Param('id', IdPipe()) id: string, @Body(new ZodPipe(UpdateScheduleBody)) body: UpdateScheduleBody, @Caller() caller: string | undefined) {
    return this.schedules.update(id, caller && body.requester !== undefined ? { ...body, requester: caller } : body);
  }

  @Post(':id/pause')
  @HttpCode(200)
  @Answers({ audit: 'schedule.pause', scope: 'schedules:write', repoFrom: ['schedule'], summary: 'Pause a schedule, with a note', ok: { description: 'the schedule', schema: ScheduleView } })
  pause(@Param('id', IdPipe()) id: string, @Body(new ZodPipe(NoteBody)) body: NoteBody, @Caller() caller: string | undefined) {
    return this.schedules.pause(id, caller ? { ...body, by: caller } : body);
  }

  @Post(':id/unpause')
  @HttpCode(200)
  @Answers({ audit: 'schedule.unpause', scope: 'schedules:write', repoFrom: ['schedule'], summary: 'Unpause a schedule, with a note', ok: { description: 'the schedule', schema: ScheduleView } })
  unpause(@Param('id', IdPipe()) id: string, @Body(new ZodPipe(NoteBody)) body: NoteBody, @Caller() caller: string | undefined) {
    return this.schedules.unpause(id, caller ? { ...body, by: caller } : body);
  }

  /** Runs it now (under its overlap policy). */
  @Post(':id/trigger')
  @HttpCode(202)
  @Answers({ audit: 'schedule.trigger', scope: 'schedules:write', repoFrom: ['schedule'], summary: 'Run it now (under its overlap policy)', ok: { description: 'triggered', schema: z.object({ id: z.string(), triggered: z.literal(true) }) } })
  trigger(@Param('id', IdPipe()) id: string) {
    return this.schedules.trigger(id);
  }

  @Delete(':id')
  @HttpCode(204)
  @Answers({ audit: 'schedule.delete', scope: 'schedules:write', repoFrom: ['schedule'], summary: 'Delete a schedule (its runs so far stay)', ok: { description: 'deleted' }, problems: { 409: "Errand's own schedules cannot be deleted" } })
  async delete(@Param('id', IdPipe()) id: string) {
    await this.schedules.delete(id);
  }
}
