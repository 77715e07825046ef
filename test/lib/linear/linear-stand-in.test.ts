// The Linear stand-in (test/fixtures/linear-server.ts) driven by the real @linear/sdk
// LinearClient that Errand's Linear integration uses, so the integration's tests can trust it:
// requests that keep to Linear's published schema are executed against it and answered from
// the stand-in's state, and requests that do not are recorded as violations. Also checks that
// the signed webhooks of test/fixtures/linear-events.ts pass the SDK's own LinearWebhookClient.
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { AuthenticationLinearError, InvalidInputLinearError, LinearClient, LinearDocument } from '@linear/sdk';
import { LinearWebhookClient } from '@linear/sdk/webhooks';
import { getOperationAST, isEnumType, isInputObjectType, isListType, isNonNullType, isScalarType, parse, typeFromAST, type GraphQLInputType } from 'graphql';
import { commentCreated, issueAssigned, issueLabelAdded, signedLinearRequest } from '../../fixtures/linear-events.js';
import { checkOperation, errandUser, LinearStandIn, linearOrganization, linearSchema, type LinearIssue, type LinearLabel, type LinearTeam, type LinearUser } from '../../fixtures/linear-server.js';

const WEBHOOK_SECRET = 'lin_wh_errand-test-signing-secret';

let linear: LinearStandIn;
let client: LinearClient;
let eng: LinearTeam;
let ada: LinearUser;
let errandLabel: LinearLabel;
let bug: LinearLabel;

/** Takes the violations a test caused on purpose, leaving none for afterEach. */
const takeViolations = () => linear.violations.splice(0);

/** A fresh issue, so that tests do not see each other's comments and moves. */
const newIssue = (title: string, o: { labels?: string[]; assigneeId?: string } = {}): LinearIssue => linear.addIssue({ teamKey: 'ENG', title, description: `${title}, described.`, creatorId: ada.id, ...o });

beforeAll(async () => {
  linear = new LinearStandIn();
  await linear.start();
  client = new LinearClient({ apiKey: linear.apiKey, apiUrl: linear.url });
  eng = linear.addTeam({
    key: 'ENG',
    name: 'Engineering',
    states: [
      { name: 'Todo', type: 'unstarted' },
      { name: 'In Progress', type: 'started' },
      { name: 'In Review', type: 'started' },
      { name: 'Done', type: 'completed' },
      { name: 'Canceled', type: 'canceled' },
    ],
  });
  linear.addTeam({ key: 'OPS', name: 'Operations' });
  ada = linear.addUser({ name: 'Ada Lovelace' });
  errandLabel = linear.addLabel({ name: 'errand', color: '#5e6ad2' });
  bug = linear.addLabel({ name: 'Bug', teamKey: 'ENG', color: '#eb5757' });
});

afterEach(() => expect(takeViolations()).toEqual([]));

afterAll(() => linear.stop());

