// Who may ask Errand for what from Linear, as the operator writes it (ERRAND_LINEAR_CONFIG, YAML
// or JSON): the label (or assigning Errand's Linear user) that starts a task, the repository each
// team's issues are in and the states Errand moves them to, and which Linear users are which
// Errand requesters, with what scopes. Anyone and any team not named is refused, on the issue.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { z } from 'zod';

const SCOPES = ['tasks:write', 'tasks:control'] as const;
const STATE = z.string().trim().min(1).max(100);

export const LinearAccessFile = z.strictObject({
  /** An issue given this label starts a task. */
  label: z.string().trim().min(1).max(100).default('errand'),
  /** Assigning an issue to Errand's own Linear user starts a task too. */
  assign: z.boolean().default(true),
  /** A comment that mentions this on an issue with a running task steers it. */
  mention: z.string().trim().min(1).max(100).default('@errand'),
  teams: z.record(
    z.string().regex(/^[A-Z0-9]{1,10}$/, "a team's key, as its issue identifiers start (ENG for ENG-123)"),
    z.strictObject({
      repo: z.string().trim().min(1),
      /** Workflow states (by name) Errand moves the issue to; unset: it stays where it is. */
      states: z.strictObject({ started: STATE.optional(), pullRequest: STATE.optional(), done: STATE.optional(), failed: STATE.optional() }).default({}),
    }),
  ),
  users: z.record(
    z.uuid("a Linear user's id (a UUID: Settings → Account → the API's viewer.id, or the members list)"),
    z.strictObject({ requester: z.string().trim().min(1).max(200), scopes: z.array(z.enum(SCOPES)).min(1) }),
  ),
});
export type LinearAccessFile = z.infer<typeof LinearAccessFile>;
export type LinearTeam = LinearAccessFile['teams'][string];

export function loadLinearAccess(path: string): LinearAccessFile {
  return LinearAccessFile.parse(parse(readFileSync(path, 'utf8')));
}

export class LinearAccess {
  constructor(readonly file: LinearAccessFile) {}

  user(linearUser: string, scope: (typeof SCOPES)[number]): { requester: string } | undefined {
    const user = Object.hasOwn(this.file.users, linearUser) ? this.file.users[linearUser] : undefined;
    return user?.scopes.includes(scope) ? user : undefined;
  }

  team(key: string): LinearTeam | undefined {
    return Object.hasOwn(this.file.teams, key) ? this.file.teams[key] : undefined;
  }

  /** Whether `text` mentions Errand as the operator configured it (not inside a longer word). */
  mentions(text: string): boolean {
    const escaped = this.file.mention.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    return new RegExp(`(^|[^\\w-])${escaped}(?![\\w-])`, 'i').test(text);
  }
}
