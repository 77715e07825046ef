// What the API answers, as the OpenAPI document describes it. The services' TypeScript types
// are the exact shapes; these name the fields a client relies on and leave the rest open
// (`loose`), so a field added to a view never breaks the contract.
import { z } from 'zod';

const Links = z.object({ self: z.string(), temporalUi: z.string() }).loose();

export const TaskView = z
  .object({
    id: z.string(),
    kind: z.enum(['coding_task', 'dependency_bump']).optional().meta({ description: "a coding task, or a dependency bump (its groups' tasks in `dependencyGroups`)" }),
    parent: z
      .object({ kind: z.enum(['task', 'schedule', 'campaign']), id: z.string() })
      .optional()
      .meta({ description: "what started it: a dependency bump (one of whose groups it is), a schedule's run, or a campaign" }),
    status: z.string().meta({ description: 'running, completed, failed, cancelled, terminated, timed_out' }),
    title: z.string().optional().meta({ description: "what it is, in a line: its prompt's title" }),
    prompt: z.string().optional().meta({ description: 'what it was asked to do (one task: not in a list)' }),
    phase: z.string().optional(),
    repo: z.string().optional(),
    baseBranch: z.string().optional(),
    branch: z.string().optional(),
    step: z.number().optional(),
    stateAsOf: z.string().optional().meta({ description: 'set when the worker was slow to answer: the state is the one it gave at this time' }),
    error: z.string().optional(),
    costUsd: z.number().optional().meta({ description: 'dollars spent on the model so far (in a list: as of its last phase)' }),
    pr: z.object({ number: z.number(), url: z.string(), draft: z.boolean() }).loose().optional().meta({ description: 'its pull request, once opened' }),
    queue: z
      .object({ position: z.number().meta({ description: '1 is next' }), since: z.string(), waitingFor: z.string() })
      .loose()
      .optional()
      .meta({ description: 'while it waits for a slot to run (running-task limits): its place' }),
    dependencyGroups: z
      .array(z.object({ name: z.string(), taskId: z.string(), packages: z.number(), status: z.string(), pr: z.object({ number: z.number(), url: z.string() }).loose().optional(), error: z.string().optional() }).loose())
      .optional()
      .meta({ description: "a dependency bump's groups, each a task of its own, with its PR" }),
    attempts: z
      .array(
        z
          .object({
            n: z.number(),
            taskId: z.string().meta({ description: 'the attempt is a task of its own: GET /tasks/{taskId}' }),
            branch: z.string(),
            status: z.enum(['running', 'finished', 'failed', 'cancelled']),
            test: z.object({ command: z.string(), passed: z.boolean() }).loose().optional(),
            size: z.object({ files: z.number(), lines: z.number() }).optional().meta({ description: 'files, and lines added and removed, in its diff' }),
            error: z.string().optional(),
            promotedPr: z.object({ number: z.number(), url: z.string() }).loose().optional().meta({ description: 'the PR a person opened from it (POST /tasks/{id}/attempts/{n}/promote)' }),
          })
          .loose(),
      )
      .optional()
      .meta({ description: 'a task started with `attempts`: each attempt, its own task on its own branch; only the chosen one opens a PR' }),
    attemptBudgets: z.enum(['each', 'shared']).optional(),
    choice: z
      .object({ n: z.number().optional(), reasons: z.array(z.string()), comparison: z.object({ preferred: z.number().optional(), reasons: z.string() }).optional() })
      .optional()
      .meta({ description: 'which attempt was chosen, and each rule that decided it, in order (the same as its `attempt_chosen` event)' }),
    links: Links,
  })
  .loose()
  .meta({ id: 'Task' });

export const TaskList = z.object({ tasks: z.array(TaskView) }).meta({ id: 'TaskList' });

export const CampaignView = z
  .object({
    id: z.string(),
    status: z.string().meta({ description: 'running, completed, failed, cancelled, terminated, timed_out' }),
    phase: z.enum(['running', 'paused', 'completed', 'stopped', 'cancelled']).optional().meta({ description: 'stopped: its failure policy stopped it starting tasks' }),
    summary: z.string().optional(),
    requester: z.string().optional(),
    concurrency: z.number().optional(),
    stopAfterFailures: z.number().optional(),
    failures: z.number().optional(),
    counts: z.record(z.string(), z.number()).optional().meta({ description: 'rows by status' }),
    rows: z
      .array(
        z
          .object({
            repo: z.string(),
            baseBranch: z.string(),
            taskId: z.string(),
            status: z.enum(['queued', 'running', 'pull_request', 'no_pull_request', 'failed', 'cancelled', 'skipped']),
            pr: z.object({ number: z.number(), url: z.string(), draft: z.boolean() }).loose().optional(),
            testsPassed: z.boolean().optional(),
            prState: z.enum(['open', 'closed', 'merged']).optional().meta({ description: 'its PR as the forge tells it now' }),
            error: z.string().optional().meta({ description: 'why it failed, or was not started' }),
            links: z.object({ task: z.string() }).loose(),
          })
          .loose(),
      )
      .optional()
      .meta({ description: 'one per repository, in the order given (not in a list)' }),
    links: Links,
  })
  .loose()
  .meta({ id: 'Campaign' });

export const CampaignList = z.object({ campaigns: z.array(CampaignView) }).meta({ id: 'CampaignList' });

export const TaskChange = z.object({ id: z.string(), status: z.string().optional() }).loose().meta({ id: 'TaskChange' });

export const Transcript = z
  .object({ id: z.string(), steps: z.number(), messages: z.array(z.object({ step: z.number(), role: z.string() }).loose()) })
  .meta({ id: 'Transcript' });

export const ScheduleView = z
  .object({
    id: z.string(),
    paused: z.boolean(),
    description: z.string().optional().meta({ description: 'why it exists, as given when it was made (a pause does not replace it)' }),
    note: z.string().optional().meta({ description: "the last pause's or unpause's note" }),
    nextRuns: z.array(z.string()).meta({ description: 'none while it is paused' }),
    recentRuns: z.array(z.object({}).loose()),
    links: Links,
  })
  .loose()
  .meta({ id: 'Schedule' });

export const ScheduleList = z.object({ schedules: z.array(ScheduleView) }).meta({ id: 'ScheduleList' });

export const Playbooks = z
  .object({ repo: z.string(), playbooks: z.array(z.object({ name: z.string() }).loose()), broken: z.array(z.object({ name: z.string().optional(), source: z.string(), error: z.string() }).loose()) })
  .meta({ id: 'Playbooks' });

export const Health = z.object({ status: z.literal('ok'), temporal: z.literal('ok').optional() });

export const SlackAnswer = z.union([z.string(), z.object({}).loose()]).meta({ id: 'SlackAnswer' });

export const WebhookResult = z.object({ status: z.enum(['task_started', 'feedback_sent', 'message_sent', 'refused', 'ignored', 'duplicate']), detail: z.string().optional() }).loose();

export const Text = z.string();

/** The 429 of every route that starts tasks: each goes through the budget check (admission/admission.service.ts). */
export const OVER_DAILY_BUDGET = 'the requester spent its daily budget (ERRAND_DAILY_BUDGET_USD); Retry-After says when it resets';
