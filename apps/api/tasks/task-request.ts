// The shapes the tasks API accepts, validated at the edge; messages name the field and the fix.
import { BadRequestException, type PipeTransform } from '@nestjs/common';
import { z } from 'zod';
import { ATTEMPT_BUDGETS } from '../../../workflows/contracts/attempts.js';
import { IMAGE_REFERENCE, NETWORK_POLICIES } from '../../../workflows/contracts/task.js';
import { TASK_ID } from '../../../workflows/names.js';
import { PLAYBOOK_NAME } from '../../../lib/playbooks/playbook.js';

const BRANCH = /^(?!-)[A-Za-z0-9._/-]+$/;

/** Where the work happens: what tasks and schedules both name. */
export const target = {
  repo: z
    .string({ error: 'required: a git URL or an absolute path to a repository' })
    .trim()
    .min(1, 'required: a git URL or an absolute path to a repository'),
  baseBranch: z.string().trim().regex(BRANCH, 'must be a branch name (letters, digits, . _ / -)').optional(),
};

/** A playbook to run (GET /playbooks?repo= lists them), and its parameters. */
export const playbookFields = {
  playbook: z.string().regex(PLAYBOOK_NAME, 'must be a playbook name (lower-case letters, digits and dashes)').optional(),
  params: z.record(z.string(), z.unknown(), { error: 'must be an object of parameter names to values' }).optional(),
};

/** How a task works, beyond what it works on: the fields a schedule's runs take too. */
export const taskFields = {
  testCommand: z.string().trim().min(1).max(2_000).optional(),
  setupScript: z.string().trim().min(1).max(20_000).optional(),
  network: z.enum(NETWORK_POLICIES, { error: `must be one of ${NETWORK_POLICIES.join(', ')} (who may reach the network: nobody, the setup script, every command)` }).optional(),
  maxSteps: z.number().int('must be a whole number').min(1).max(10_000).optional(),
  maxTokens: z.number().int('must be a whole number').min(1).optional(),
  maxCostUsd: z.number().positive('must be more than 0 dollars').optional(),
  maxWallClockMinutes: z.number().positive('must be more than 0 minutes').max(7 * 24 * 60, 'at most a week (10080 minutes)').optional(),
  requester: z.string().trim().min(1).max(200).optional(),
  maxReviewRounds: z.number().int('must be a whole number').min(0).max(10).optional(),
  allowedPaths: z.array(z.string().trim().min(1).max(500)).max(100).optional(),
  sandboxImage: z.string().regex(IMAGE_REFERENCE, 'must be an image reference, e.g. ghcr.io/acme/sandbox:1').optional(),
};

export const CreateTaskBody = z
  .strictObject({
    ...target,
    /** Required, unless a playbook gives the instructions (then it adds to them). */
    prompt: z.string().trim().min(1, 'describe the change you want, or leave it out with a playbook').max(100_000, 'too long: at most 100,000 characters').optional(),
    ...playbookFields,
    ...taskFields,
    requirePlanApproval: z.boolean().optional(),
    awaitFeedbackMinutes: z.number().min(0).max(30 * 24 * 60, 'at most 30 days (43200 minutes)').optional(),
    /** Several independent attempts, the best one kept (the server's ERRAND_MAX_ATTEMPTS is the most). */
    attempts: z.number().int('must be a whole number').min(1, 'at least 1').optional(),
    attemptBudgets: z.enum(ATTEMPT_BUDGETS, { error: `must be one of ${ATTEMPT_BUDGETS.join(', ')} (each attempt the whole budget, or the budget split among them)` }).optional(),
  })
  .superRefine((body, ctx) => {
    if ((body.attempts ?? 1) > 1) {
      // A person approves one plan and reads one PR's feedback: not one per attempt.
      if (body.requirePlanApproval) ctx.addIssue({ code: 'custom', path: ['requirePlanApproval'], message: 'a task with several attempts cannot wait for a plan approval; leave one of the two out' });
      if (body.awaitFeedbackMinutes) ctx.addIssue({ code: 'custom', path: ['awaitFeedbackMinutes'], message: 'a task with several attempts does not wait for feedback on its PR; leave one of the two out' });
    } else if (body.attemptBudgets) ctx.addIssue({ code: 'custom', path: ['attemptBudgets'], message: 'goes with attempts of 2 or more' });
    if (!body.prompt && !body.playbook) ctx.addIssue({ code: 'custom', path: ['prompt'], message: 'required: describe the change you want (or name a playbook)' });
    if (body.params && !body.playbook) ctx.addIssue({ code: 'custom', path: ['params'], message: 'params go with a playbook; name one in playbook' });
  });
