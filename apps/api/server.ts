// Builds and starts the NestJS API around an existing Temporal client.
import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_INTERCEPTOR, NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { Client } from '@temporalio/client';
import type { Storage } from '../../lib/storage/storage.js';
import { stateDirs, type Config } from '../config.js';
import type { Logger } from '../logger.js';
import { ApiTokenGuard } from './auth/api-token.guard.js';
import { JSON_BODY_LIMIT, ProblemDetailsFilter } from './problems/problem-details.js';
import { ProblemTypesController } from './problems/problem-types.controller.js';
import { HealthController } from './health/health.controller.js';
import { PlaybooksController } from './playbooks/playbooks.controller.js';
import { SchedulesController } from './schedules/schedules.controller.js';
import { SchedulesService } from './schedules/schedules.service.js';
import { TasksController } from './tasks/tasks.controller.js';
import { CampaignsController } from './campaigns/campaigns.controller.js';
import { CampaignsService } from './campaigns/campaigns.service.js';
import { TaskArtifacts } from './tasks/task-artifacts.js';
import { TaskControl } from './tasks/task-control.js';
import { TaskGateway } from './tasks/task-gateway.js';
import { TaskReading } from './tasks/task-reading.js';
import { TaskStarting } from './tasks/task-starting.js';
import { AdmissionController } from './admission/admission.controller.js';
import { WhoamiController } from './auth/whoami.controller.js';
import { ConsoleController } from './console/console.controller.js';
import { AdmissionService } from './admission/admission.service.js';
import { forgeFromConfig, openStorage } from '../providers.js';
import { AUDIT, CONFIG, FORGE, LOGGER, METRICS, OPENAPI, STORAGE, TEMPORAL_CLIENT } from './tokens.js';
import { AuditController } from './audit/audit.controller.js';
import { ReposController } from './repos/repos.controller.js';
import { AuditInterceptor } from './audit/audit.interceptor.js';
import { AuditLog } from './audit/audit-log.js';
import { ApiMetrics } from './metrics/api-metrics.js';
import { MetricsController } from './metrics/metrics.controller.js';
import { openApiDocument } from './openapi/document.js';
import { OpenApiController } from './openapi/openapi.controller.js';
import { GitHubWebhooksController } from './webhooks/github-webhooks.controller.js';
import { GitHubWebhooksService } from './webhooks/github-webhooks.service.js';
import { LinearController } from './linear/linear.controller.js';
import { LinearService } from './linear/linear.service.js';
import { SlackController } from './slack/slack.controller.js';
import { SlackService } from './slack/slack.service.js';
import { requestSpans, type Tracing } from '../tracing.js';

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** Every controller of the API: Nest routes them, and the OpenAPI document describes them. */
export const CONTROLLERS = [TasksController, CampaignsController, PlaybooksController, SchedulesController, HealthController, GitHubWebhooksController, SlackController, LinearController, ProblemTypesController, OpenApiController, MetricsController, AuditController, AdmissionController, WhoamiController, ReposController, ConsoleController];

@Module({})
class ApiModule {
  static forRoot(config: Config, client: Client, log: Logger, storage: Storage, audit: AuditLog): DynamicModule {
    return {
      module: ApiModule,
      controllers: CONTROLLERS,
      providers: [
        { provide: CONFIG, useValue: config },
        { provide: TEMPORAL_CLIENT, useValue: client },
        { provide: LOGGER, useValue: log },
        { provide: METRICS, useValue: new ApiMetrics(client) },
        { provide: AUDIT, useValue: audit },
        { provide: APP_INTERCEPTOR, useClass: AuditInterceptor },
        { provide: STORAGE, useValue: storage },
        { provide: FORGE, useValue: forgeFromConfig(config) },
        { provide: APP_GUARD, useClass: ApiTokenGuard },
        // Built at the first request for it (the server's URL is known by then).
        { provide: OPENAPI, useValue: lazy(() => openApiDocument(CONTROLLERS, { version: VERSION, serverUrl: config.api.publicUrl, guarded: config.apiTokens.length > 0 })) },
        { provide: APP_FILTER, useClass: ProblemDetailsFilter },
        TaskGateway,
        TaskStarting,
        TaskReading,
        TaskControl,
        TaskArtifacts,
        CampaignsService,
        AdmissionService,
        SchedulesService,
        GitHubWebhooksService,
        SlackService,
        LinearService,
      ],
    };
  }
}

export interface RunningApi {
  url: string;
  close(): Promise<void>;
}

/** `tracing`: a span per request (apps/tracing.ts); give `client` its interceptors too. */
export async function startApi(config: Config, client: Client, log: Logger, tracing?: Tracing): Promise<RunningApi> {
  const storage = await openStorage(config);
  const audit = new AuditLog(storage.logs, log);
  await audit.adopt(stateDirs(config).legacyAudit);
  const app = await NestFactory.create<NestExpressApplication>(ApiModule.forRoot(config, client, log, storage, audit), {
    logger: {
      log: (msg: unknown) => log.debug({ nest: true }, String(msg)),
      error: (msg: unknown, trace?: unknown) => log.error({ nest: true, trace }, String(msg)),
      warn: (msg: unknown) => log.warn({ nest: true }, String(msg)),
      debug: () => undefined,
      verbose: () => undefined,
    },
    bodyParser: false,
  });
  // Nothing about what serves it: the framework's banner helps only an attacker.
  app.disable('x-powered-by');
  if (tracing) app.use(requestSpans(tracing));
  // Every request's latency, by the route template it matched (never the path, which has ids).
  const { requests } = app.get<ApiMetrics>(METRICS);
  app.use((req: IncomingMessage & { route?: { path?: string } }, res: ServerResponse, next: () => void) => {
    const started = performance.now();
    res.once('finish', () => requests.observe({ method: req.method ?? '', route: req.route?.path ?? 'unmatched', status: String(res.statusCode) }, (performance.now() - started) / 1000));
    next();
  });
  // Webhook bodies stay raw: their signature is checked on the exact bytes before parsing. They
  // are bounded like every other body (GitHub's events that Errand acts on are far smaller).
  app.useBodyParser('json', { limit: JSON_BODY_LIMIT, type: (req: IncomingMessage) => !req.url?.startsWith('/webhooks/') && /\bjson\b/.test(String(req.headers['content-type'] ?? '')) });
  app.useBodyParser('raw', { limit: JSON_BODY_LIMIT, type: (req: IncomingMessage) => Boolean(req.url?.startsWith('/webhooks/')) });
  await app.listen(config.api.port, config.api.host);
  const address = app.getHttpServer().address() as { port: number };
  const url = config.api.publicUrl ?? `http://${config.api.host === '0.0.0.0' ? 'localhost' : config.api.host}:${address.port}`;
  // Links in PR bodies and issue comments need the real address, port 0 included.
  config.api.publicUrl ??= url;
  log.info({ url }, 'api listening');
  return { url, close: () => app.close() };
}

function lazy<T>(make: () => T): () => T {
  let made: { value: T } | undefined;
  return () => (made ??= { value: make() }).value;
}
