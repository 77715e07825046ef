// GET /admission: the running-task limits at work, the queue in order and today's spending by
// requester (admin: it spans every repository and requester).
import { Controller, Get, Inject } from '@nestjs/common';
import { z } from 'zod';
import { Answers } from '../openapi/document.js';
import { AdmissionService } from './admission.service.js';

const Admission = z
  .object({
    active: z.boolean(),
    maxRunning: z.number().optional(),
    running: z.array(z.object({ taskId: z.string(), repo: z.string(), since: z.string() })),
    queued: z.array(z.object({ taskId: z.string(), repo: z.string(), position: z.number(), since: z.string(), waitingFor: z.string() })),
    spent: z.object({ day: z.string(), byRequester: z.record(z.string(), z.number()) }).optional(),
  })
  .meta({ id: 'Admission' });

@Controller('admission')
export class AdmissionController {
  constructor(@Inject(AdmissionService) private readonly admission: AdmissionService) {}

  @Get()
  @Answers({ scope: 'admin', summary: 'Running tasks, the queue in order, and what each requester spent today', ok: { description: 'admission now', schema: Admission } })
  async get() {
    const view = await this.admission.view();
    return { active: this.admission.active, running: [], queued: [], ...view };
  }
}
