// The shapes the schedules API accepts: a playbook for a repository, when it runs (a cron in a
// time zone, or an interval; jitter, catch-up window, overlap), when it gives up on itself,
// and the task fields its runs take. Checked at the edge; Temporal checks the cron itself.
import { msToNumber } from '@temporalio/common';
import { z } from 'zod';
import { PLAYBOOK_NAME } from '../../../lib/playbooks/playbook.js';
import { isSystemSchedule, SCHEDULE_ID } from '../../../workflows/names.js';
import { playbookFields, target, taskFields } from '../tasks/task-request.js';

/** Temporal keeps a schedule's note up to 1,000 bytes (longer, it refuses the whole request). */
const NOTE_BYTES = 1_000;

export const OVERLAP_POLICIES = ['skip', 'buffer_one', 'allow_all'] as const;

/** `1 day`, `12h`, `30 minutes`: what Temporal reads as a duration. */
const Duration = (what: string) =>
  z
    .string()
    .trim()
    .refine((text) => {
      try {
        return msToNumber(text as never) >= 0;
      } catch {
        return false;
      }
    }, `${what} must be a duration such as "30 minutes", "12h" or "7 days"`);

const isTimeZone = (zone: string) => {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
};

/** Everything a schedule is, each field optional: what PATCH takes, and POST before its rules. */
const scheduleFields = {
  ...target,
  ...playbookFields,
  cron: z.string().trim().min(1).max(200).optional(),
  interval: Duration('interval').optional(),
  timezone: z.string().trim().refine(isTimeZone, 'must be an IANA time zone, e.g. UTC or Europe/Paris').optional(),
  jitter: Duration('jitter').optional(),
  catchupWindow: Duration('catchupWindow').optional(),
  overlap: z.enum(OVERLAP_POLICIES, { error: `must be one of ${OVERLAP_POLICIES.join(', ')}` }).optional(),
  maxFailures: z.number().int('must be a whole number').min(1, 'at least 1').max(10, 'at most 10 (Temporal keeps the last 10 runs)').optional(),
  ...taskFields,
};

const oneTiming = (body: { cron?: string; interval?: string }, ctx: z.RefinementCtx) => {
  if (body.cron && body.interval) ctx.addIssue({ code: 'custom', path: ['interval'], message: 'give cron or interval, not both' });
};

export const CreateScheduleBody = z
  .strictObject({
    id: z
      .string()
      .regex(SCHEDULE_ID, 'must be lower-case letters, digits and dashes, e.g. weekly-deps')
      .refine((id) => !isSystemSchedule(id), { error: (issue) => `${String(issue.input)} is Errand's own schedule; choose another id` })
      .optional(),
    paused: z.boolean().optional(),
    note: z.string().trim().min(1).max(1_000).refine((n) => Buffer.byteLength(n) <= NOTE_BYTES, 'at most 1,000 bytes (Temporal keeps no more)').optional(),
    ...scheduleFields,
    playbook: z.string({ error: 'required: the playbook each run runs (GET /playbooks?repo= lists them)' }).regex(PLAYBOOK_NAME, 'must be a playbook name (lower-case letters, digits and dashes)'),
  })
  .superRefine((body, ctx) => {
    if (!body.cron && !body.interval) ctx.addIssue({ code: 'custom', path: ['cron'], message: 'required: a cron ("0 6 * * MON") or an interval ("1 day")' });
    oneTiming(body, ctx);
  });
export type CreateScheduleBody = z.infer<typeof CreateScheduleBody>;

export const UpdateScheduleBody = z.strictObject({ ...scheduleFields, repo: target.repo.optional() }).superRefine(oneTiming);
export type UpdateScheduleBody = z.infer<typeof UpdateScheduleBody>;

export const ScheduleIdParam = z.string().regex(SCHEDULE_ID, 'schedule ids are lower-case letters, digits and dashes');

/** A pause or unpause: why, and who; Temporal keeps the two together as the schedule's note. */
export const NoteBody = z
  .strictObject({
    note: z.string().trim().min(1).max(1_000).optional(),
    by: z.string().trim().min(1).max(200).optional(),
  })
  .superRefine((body, ctx) => {
    const bytes = Buffer.byteLength(noteOf('unpaused', body));
    if (bytes > NOTE_BYTES) ctx.addIssue({ code: 'custom', path: ['note'], message: `${body.by ? 'with "(by …)" it comes to' : 'it is'} ${bytes} bytes; Temporal keeps at most 1,000: shorten it` });
  });
export type NoteBody = z.infer<typeof NoteBody>;

/** The note a pause or unpause leaves: the caller's, or what happened, and who did it. */
export function noteOf(what: 'paused' | 'unpaused', body: NoteBody): string {
  return [body.note ?? `${what} through the API`, body.by && `(by ${body.by})`].filter(Boolean).join(' ');
}