describe('the Linear stand-in, through LinearClient', () => {
  it('is at the URL LinearClient takes, and its viewer is Errand', async () => {
    expect(linear.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/graphql$/);
    expect(linear.apiKey).toMatch(/^lin_api_\w{40}$/);
    const viewer = await client.viewer;
    expect(viewer).toMatchObject({ id: errandUser.id, name: 'Errand', displayName: 'errand', email: errandUser.email, isMe: true, active: true });
    expect(viewer.createdAt).toBeInstanceOf(Date);
    expect((await viewer.organization).urlKey).toBe(linearOrganization.urlKey);
  });

  it('answers an issue with its comments, team, labels, state and assignee', async () => {
    const seeded = newIssue('Fix the flaky upload test', { labels: ['errand', 'Bug'], assigneeId: ada.id });
    linear.addComment(seeded.id, { body: 'It fails one run in ten.', userId: ada.id });
    linear.addComment(seeded.id, { body: 'Only on CI.', userId: ada.id });

    // By identifier, as Linear's issue(id:) takes it, and by id.
    const issue = await client.issue(seeded.identifier);
    expect(issue).toMatchObject({ id: seeded.id, identifier: seeded.identifier, title: 'Fix the flaky upload test', description: 'Fix the flaky upload test, described.', url: seeded.url, priority: 0, priorityLabel: 'No priority' });
    expect(issue.branchName).toBe(`eng-${seeded.number}-fix-the-flaky-upload-test`);
    expect((await client.issue(seeded.id)).identifier).toBe(seeded.identifier);

    const comments = await issue.comments();
    expect(comments.nodes.map((c) => c.body).sort()).toEqual(['It fails one run in ten.', 'Only on CI.']);
    expect((await comments.nodes[0]!.user)?.name).toBe('Ada Lovelace');
    expect(comments.pageInfo.hasNextPage).toBe(false);

    expect((await issue.team)?.key).toBe('ENG');
    expect((await issue.labels()).nodes.map((l) => l.name).sort()).toEqual(['Bug', 'errand']);
    expect(issue.labelIds.sort()).toEqual([bug.id, errandLabel.id].sort());
    expect((await issue.state)?.name).toBe('Todo');
    expect((await issue.assignee)?.id).toBe(ada.id);
    expect((await issue.creator)?.id).toBe(ada.id);
  });

  it("reads a team's workflow states, and finds states and issues by filter", async () => {
    const team = await client.team(eng.id);
    const states = await team.states();
    expect(states.nodes.map((s) => s.name).sort()).toEqual(['Canceled', 'Done', 'In Progress', 'In Review', 'Todo']);
    expect(states.nodes.find((s) => s.name === 'In Review')).toMatchObject({ type: 'started', position: 2 });

    const inProgress = await client.workflowStates({ filter: { team: { key: { eq: 'ENG' } }, name: { eq: 'In Progress' } } });
    expect(inProgress.nodes.map((s) => s.id)).toEqual([eng.states[1]!.id]);
    const started = await client.workflowStates({ filter: { team: { id: { eq: eng.id } }, type: { in: ['started'] } } });
    expect(started.nodes.map((s) => s.name).sort()).toEqual(['In Progress', 'In Review']);
    // OPS got the workflow Linear gives a new team.
    const ops = await client.workflowStates({ filter: { team: { key: { eq: 'OPS' } } } });
    expect(ops.nodes.map((s) => s.name).sort()).toEqual(['Backlog', 'Canceled', 'Done', 'Duplicate', 'In Progress', 'Todo']);

    const labelled = newIssue('Labelled for Errand', { labels: ['errand'] });
    const withLabel = await client.issues({ filter: { labels: { some: { name: { eqIgnoreCase: 'ERRAND' } } }, team: { key: { eq: 'ENG' } } }, first: 250 });
    expect(withLabel.nodes.map((i) => i.id)).toContain(labelled.id);
    expect(withLabel.nodes.every((i) => i.labelIds.includes(errandLabel.id))).toBe(true);
  });

  it('pages a connection newest first, with first/after and last', async () => {
    const paged = newIssue('Many comments');
    for (const n of [1, 2, 3]) linear.addComment(paged.id, { body: `comment ${n}`, userId: ada.id });
    const issue = await client.issue(paged.id);
    const first = await issue.comments({ first: 2 });
    expect(first.nodes.map((c) => c.body)).toEqual(['comment 3', 'comment 2']);
    expect(first.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false, endCursor: first.nodes[1]!.id });
    const rest = await issue.comments({ first: 2, after: first.pageInfo.endCursor });
    expect(rest.nodes.map((c) => c.body)).toEqual(['comment 1']);
    expect(rest.pageInfo.hasNextPage).toBe(false);
    // `last` counts from the oldest end.
    expect((await issue.comments({ last: 1 })).nodes.map((c) => c.body)).toEqual(['comment 1']);
  });

  it('records commentCreate as a comment by Errand on the issue', async () => {
    const issue = newIssue('Comment on me');
    const created = await client.createComment({ issueId: issue.id, body: 'On it: working on a fix.' });
    expect(created.success).toBe(true);
    const comment = await created.comment;
    expect(comment).toMatchObject({ body: 'On it: working on a fix.' });
    expect((await comment!.user)?.id).toBe(errandUser.id);

    expect(linear.comments(issue.id)).toEqual([expect.objectContaining({ id: comment!.id, body: 'On it: working on a fix.', issueId: issue.id, userId: errandUser.id })]);
    expect(linear.mutations.at(-1)).toEqual({ name: 'commentCreate', args: { input: { issueId: issue.id, body: 'On it: working on a fix.' } }, variables: { input: { issueId: issue.id, body: 'On it: working on a fix.' } } });
    // The comment is there for the next read, as in Linear.
    expect((await (await client.issue(issue.id)).comments()).nodes.map((c) => c.id)).toEqual([comment!.id]);
  });

  it('moves an issue with issueUpdate, within its own team only', async () => {
    const issue = newIssue('Move me');
    const inReview = eng.states.find((s) => s.name === 'In Review')!;
    const updated = await client.updateIssue(issue.id, { stateId: inReview.id });
    expect(updated.success).toBe(true);
    expect(linear.issueState(issue.id)).toBe('In Review');
    expect(linear.issue(issue.id)!.startedAt).toEqual(expect.any(String));
    expect((await (await updated.issue)!.state)?.name).toBe('In Review');
    expect(linear.mutations.at(-1)).toMatchObject({ name: 'issueUpdate', args: { id: issue.id, input: { stateId: inReview.id } } });

    // Linear refuses a state of another team; that is an answer, not a violation.
    const opsDone = linear.team('OPS')!.states.find((s) => s.name === 'Done')!;
    await expect(client.updateIssue(issue.id, { stateId: opsDone.id })).rejects.toBeInstanceOf(InvalidInputLinearError);
    expect(linear.issueState(issue.id)).toBe('In Review');
  });

  it('refuses a wrong API key as Linear does', async () => {
    const stranger = new LinearClient({ apiKey: 'lin_api_0000000000000000000000000000000000000000', apiUrl: linear.url });
    const error = await stranger.viewer.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthenticationLinearError);
    expect(error).toMatchObject({ type: 'AuthenticationError', status: 400 });
    // An API key goes bare: with Bearer, Linear takes it for an OAuth token, and refuses it.
    const bearer = new LinearClient({ accessToken: linear.apiKey, apiUrl: linear.url });
    await expect(bearer.viewer).rejects.toBeInstanceOf(AuthenticationLinearError);
  });

  it('answers an id it does not know as Linear does', async () => {
    const error = await client.issue('ENG-9999').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidInputLinearError);
    expect((error as Error).message).toContain('Entity not found: Issue');
  });

  it('records a query that does not keep to the schema as a violation', async () => {
    await expect(client.client.rawRequest('query viewerName { viewer { id nickname } }')).rejects.toThrow('Cannot query field "nickname" on type "User".');
    expect(takeViolations()).toEqual(['query viewerName: Cannot query field "nickname" on type "User". Did you mean "name"?']);
  });

  it('records variables that do not fit the operation as violations', async () => {
    const query = 'query issueTitle($id: String!) { issue(id: $id) { title } }';
    await expect(client.client.rawRequest(query, { id: 42 })).rejects.toThrow('String cannot represent a non string value: 42');
    await expect(client.client.rawRequest(query, { id: 'ENG-1', first: 2 })).rejects.toThrow('Variable "$first" is not defined');
    expect(takeViolations()).toEqual([
      expect.stringContaining('query issueTitle: Variable "$id" got invalid value 42'),
      'query issueTitle: Variable "$first" is not defined by operation "issueTitle".',
    ]);
    // The custom scalars' formats are checked too.
    await expect(client.client.rawRequest('query since($at: DateTimeOrDuration) { issues(filter: { updatedAt: { gt: $at } }) { nodes { id } } }', { at: 'yesterday' })).rejects.toThrow();
    expect(takeViolations()).toEqual([expect.stringContaining('DateTimeOrDuration cannot represent "yesterday"')]);
  });

  it('answers fields it holds nothing for with defaults the schema allows', async () => {
    const issue = newIssue('Anything else');
    const answer = await client.client.rawRequest<Record<string, any>, Record<string, unknown>>(
      `query everything($id: String!) {
        projects(first: 5) { nodes { id name } pageInfo { hasNextPage endCursor } }
        issue(id: $id) { estimate cycle { id } project { name } reactionData subscribers { nodes { id } } sharedAccess { __typename } history { nodes { id } } }
        organization { id name urlKey }
      }`,
      { id: issue.id },
    );
    expect(answer.data).toEqual({
      projects: { nodes: [], pageInfo: { hasNextPage: false, endCursor: null } },
      issue: { estimate: null, cycle: null, project: null, reactionData: {}, subscribers: { nodes: [] }, sharedAccess: expect.objectContaining({ __typename: 'IssueSharedAccess' }), history: { nodes: [] } },
      organization: { ...linearOrganization },
    });
    expect(linear.requests.at(-1)).toMatchObject({ operationType: 'query', mocked: ['projects'] });
  });

  it('does not make up an answer for what it cannot carry out', async () => {
    await expect(client.createIssue({ teamId: eng.id, title: 'Made by Errand' })).rejects.toThrow();
    expect(takeViolations()).toEqual([expect.stringContaining('mutation issueCreate: the stand-in does not carry it out')]);
    await expect(client.issues({ filter: { estimate: { eq: 3 } } })).rejects.toThrow();
    expect(takeViolations()).toEqual([expect.stringContaining('the stand-in holds no "estimate" on Issue to filter on')]);
  });

  it("serves a schema the SDK's documents for what Errand reads and writes validate against", () => {
    const used = [
      'ViewerDocument',
      'OrganizationDocument',
      'UserDocument',
      'UsersDocument',
      'IssueDocument',
      'IssuesDocument',
      'Issue_CommentsDocument',
      'Issue_LabelsDocument',
      'TeamDocument',
      'TeamsDocument',
      'Team_StatesDocument',
      'Team_LabelsDocument',
      'WorkflowStateDocument',
      'WorkflowStatesDocument',
      'IssueLabelsDocument',
      'CommentDocument',
      'CommentsDocument',
      'CreateCommentDocument',
      'UpdateIssueDocument',
      'IssueAddLabelDocument',
      'IssueRemoveLabelDocument',
    ] as const;
    const invalid = used.flatMap((name) => checkOperation(LinearDocument[name].toString()).errors.map((e) => `${name}: ${e.message}`));
    expect(invalid).toEqual([]);
  });

  it('answers every query of the SDK that the schema validates, completely', async () => {
    const issue = newIssue('Asked about by every query');
    // A value for each required variable: ids name the issue (so some lookups find it, most do not).
    const sample = (type: GraphQLInputType): unknown => {
      if (isNonNullType(type)) return sample(type.ofType);
      if (isListType(type)) return [sample(type.ofType)];
      if (isEnumType(type)) return type.getValues()[0]!.value;
      if (isInputObjectType(type)) return Object.fromEntries(Object.entries(type.getFields()).flatMap(([k, f]) => (isNonNullType(f.type) ? [[k, sample(f.type)]] : [])));
      if (isScalarType(type)) return ({ Int: 1, Float: 1, Boolean: true, DateTime: '2024-01-01T00:00:00.000Z', TimelessDate: '2024-01-01', JSONObject: {}, JSON: {} } as Record<string, unknown>)[type.name] ?? issue.id;
      throw new Error(`no sample for ${String(type)}`);
    };
    let answered = 0;
    for (const [name, document] of Object.entries(LinearDocument)) {
      const query = String(document);
      if (!name.endsWith('Document') || !/^\s*query /.test(query) || checkOperation(query).errors.length) continue;
      const operation = getOperationAST(parse(query))!;
      const variables = Object.fromEntries(
        (operation.variableDefinitions ?? []).flatMap((d) => {
          const type = typeFromAST(linearSchema(), d.type) as GraphQLInputType;
          return isNonNullType(type) ? [[d.variable.name.value, sample(type)]] : [];
        }),
      );
      const response = await fetch(linear.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: linear.apiKey }, body: JSON.stringify({ query, variables }) });
      const answer = (await response.json()) as { data: unknown; errors?: { extensions: { type: string } }[] };
      expect({ name, status: response.status, errors: answer.errors?.filter((e) => e.extensions.type !== 'invalid input') ?? [] }).toEqual({ name, status: 200, errors: [] });
      if (!answer.errors) answered++;
    }
    expect(answered).toBeGreaterThan(200);
  });
});

