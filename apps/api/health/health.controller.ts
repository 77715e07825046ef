// Liveness (the process answers) and readiness (Temporal answers) for probes and `errand dev`.
import { Controller, Get, Inject, ServiceUnavailableException } from '@nestjs/common';
import type { Client } from '@temporalio/client';
import { TEMPORAL_CLIENT } from '../tokens.js';
import { Answers } from '../openapi/document.js';
import { Health } from '../openapi/responses.js';

@Controller('health')
export class HealthController {
  constructor(@Inject(TEMPORAL_CLIENT) private readonly client: Client) {}

  @Get('live')
  @Answers({ summary: 'Liveness: the process answers', ok: { description: 'alive', schema: Health }, open: true })
  live() {
    return { status: 'ok' };
  }

  @Get('ready')
  @Answers({ summary: 'Readiness: Temporal answers', ok: { description: 'ready', schema: Health }, open: true })
  async ready() {
    try {
      await this.client.workflowService.getSystemInfo({});
      return { status: 'ok', temporal: 'ok' };
    } catch (err) {
      throw new ServiceUnavailableException(`Temporal is not reachable: ${(err as Error).message}`);
    }
  }
}
