// Errand's side of a Linear issue, through Linear's GraphQL API (@linear/sdk): read what the issue
// asks (title, description, comments), comment on it, and move it to a workflow state by name.
import { LinearClient } from '@linear/sdk';

export interface IssueText {
  identifier: string;
  title: string;
  description?: string;
  teamKey: string;
  comments: { userId?: string; body: string; createdAt: string }[];
}

export class LinearIssues {
  private readonly client: LinearClient;
  private viewer?: Promise<string>;

  constructor(settings: { apiKey: string; apiUrl: string }) {
    this.client = new LinearClient({ apiKey: settings.apiKey, apiUrl: settings.apiUrl });
  }

  /** Errand's own Linear user: its comments are not requests, and assigning an issue to it is one. */
  viewerId(): Promise<string> {
    this.viewer ??= this.client.viewer.then((v) => v.id).catch((err: unknown) => {
      this.viewer = undefined;
      throw err;
    });
    return this.viewer;
  }

  /** The issue as a request: its title, description and newest `maxComments` comments (Linear lists newest first), oldest first. */
  async read(issueId: string, maxComments: number): Promise<IssueText> {
    const issue = await this.client.issue(issueId);
    const [team, comments] = await Promise.all([issue.team, issue.comments({ first: maxComments })]);
    return {
      identifier: issue.identifier,
      title: issue.title,
      ...(issue.description && { description: issue.description }),
      teamKey: team?.key ?? '',
      comments: comments.nodes
        .map((c) => ({ ...(c.userId && { userId: c.userId }), body: c.body, createdAt: new Date(c.createdAt).toISOString() }))
        .sort((a, b) => a.createdAt.localeCompare(b.createdAt)),
    };
  }

  async comment(issueId: string, body: string): Promise<string | undefined> {
    const created = await this.client.createComment({ issueId, body });
    return (await created.comment)?.id;
  }

  /** Moves the issue to its team's state named `stateName`; false when the team has none by that name. */
  async moveTo(issueId: string, stateName: string): Promise<boolean> {
    const issue = await this.client.issue(issueId);
    const team = await issue.team;
    const states = team ? await team.states() : undefined;
    const state = states?.nodes.find((s) => s.name.toLowerCase() === stateName.toLowerCase());
    if (!state) return false;
    await this.client.updateIssue(issueId, { stateId: state.id });
    return true;
  }
}