describe("signed webhooks of linear-events.ts, through the SDK's LinearWebhookClient", () => {
  // The SDK checks the timestamp it is given: the body's, signed with it (as Errand passes it).
  const verify = (body: string, headers: Record<string, string>, secret = WEBHOOK_SECRET) => new LinearWebhookClient(secret).parseData(Buffer.from(body), headers['linear-signature']!, (JSON.parse(body) as { webhookTimestamp: number }).webhookTimestamp);

  it('tells of labels added to an issue, with the labels it had in updatedFrom', () => {
    const issue = newIssue('Label me');
    linear.editIssue(issue.id, { labels: ['Bug'] });
    const before = linear.issue(issue.id)!.updatedAt;
    linear.editIssue(issue.id, { labels: ['Bug', 'errand'] });
    const body = JSON.stringify(issueLabelAdded({ issue, previousLabelIds: [bug.id], actor: ada }));
    const headers = signedLinearRequest(WEBHOOK_SECRET, body);
    expect(headers).toMatchObject({ 'content-type': 'application/json; charset=utf-8', 'linear-event': 'Issue', 'linear-delivery': expect.stringMatching(/^[0-9a-f-]{36}$/), 'linear-signature': expect.stringMatching(/^[0-9a-f]{64}$/) });

    const payload = verify(body, headers);
    expect(payload).toMatchObject({
      type: 'Issue',
      action: 'update',
      organizationId: linearOrganization.id,
      actor: { id: ada.id, name: 'Ada Lovelace', type: 'user' },
      data: { id: issue.id, identifier: issue.identifier, labelIds: [bug.id, errandLabel.id], labels: [{ name: 'Bug' }, { name: 'errand' }], team: { key: 'ENG' }, state: { name: 'Todo', type: 'unstarted' } },
      updatedFrom: { labelIds: [bug.id], updatedAt: before },
      url: issue.url,
    });
    expect((payload as { data: { updatedAt: string } }).data.updatedAt).toBe(linear.issue(issue.id)!.updatedAt);
    expect(payload).toMatchObject({
      url: issue.url,
    });
    expect(Math.abs(Date.now() - (payload as { webhookTimestamp: number }).webhookTimestamp)).toBeLessThan(5_000);
  });

  it('tells of an issue assigned, with the assignee before in updatedFrom', () => {
    const issue = newIssue('Assign me to Errand');
    linear.editIssue(issue.id, { assigneeId: errandUser.id });
    const body = JSON.stringify(issueAssigned({ issue, assigneeId: errandUser.id, previous: null, actor: ada.id }));
    const payload = verify(body, signedLinearRequest(WEBHOOK_SECRET, body));
    expect(payload).toMatchObject({ type: 'Issue', action: 'update', actor: { id: ada.id }, data: { assigneeId: errandUser.id, assignee: { name: 'Errand' } }, updatedFrom: { assigneeId: null } });
  });

  it('tells of a comment left on an issue', () => {
    const issue = newIssue('Talk to me');
    const comment = linear.addComment(issue.id, { body: '@errand can you take this?', userId: ada.id });
    const body = JSON.stringify(commentCreated({ comment }));
    const headers = signedLinearRequest(WEBHOOK_SECRET, body);
    expect(headers['linear-event']).toBe('Comment');
    expect(verify(body, headers)).toMatchObject({
      type: 'Comment',
      action: 'create',
      actor: { id: ada.id },
      data: { id: comment.id, body: '@errand can you take this?', issueId: issue.id, userId: ada.id, issue: { identifier: issue.identifier, team: { key: 'ENG' } }, user: { name: 'Ada Lovelace' } },
      url: comment.url,
    });
  });

  it("passes the SDK's webhook handler, headers and all", async () => {
    const issue = newIssue('Handled');
    const comment = linear.addComment(issue.id, { body: 'ping', userId: ada.id });
    const body = JSON.stringify(commentCreated({ comment }));
    const handler = new LinearWebhookClient(WEBHOOK_SECRET).createHandler();
    const seen: unknown[] = [];
    handler.on('Comment', (payload) => void seen.push(payload.data.id));
    const response = await handler(new Request('http://errand.test/webhooks/linear', { method: 'POST', headers: signedLinearRequest(WEBHOOK_SECRET, body), body }));
    expect(response.status).toBe(200);
    expect(seen).toEqual([comment.id]);
  });

  it('is refused with another secret, or when its webhookTimestamp is two minutes old', () => {
    const issue = newIssue('Stale');
    const comment = linear.addComment(issue.id, { body: 'old news', userId: ada.id });
    const fresh = JSON.stringify(commentCreated({ comment }));
    expect(() => verify(fresh, signedLinearRequest(WEBHOOK_SECRET, fresh), 'lin_wh_another-secret')).toThrow('Invalid webhook signature');
    // Signed with the right secret, but sent two minutes ago: the SDK allows one.
    const stale = JSON.stringify(commentCreated({ comment, webhookTimestamp: Date.now() - 120_000 }));
    expect(() => verify(stale, signedLinearRequest(WEBHOOK_SECRET, stale))).toThrow('Invalid webhook timestamp');
  });

  it('will not tell of a change the stand-in has not seen', () => {
    const issue = newIssue('Unlabelled');
    expect(() => issueLabelAdded({ issue, labelIds: [errandLabel.id], previousLabelIds: [], actor: ada })).toThrow(/put them on the issue first/);
    expect(() => issueAssigned({ issue, assigneeId: ada.id, previous: null, actor: ada })).toThrow(/assign it first/);
  });
});
