// A campaign: one request across many repositories, one task each (workflows/campaign.ts). What
// the API starts it with, what it shows while it runs and after, and how its tasks are named.
import { defineQuery } from '@temporalio/workflow';
import type { LinkBases } from '../task-start.js';
import type { PullRequestRef, TaskInput } from './task.js';

/** At most this many of a task's siblings are named in its PR (and carried in its input). */
export const SIBLINGS_SHOWN = 20;

export interface CampaignInput {
  campaignId: string;
  /** Each repository and its base branch, as the forge names them (resolved by the API), in order. */
  targets: { repo: string; baseBranch: string }[];
  /** What each task is asked; with a playbook, it adds to the playbook's instructions. */
  prompt?: string;
  playbook?: { name: string; params?: Record<string, unknown> };
  /** Tasks running at once, at most. */
  concurrency: number;
  /** After this many failed tasks no more are started; unset: every repository gets its task. */
  stopAfterFailures?: number;
  /** Every field of a task but what each repository's makes. */
  task: Omit<TaskInput, 'taskId' | 'repo' | 'baseBranch' | 'prompt' | 'links' | 'playbook' | 'change' | 'branch' | 'followUp' | 'notify' | 'campaign'>;
  /** Tasks' pages and runs, and the campaign's own page. */
  links: LinkBases & { campaign?: string };
}

export type CampaignRowStatus = 'queued' | 'running' | 'pull_request' | 'no_pull_request' | 'failed' | 'cancelled' | 'skipped';

export interface CampaignRow {
  repo: string;
  baseBranch: string;
  taskId: string;
  status: CampaignRowStatus;
  pr?: PullRequestRef;
  /** A dependency bump's other groups' PRs. */
  morePrs?: PullRequestRef[];
  /** Whether the task's tests passed, when it ran them. */
  testsPassed?: boolean;
  /** Why it failed, or was not started. */
  error?: string;
  /** Why there is no PR, when the task ended without one. */
  note?: string;
}

export interface CampaignState {
  campaignId: string;
  phase: 'running' | 'paused' | 'completed' | 'stopped' | 'cancelled';
  concurrency: number;
  stopAfterFailures?: number;
  failures: number;
  rows: CampaignRow[];
  paused?: { since: string; by?: string };
  cancelledBy?: string;
  stoppedBecause?: string;
  summary?: string;
}

export interface CampaignResult {
  summary: string;
  /** As it ended: GET /campaigns/:id reads an ended campaign from its history. */
  state: CampaignState;
}

/** The campaign's rows and where it stands (GET /campaigns/:id). */
export const campaignQuery = defineQuery<CampaignState>('campaign');

/** The campaign's task for its `index`th repository: `<campaign>-<n>`, n from 1. */
export const campaignTaskId = (campaignId: string, index: number) => `${campaignId}-${index + 1}`;

/** What a task's PR says of the campaign's other tasks: the first SIBLINGS_SHOWN, with links. */
export function campaignSiblings(rows: Pick<CampaignRow, 'repo' | 'taskId'>[], self: Pick<CampaignRow, 'taskId'>, links: LinkBases): { repo: string; taskId: string; url?: string }[] {
  return rows
    .filter((r) => r.taskId !== self.taskId)
    .slice(0, SIBLINGS_SHOWN)
    .map((r) => ({ repo: r.repo, taskId: r.taskId, ...(links.task && { url: `${links.task}${r.taskId}` }) }));
}
