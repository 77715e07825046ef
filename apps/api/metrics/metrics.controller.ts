// GET /metrics: the API's Prometheus metrics (api-metrics.ts). Guarded like every route when
// API tokens are set (Prometheus sends one with `authorization` in its scrape config).
import { Controller, Get, Inject, Res } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import { z } from 'zod';
import { Answers } from '../openapi/document.js';
import { METRICS } from '../tokens.js';
import type { ApiMetrics } from './api-metrics.js';

@Controller('metrics')
export class MetricsController {
  constructor(@Inject(METRICS) private readonly metrics: ApiMetrics) {}

  @Get()
  @Answers({ scope: 'tasks:read', summary: 'Prometheus metrics of this API', ok: { description: 'the text exposition format', schema: z.string(), contentType: 'text/plain' } })
  async scrape(@Res({ passthrough: true }) res: ServerResponse): Promise<string> {
    const text = await this.metrics.registry.metrics();
    res.setHeader('content-type', this.metrics.registry.contentType);
    return text;
  }
}
