// Liveness (the process answers) and readiness (Temporal answers) for probes and `errand dev`.
import { Controller, Get, Inject, ServiceUnavailableException } from '@nestjs/common';
import type { Client } from '@temporalio/client';
import { TEMPORAL_CLIENT } from '../tokens.js';

@Controller('health')
export class HealthController {
  constructor(@Inject(TEMPORAL_CLIENT) private readonly client: Client) {}

  @Get('live')
  live() {
    return { status: 'ok' };
  }

  @Get('ready')
  async ready() {
    try {
      await this.client.workflowService.getSystemInfo({});
      return { status: 'ok', temporal: 'ok' };
    } catch (err) {
      throw new ServiceUnavailableException(`Temporal is not reachable: ${(err as Error).message}`);
    }
  }
}
