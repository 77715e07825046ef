// Campaigns for the API: a request checked (every repository resolved by the forge, the playbook
// able to run on each) and started as one workflow, which starts the tasks; read, listed, paused,
// resumed and cancelled through Temporal. The campaign's workflow decides what each means.
import { createHash, randomUUID } from 'node:crypto';
import { ConflictException, Inject, Injectable, NotFoundException, ServiceUnavailableException, UnprocessableEntityException } from '@nestjs/common';
import { Client, WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type WorkflowExecutionDescription, type WorkflowHandle } from '@temporalio/client';
import { ErrandFailure } from '../../../lib/failures/errand-failure.js';
import type { Forge, PullRequestState } from '../../../lib/forge/forge.js';
import { preparePlaybookRun } from '../../../lib/playbooks/catalog.js';
import type { CampaignInput, CampaignResult, CampaignRow, CampaignState } from '../../../workflows/contracts/campaign.js';
import { campaignQuery, campaignTaskId } from '../../../workflows/contracts/campaign.js';
import { cancelRequestedSignal, pauseSignal, resumeSignal } from '../../../workflows/contracts/control.js';
import { ErrandRequester } from '../../../workflows/contracts/search-attributes.js';
import { CAMPAIGN_WORKFLOW_TYPE, campaignIdOfWorkflow, campaignWorkflowId } from '../../../workflows/names.js';
import type { Config } from '../../config.js';
import { AdmissionService } from '../admission/admission.service.js';
import { CONFIG, FORGE, TEMPORAL_CLIENT } from '../tokens.js';
import { linkBases, viewLinks } from '../tasks/task-links.js';
import { badRequest } from '../tasks/task-request.js';
import { coAuthorOf, idFromKey, resolveBudget, TaskStarting } from '../tasks/task-starting.js';
import type { CreateCampaignBody, ListCampaignsQuery } from './campaign-request.js';

const DEPENDENCY_BUMP = 'dependency-bump';
/** Repositories checked at once when a campaign is asked for (each is a forge call or two). */
const CHECKED_AT_ONCE = 8;
const QUERY_DEADLINE_MS = 5_000;
/** How long an open PR's state is taken as it was last read (a campaign's page polls). */
const PR_STATE_FRESH_MS = 5_000;
const PR_STATES_KEPT = 10_000;

export interface CampaignView {
  id: string;
  status: string;
  requester?: string;
  startedAt?: string;
  closedAt?: string;
  /** How many rows are in each status; `merged`: of those with a PR, how many the forge says are merged. */
  counts?: Partial<Record<CampaignRow['status'] | 'merged', number>>;
  rows?: (CampaignRow & { prState?: PullRequestState; links: { task: string } })[];
  links: { self: string; temporalUi: string };
}

