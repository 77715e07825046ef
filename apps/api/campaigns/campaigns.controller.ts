// HTTP routes for campaigns: one request across many repositories, a task each; thin: validate,
// hand to the service.
import type { ServerResponse } from 'node:http';
import { Body, Controller, Get, Headers, HttpCode, Inject, Param, Post, Query, Res } from '@nestjs/common';
import { z } from 'zod';
import { Caller } from '../auth/api-token.guard.js';
import { Answers } from '../openapi/document.js';
import { CampaignList, CampaignView, OVER_DAILY_BUDGET, TaskChange } from '../openapi/responses.js';
import { ActorBody, actorOf, IdempotencyKey, ZodPipe } from '../tasks/task-request.js';
import { CampaignIdParam, CreateCampaignBody, ListCampaignsQuery } from './campaign-request.js';
import { CampaignsService } from './campaigns.service.js';


@Controller('campaigns')
export class CampaignsController {
  constructor(@Inject(CampaignsService) private readonly campaigns: CampaignsService) {}

  // A campaign spans many repositories: a token limited to some is refused (repoFrom is empty).
  @Post()
  @HttpCode(201)
  @Answers({
    audit: 'campaign.create',
    scope: 'tasks:write',
    summary: 'Start a campaign: one task per repository',
    description: 'Every repository is resolved by the forge (and the playbook checked on each) before anything starts; a 400 names each one that cannot. With an Idempotency-Key the same key from the same requester always names the same campaign.',
    ok: { description: 'the campaign, started (or the one this key started before)', schema: CampaignView },
    headers: z.object({ 'idempotency-key': IdempotencyKey }),
    problems: { 422: 'this requester used this Idempotency-Key for a different request', 429: OVER_DAILY_BUDGET },
  })
  async create(@Body(new ZodPipe(CreateCampaignBody)) body: CreateCampaignBody, @Headers('idempotency-key') rawKey: string | undefined, @Res({ passthrough: true }) res: ServerResponse, @Caller() caller: string | undefined) {
    const idempotencyKey = new ZodPipe(IdempotencyKey, 'Idempotency-Key').transform(rawKey);
    const campaign = await this.campaigns.create(caller ? { ...body, requester: caller } : body, idempotencyKey);
    if (campaign.replayed) res.setHeader('idempotent-replayed', 'true');
    return campaign;
  }

  @Get()
  @Answers({ scope: 'tasks:read', summary: 'Campaigns, newest first', ok: { description: 'the campaigns', schema: CampaignList } })
  list(@Query(new ZodPipe(ListCampaignsQuery, 'query')) query: ListCampaignsQuery) {
    return this.campaigns.list(query);
  }

  @Get(':id')
  @Answers({ scope: 'tasks:read', summary: 'A campaign: a row per repository with its task and PR', ok: { description: 'the campaign', schema: CampaignView } })
  get(@Param('id', new ZodPipe(CampaignIdParam, 'id')) id: string) {
    return this.campaigns.get(id);
  }

  @Post(':id/pause')
  @HttpCode(202)
  @Answers({ audit: 'campaign.pause', scope: 'tasks:control', summary: 'Pause: no more tasks are started (running ones go on)', ok: { description: 'pausing', schema: TaskChange }, problems: { 409: 'the campaign has already ended' } })
  pause(@Param('id', new ZodPipe(CampaignIdParam, 'id')) id: string, @Body(new ZodPipe(ActorBody)) body: ActorBody, @Caller() caller: string | undefined) {
    return this.campaigns.pause(id, actorOf(caller, body));
  }

  @Post(':id/resume')
  @HttpCode(202)
  @Answers({ audit: 'campaign.resume', scope: 'tasks:control', summary: 'Resume starting tasks', ok: { description: 'resuming', schema: TaskChange }, problems: { 409: 'the campaign has already ended' } })
  resume(@Param('id', new ZodPipe(CampaignIdParam, 'id')) id: string, @Body(new ZodPipe(ActorBody)) body: ActorBody, @Caller() caller: string | undefined) {
    return this.campaigns.resume(id, actorOf(caller, body));
  }

  @Post(':id/cancel')
  @HttpCode(202)
  @Answers({ audit: 'campaign.cancel', scope: 'tasks:control', summary: 'Cancel the campaign and its running tasks; no more are started', ok: { description: 'cancelling', schema: TaskChange }, problems: { 409: 'the campaign has already ended' } })
  cancel(@Param('id', new ZodPipe(CampaignIdParam, 'id')) id: string, @Body(new ZodPipe(ActorBody)) body: ActorBody, @Caller() caller: string | undefined) {
    return this.campaigns.cancel(id, actorOf(caller, body));
  }
}
