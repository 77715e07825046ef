// Who may ask Errand for what from Slack, as the operator writes it (ERRAND_SLACK_CONFIG, YAML or
// JSON): which channels may start tasks on which repositories, and which Slack users are which
// Errand requesters, with what scopes. Anyone and anywhere not named is refused, in the thread.
import { readFileSync } from 'node:fs';
import picomatch from 'picomatch';
import { parse } from 'yaml';
import { z } from 'zod';

/** Slack's ids: channels C…/G… (private), users U…/W… (Enterprise Grid), workspaces T…. */
const SLACK_ID = /^[A-Z0-9]{2,32}$/;
const SCOPES = ['tasks:write', 'tasks:control'] as const;

export const SlackAccessFile = z.strictObject({
  channels: z.record(
    z.string().regex(SLACK_ID, 'a Slack channel id (C0123ABCD), as its details in Slack show it'),
    z.strictObject({
      /** Globs of the repositories tasks from this channel may work on, as the forge names them. */
      repos: z.array(z.string().trim().min(1)).min(1, 'name at least one repository (or a glob: acme/*)'),
      /** The repository a mention that names none works on. */
      defaultRepo: z.string().trim().min(1).optional(),
      /** Tasks from this channel post a plan and wait for Approve (or a reply) before they change anything. */
      requirePlanApproval: z.boolean().optional(),
    }),
  ),
  users: z.record(
    z.string().regex(SLACK_ID, 'a Slack member id (U0123ABCD), as their profile in Slack shows it'),
    z.strictObject({
      /** Who the tasks they start are for: budgets, limits and the audit trail count by it. */
      requester: z.string().trim().min(1).max(200),
      /** tasks:write starts tasks; tasks:control steers, approves and cancels them. */
      scopes: z.array(z.enum(SCOPES)).min(1),
    }),
  ),
});
export type SlackAccessFile = z.infer<typeof SlackAccessFile>;
export type SlackScope = (typeof SCOPES)[number];

export interface SlackUser {
  requester: string;
  scopes: SlackScope[];
}

/** The operator's file, checked: what Config carries (plain data: config is copied between parts). */
export function loadSlackAccess(path: string): SlackAccessFile {
  return SlackAccessFile.parse(parse(readFileSync(path, 'utf8')));
}

export class SlackAccess {
  constructor(private readonly file: SlackAccessFile) {}

  /** The Errand identity of a Slack user, when the operator mapped them and gave them `scope`. */
  user(slackUser: string, scope: SlackScope): SlackUser | undefined {
    const user = Object.hasOwn(this.file.users, slackUser) ? this.file.users[slackUser] : undefined;
    return user?.scopes.includes(scope) ? user : undefined;
  }

  /** The channel's repositories (globs) and default, when the operator lets it start tasks. */
  channel(channel: string): SlackAccessFile['channels'][string] | undefined {
    return Object.hasOwn(this.file.channels, channel) ? this.file.channels[channel] : undefined;
  }

  /** Whether tasks from `channel` may work on `repo` (as the forge names it). */
  allows(channel: string, repo: string): boolean {
    const globs = this.channel(channel)?.repos ?? [];
    return globs.some((glob) => picomatch(glob, { dot: true })(repo));
  }
}