@Injectable()
export class CampaignsService {
  /** PR states as the forge last told them, by `repo#number`. */
  private readonly prStates = new Map<string, { state: PullRequestState; at: number }>();

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    @Inject(TEMPORAL_CLIENT) private readonly client: Client,
    @Inject(FORGE) private readonly forge: Forge,
    @Inject(AdmissionService) private readonly admission: AdmissionService,
    @Inject(TaskStarting) private readonly tasks: TaskStarting,
  ) {}

  /**
   * Starts a campaign, once every repository resolves and the playbook (if any) can run on each:
   * a 400 names each one that cannot. With an Idempotency-Key the campaign's id comes from the
   * key and the requester, so a retried request answers the campaign the first one started.
   */
  async create(body: CreateCampaignBody, idempotencyKey?: string): Promise<CampaignView & { replayed?: boolean }> {
    this.tasks.checkServerCanRun(body);
    if (body.playbook === DEPENDENCY_BUMP && body.prompt) throw badRequest([{ field: 'prompt', message: 'dependency-bump takes no prompt: its policy is in params' }]);
    const { maxRepos, maxConcurrency } = this.config.campaigns;
    if (body.concurrency !== undefined && body.concurrency > maxConcurrency) throw badRequest([{ field: 'concurrency', message: `at most ${maxConcurrency} tasks at once on this server (ERRAND_CAMPAIGN_MAX_CONCURRENCY)` }]);
    const requestHash = createHash('sha256').update(JSON.stringify(body)).digest('hex');
    const campaignId = idempotencyKey ? idFromKey(`campaign:${JSON.stringify([body.requester ?? null, idempotencyKey])}`) : randomUUID().replace(/-/g, '').slice(0, 12);
    if (idempotencyKey) {
      const earlier = await this.replay(campaignId, requestHash);
      if (earlier) return earlier;
    }
    // A pattern is listed now (the request's hash is of the pattern: a retry finds the same campaign).
    if (body.reposMatching) body = { ...body, repos: await this.listed(body.reposMatching, maxRepos) };
    if (body.repos!.length > maxRepos) throw badRequest([{ field: 'repos', message: `at most ${maxRepos} repositories in one campaign on this server (ERRAND_CAMPAIGN_MAX_REPOS); split it` }]);
    const targets = await this.check(body);
    await this.admission.checkBudget(body.requester ?? 'unknown');
    const { repos: _r, reposMatching: _m, baseBranch: _b, prompt, playbook, params, concurrency, stopAfterFailures, maxSteps, maxTokens, maxCostUsd, maxWallClockMinutes, ...fields } = body;
    const task = this.tasks.withDefaults({ ...fields, budget: resolveBudget(this.config.defaults.budget, body), coAuthor: coAuthorOf(body.requester), awaitFeedbackMinutes: 0 });
    const input: CampaignInput = {
      campaignId,
      targets,
      ...(prompt && { prompt }),
      ...(playbook && { playbook: { name: playbook, ...(params && { params }) } }),
      concurrency: concurrency ?? Math.min(4, this.config.campaigns.maxConcurrency),
      ...(stopAfterFailures !== undefined && { stopAfterFailures }),
      task,
      links: { ...linkBases(this.config), ...(this.config.api.publicUrl && { campaign: `${this.config.api.publicUrl.replace(/\/$/, '')}/campaigns/${campaignId}` }) },
    };
    try {
      await this.client.workflow.start(CAMPAIGN_WORKFLOW_TYPE, {
        workflowId: campaignWorkflowId(campaignId),
        taskQueue: this.config.temporal.taskQueue,
        args: [input],
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        memo: { requestHash },
        ...(body.requester && { typedSearchAttributes: [{ key: ErrandRequester, value: body.requester }] }),
      });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      // The same key sent twice at once: the other request started it.
      const earlier = idempotencyKey ? await this.replay(campaignId, requestHash) : undefined;
      if (earlier) return earlier;
      throw new ConflictException(`campaign ${campaignId} already exists`);
    }
    const rows = targets.map((t, i) => ({ ...t, taskId: campaignTaskId(campaignId, i), status: 'queued' as const }));
    return { id: campaignId, status: 'running', ...(body.requester && { requester: body.requester }), ...this.rowsView({ rows }), links: this.links(campaignId) };
  }

  async get(campaignId: string): Promise<CampaignView & Partial<Omit<CampaignState, 'rows'>>> {
    const description = await this.describe(campaignId);
    const status = description.status.name.toLowerCase();
    const handle = this.handle(campaignId, description.runId);
    const state =
      status === 'completed'
        ? ((await handle.result()) as CampaignResult).state
        : await this.client.withDeadline(Date.now() + QUERY_DEADLINE_MS, () => handle.query(campaignQuery)).catch(() => undefined);
    if (!state && status === 'running') throw new ServiceUnavailableException(`campaign ${campaignId} did not answer within ${QUERY_DEADLINE_MS / 1000} s: no worker is running it right now; try again shortly`);
    const { rows, ...rest } = state ?? { rows: [] };
    const view = this.rowsView({ rows });
    await this.withPrStates(view);
    return {
      id: campaignId,
      status,
      ...this.times(description),
      ...rest,
      ...view,
      links: this.links(campaignId),
    };
  }

  async list(q: ListCampaignsQuery): Promise<{ campaigns: CampaignView[] }> {
    const clauses = [`WorkflowType = '${CAMPAIGN_WORKFLOW_TYPE}'`];
    if (q.requester) clauses.push(`${ErrandRequester.name} = ${JSON.stringify(q.requester)}`);
    const campaigns: CampaignView[] = [];
    for await (const w of this.client.workflow.list({ query: clauses.join(' AND '), pageSize: q.limit })) {
      const id = campaignIdOfWorkflow(w.workflowId) ?? w.workflowId;
      const requester = w.typedSearchAttributes.get(ErrandRequester);
      campaigns.push({ id, status: w.status.name.toLowerCase(), ...(requester && { requester }), startedAt: w.startTime.toISOString(), ...(w.closeTime && { closedAt: w.closeTime.toISOString() }), links: this.links(id) });
      if (campaigns.length >= q.limit) break;
    }
    return { campaigns };
  }

  async pause(campaignId: string, by: string): Promise<{ id: string; status: string }> {
    await (await this.running(campaignId, 'paused')).signal(pauseSignal, { by });
    return { id: campaignId, status: 'pausing' };
  }

  async resume(campaignId: string, by: string): Promise<{ id: string; status: string }> {
    await (await this.running(campaignId, 'resumed')).signal(resumeSignal, { by });
    return { id: campaignId, status: 'resuming' };
  }

  /** Cancels the campaign and, with it, its running tasks; no more are started. */
  async cancel(campaignId: string, by: string): Promise<{ id: string; status: string }> {
    const handle = await this.running(campaignId, 'cancelled');
    await handle.signal(cancelRequestedSignal, { by });
    await handle.cancel();
    return { id: campaignId, status: 'cancelling' };
  }

  /** The repositories the forge lists for a pattern: 400 for none, too many, or a pattern it cannot list by; 503 when it does not answer. */
  private async listed(pattern: string, maxRepos: number): Promise<string[]> {
    const listed = await this.forge.listRepositories(pattern, maxRepos).catch((err: unknown) => {
      if (err instanceof ErrandFailure && !err.retryable) throw badRequest([{ field: 'reposMatching', message: err.message }]);
      throw new ServiceUnavailableException(`the forge did not list the repositories for ${pattern} (${(err as Error).message}); try again shortly`);
    });
    if (listed.more) throw badRequest([{ field: 'reposMatching', message: `matches more than ${maxRepos} repositories, the most in one campaign on this server (ERRAND_CAMPAIGN_MAX_REPOS); narrow the pattern` }]);
    if (!listed.repos.length) throw badRequest([{ field: 'reposMatching', message: `matches no repository Errand can reach on the ${this.forge.name} forge` }]);
    return listed.repos;
  }

  /** Each repository as the forge names it, with its base branch; the playbook checked on each. */
  private async check(body: CreateCampaignBody): Promise<{ repo: string; baseBranch: string }[]> {
    const issues: { field: string; message: string }[] = [];
    const repos = body.repos!;
    const targets: { repo: string; baseBranch: string }[] = new Array(repos.length);
    const queue = repos.map((repo, i) => ({ repo, i }));
    const checkOne = async ({ repo, i }: { repo: string; i: number }) => {
      const resolved = await this.forge.resolveRepository(repo, body.baseBranch);
      if ('field' in resolved) return void issues.push({ field: `repos.${i}`, message: `${repo}: ${resolved.message}` });
      targets[i] = resolved;
      if (!body.playbook) return;
      const run = await preparePlaybookRun(this.forge, { repo: resolved.repo, ref: resolved.baseBranch, name: body.playbook, params: body.params });
      if (!run.ok) issues.push(...run.issues.map((issue) => ({ field: `repos.${i}`, message: `${repo}: ${issue.field}: ${issue.message}` })));
    };
    await Promise.all(
      Array.from({ length: Math.min(CHECKED_AT_ONCE, queue.length) }, async () => {
        for (let next = queue.shift(); next; next = queue.shift()) await checkOne(next);
      }),
    );
    if (issues.length) throw badRequest(issues.sort((a, b) => a.field.localeCompare(b.field, undefined, { numeric: true })));
    const named = new Map<string, number>();
    targets.forEach((t, i) => {
      if (named.has(t.repo)) issues.push({ field: `repos.${i}`, message: `${repos[i]} is ${t.repo}, as is repos.${named.get(t.repo)}; name each repository once` });
      else named.set(t.repo, i);
    });
    if (issues.length) throw badRequest(issues);
    return targets;
  }

  /** The campaign an earlier request with this key started, or undefined when there is none. */
  private async replay(campaignId: string, requestHash: string): Promise<(CampaignView & { replayed: true }) | undefined> {
    const description = await this.describe(campaignId).catch((err: unknown) => (err instanceof NotFoundException ? undefined : Promise.reject(err)));
    if (!description) return undefined;
    if ((await description.memo)?.requestHash !== requestHash) {
      throw new UnprocessableEntityException('this Idempotency-Key was already used for a different request; use a new key for a new campaign');
    }
    return { ...(await this.get(campaignId)), replayed: true };
  }

  /**
   * Each PR's state as the forge tells it (merged, closed, open), a few asked at once; a merged
   * or closed PR is asked once, an open one again after PR_STATE_FRESH_MS. A forge that does not
   * answer leaves the row without one.
   */
  private async withPrStates(view: Pick<CampaignView, 'rows' | 'counts'>): Promise<void> {
    const rows = (view.rows ?? []).filter((r) => r.pr);
    const queue = [...rows];
    await Promise.all(
      Array.from({ length: Math.min(CHECKED_AT_ONCE, queue.length) }, async () => {
        for (let row = queue.shift(); row; row = queue.shift()) {
          const state = await this.prState(row.repo, row.pr!.number);
          if (state) row.prState = state;
        }
      }),
    );
    const merged = rows.filter((r) => r.prState === 'merged').length;
    if (merged) view.counts!.merged = merged;
  }

  private async prState(repo: string, number: number): Promise<PullRequestState | undefined> {
    const key = `${repo}#${number}`;
    const known = this.prStates.get(key);
    if (known && (known.state !== 'open' || Date.now() - known.at < PR_STATE_FRESH_MS)) return known.state;
    const state = await this.forge.pullRequestState(repo, number).catch(() => undefined);
    if (state) {
      this.prStates.delete(key); // re-inserted last: the oldest go first when there are too many
      this.prStates.set(key, { state, at: Date.now() });
      if (this.prStates.size > PR_STATES_KEPT) this.prStates.delete(this.prStates.keys().next().value!);
    }
    return state ?? known?.state;
  }

  private rowsView({ rows }: { rows: CampaignRow[] }): Pick<CampaignView, 'rows' | 'counts'> {
    const counts: CampaignView['counts'] = {};
    for (const r of rows) counts[r.status] = (counts[r.status] ?? 0) + 1;
    return { counts, rows: rows.map((r) => ({ ...r, links: { task: viewLinks(this.config, r.taskId).self } })) };
  }

  private times(d: WorkflowExecutionDescription): Pick<CampaignView, 'startedAt' | 'closedAt' | 'requester'> {
    const requester = d.typedSearchAttributes.get(ErrandRequester);
    return { ...(requester && { requester }), startedAt: d.startTime.toISOString(), ...(d.closeTime && { closedAt: d.closeTime.toISOString() }) };
  }

  private links(campaignId: string): CampaignView['links'] {
    return { self: `/campaigns/${campaignId}`, temporalUi: `${linkBases(this.config).temporalUi}${campaignWorkflowId(campaignId)}` };
  }

  private async describe(campaignId: string): Promise<WorkflowExecutionDescription> {
    try {
      return await this.handle(campaignId).describe();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new NotFoundException(`no campaign with id ${campaignId}`);
      throw err;
    }
  }

  private async running(campaignId: string, action: string): Promise<WorkflowHandle> {
    const status = (await this.describe(campaignId)).status.name.toLowerCase();
    if (status !== 'running') throw new ConflictException(`campaign ${campaignId} is already ${status}; only a running campaign can be ${action}`);
    return this.handle(campaignId);
  }

  private handle(campaignId: string, runId?: string): WorkflowHandle {
    return this.client.workflow.getHandle(campaignWorkflowId(campaignId), runId);
  }
}
