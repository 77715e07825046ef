// What the API reads from the admission workflow (workflows/admission.ts): a queued task's place,
// the queue itself, and what each requester spent today, to refuse new tasks over the daily
// budget with a 429 that says when it resets. On a server without limits or budget there is no
// admission workflow, and nothing is asked.
import { HttpException, HttpStatus, Inject, Injectable } from '@nestjs/common';
import type { Client } from '@temporalio/client';
import { admissionActive, type Config } from '../../config.js';
import { admissionQuery, type AdmissionView, type QueuedTask } from '../../../workflows/contracts/admission.js';
import { admissionWorkflowId } from '../../../workflows/names.js';
import { CONFIG, TEMPORAL_CLIENT } from '../tokens.js';

/** How long an answer of the admission workflow serves the requests that follow (a burst of POSTs asks once). */
const FRESH_MS = 1_000;
/** How long a request waits for it (it needs a worker); without an answer, no place is shown and no budget refuses. */
const DEADLINE_MS = 2_000;

@Injectable()
export class AdmissionService {
  private last?: { at: number; view: Promise<AdmissionView | undefined> };

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    @Inject(TEMPORAL_CLIENT) private readonly client: Client,
  ) {}

  /** Whether tasks ask for a lease here: some limit or budget is set. */
  get active(): boolean {
    return admissionActive(this.config.admission);
  }

  /** The running and queued tasks and today's spending; undefined without limits, or before any task asked. */
  view(): Promise<AdmissionView | undefined> {
    if (!this.active) return Promise.resolve(undefined);
    const now = Date.now();
    if (this.last && now - this.last.at < FRESH_MS) return this.last.view;
    const handle = this.client.workflow.getHandle(admissionWorkflowId(this.config.temporal.taskQueue));
    const view = this.client.withDeadline(now + DEADLINE_MS, () => handle.query(admissionQuery)).catch(() => undefined);
    this.last = { at: now, view };
    return view;
  }

  /** Each queued task's place, by task id. */
  async places(): Promise<Map<string, QueuedTask>> {
    return new Map((await this.view())?.queued.map((q) => [q.taskId, q]) ?? []);
  }

  /** Throws a 429 when `requester` has spent its daily budget (ERRAND_DAILY_BUDGET_USD). */
  async checkBudget(requester: string): Promise<void> {
    const budget = this.config.admission.dailyBudgetUsd;
    if (budget === undefined) return;
    const spent = (await this.view())?.spent.byRequester[requester] ?? 0;
    if (spent < budget) return;
    const resets = new Date();
    resets.setUTCHours(24, 0, 0, 0);
    const seconds = Math.ceil((resets.getTime() - Date.now()) / 1000);
    throw new HttpException(
      {
        message: `${requester} has spent $${spent.toFixed(2)} today, its daily budget of $${budget.toFixed(2)} (ERRAND_DAILY_BUDGET_USD); new tasks are refused until it resets at ${resets.toISOString()}`,
        headers: { 'retry-after': String(seconds) },
      },
      HttpStatus.TOO_MANY_REQUESTS,
    );
  }
}
