// HTTP routes for schedules; thin: validate, hand to the service.
import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Patch, Post } from '@nestjs/common';
import { ZodPipe } from '../tasks/task-request.js';
import { CreateScheduleBody, NoteBody, ScheduleIdParam, UpdateScheduleBody } from './schedule-request.js';
import { SchedulesService } from './schedules.service.js';

const IdPipe = () => new ZodPipe(ScheduleIdParam, 'id');

@Controller('schedules')
export class SchedulesController {
  constructor(@Inject(SchedulesService) private readonly schedules: SchedulesService) {}

  @Post()
  @HttpCode(201)
  create(@Body(new ZodPipe(CreateScheduleBody)) body: CreateScheduleBody) {
    return this.schedules.create(body);
  }

  @Get()
  list() {
    return this.schedules.list();
  }

  @Get(':id')
  get(@Param('id', IdPipe()) id: string) {
    return this.schedules.get(id);
  }

  @Patch(':id')
  update(@Param('id', IdPipe()) id: string, @Body(new ZodPipe(UpdateScheduleBody)) body: UpdateScheduleBody) {
    return this.schedules.update(id, body);
  }

  @Post(':id/pause')
  @HttpCode(200)
  pause(@Param('id', IdPipe()) id: string, @Body(new ZodPipe(NoteBody)) body: NoteBody) {
    return this.schedules.pause(id, body);
  }

  @Post(':id/unpause')
  @HttpCode(200)
  unpause(@Param('id', IdPipe()) id: string, @Body(new ZodPipe(NoteBody)) body: NoteBody) {
    return this.schedules.unpause(id, body);
  }

  /** Runs it now (under its overlap policy). */
  @Post(':id/trigger')
  @HttpCode(202)
  trigger(@Param('id', IdPipe()) id: string) {
    return this.schedules.trigger(id);
  }

  @Delete(':id')
  @HttpCode(204)
  async delete(@Param('id', IdPipe()) id: string) {
    await this.schedules.delete(id);
  }
}