export type CreateTaskBody = z.infer<typeof CreateTaskBody>;

export const TASK_STATUSES = ['running', 'completed', 'failed', 'cancelled', 'terminated', 'timed_out', 'continued_as_new'] as const;

export const ListTasksQuery = z.strictObject({
  repo: z.string().min(1).optional(),
  requester: z.string().trim().min(1).max(200).optional(),
  status: z.enum(TASK_STATUSES, { error: `must be one of ${TASK_STATUSES.join(', ')}` }).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});
export type ListTasksQuery = z.infer<typeof ListTasksQuery>;

/** Who is acting (pause, cancel, approve); free text until the API has authentication. */
const Actor = z.string().trim().min(1).max(200).optional();
export const ActorBody = z.strictObject({ by: Actor });
export type ActorBody = z.infer<typeof ActorBody>;

/** Who acts, as a task or campaign records it: the token's name; on a server with no tokens, what the body says, or that nobody can say. */
export const actorOf = (caller: string | undefined, body: ActorBody) => caller ?? body.by ?? 'an API caller (this server asks for no token, so it cannot say who)';

export const MessageBody = z.strictObject({
  text: z.string({ error: 'required: what the agent should know or do' }).trim().min(1, 'required: what the agent should know or do').max(20_000, 'too long: at most 20,000 characters'),
  from: Actor,
});
export type MessageBody = z.infer<typeof MessageBody>;

/** A client's key for retrying POST /tasks safely: the same key from the same requester always means the same task. */
export const IdempotencyKey = z
  .string()
  .trim()
  .min(1)
  .max(200, 'at most 200 characters')
  .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces, e.g. a UUID')
  .optional();

export const LogName = z.enum(['test', 'setup'], { error: 'logs are test and setup' });
export type LogName = z.infer<typeof LogName>;

export const TaskIdParam = z.string().regex(TASK_ID, 'task ids are lower-case letters, digits and dashes');
export const AttemptParam = z.coerce.number({ error: 'attempts are numbered 1, 2, 3...' }).int('attempts are numbered 1, 2, 3...').min(1, 'attempts are numbered 1, 2, 3...');

/**
 * Every string of every input is text: NUL and the other control characters (but tab, newline
 * and carriage return) are refused wherever they are, by field, before any schema or business
 * rule sees them; a NUL breaks a commit, a terminal or a log line far from where it came in.
 */
const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/;

function controlCharacters(value: unknown, at: (string | number)[]): { field: string; message: string }[] {
  if (typeof value === 'string') {
    const found = CONTROL.exec(value)?.[0];
    if (found === undefined) return [];
    const code = `U+${found.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
    return [{ field: at.join('.') || 'body', message: `must not contain control characters (found ${code}); send plain text` }];
  }
  if (Array.isArray(value)) return value.flatMap((v, i) => controlCharacters(v, [...at, i]));
  if (value && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => controlCharacters(v, [...at, k]));
  return [];
}

/** One place that turns schema issues into a 400 the caller can act on (a problem with `issues`). */
export function badRequest(issues: { field: string; message: string }[]): BadRequestException {
  return new BadRequestException({ message: issues.map((i) => `${i.field}: ${i.message}`).join('; '), issues });
}

export class ZodPipe<T extends z.ZodType> implements PipeTransform {
  constructor(
    readonly schema: T,
    /** Names a scalar input (a path parameter) in messages. */
    readonly field = 'body',
  ) {}

  transform(value: unknown): z.output<T> {
    // No body at all (a bare POST /tasks/:id/pause) is an empty object.
    if (value === undefined && this.schema instanceof z.ZodObject) value = {};
    if (this.schema instanceof z.ZodObject && (typeof value !== 'object' || value === null || Array.isArray(value))) {
      throw badRequest([{ field: this.field, message: 'send a JSON object' }]);
    }
    const control = controlCharacters(value, this.field === 'body' || this.field === 'query' ? [] : [this.field]);
    if (control.length) throw badRequest(control);
    const parsed = this.schema.safeParse(value);
    if (parsed.success) return parsed.data;
    throw badRequest(
      parsed.error.issues.flatMap((issue) =>
        issue.code === 'unrecognized_keys'
          ? issue.keys.map((key) => ({ field: key, message: 'unknown field; remove it' }))
          : [{ field: issue.path.join('.') || this.field, message: issue.message }],
      ),
    );
  }
}
