// The GitHub forge end to end. GitHub cannot be reached from here, so every request Octokit
// sends goes to test/fixtures/github-server.ts, which validates it against GitHub's published
// OpenAPI description and answers with schema-valid bodies; git pushes go to real bare repos.
// Webhooks use real example payloads (@octokit/webhooks-examples), signed here.
import { createHmac, randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { GitHubStandIn } from '../fixtures/github-server.js';
import { approve, call, ModelServer, type ChatRequest, FIX_SUM, FINISH } from '../fixtures/model-server.js';
import { BUGGY_SUM, git } from '../fixtures/repos.js';
import { api, eventually, startErrand, type ErrandProcess } from '../support/errand-process.js';
import { createTask, waitForStatus } from '../support/tasks.js';

const require = createRequire(import.meta.url);
const examples = require('@octokit/webhooks-examples') as { name: string; examples: Record<string, any>[] }[];
const example = (event: string, action: string, pick: (e: Record<string, any>) => boolean = () => true) =>
  structuredClone(examples.find((e) => e.name === event)!.examples.find((e) => e.action === action && pick(e))!);

const WEBHOOK_SECRET = 'webhook-secret-for-tests';
let model: ModelServer;
let github: GitHubStandIn;
let errand: ErrandProcess;

const githubEnv = (extra: Record<string, string> = {}) => ({
  ERRAND_MODEL_BASE_URL: model.url,
  ERRAND_MODEL: 'fixture-coder',
  ERRAND_FORGE: 'github',
  ERRAND_GITHUB_API_URL: github.url,
  ERRAND_GITHUB_GIT_URL: github.gitUrl,
  ERRAND_GITHUB_LABELS: 'errand,automated',
  ERRAND_GITHUB_WEBHOOK_SECRET: WEBHOOK_SECRET,
  ERRAND_GITHUB_BOT_LOGIN: 'errand-bot',
  ERRAND_CHECKPOINT_EVERY_STEPS: '1',
  ...extra,
});

beforeAll(async () => {
  model = new ModelServer();
  await model.start();
  github = new GitHubStandIn();
  await github.start();
  errand = await startErrand({ env: githubEnv({ ERRAND_GITHUB_TOKEN: github.token }) });
});

afterEach(() => {
  // Every request Errand sent, and every answer the stand-in gave, matched GitHub's description.
  expect(github.violations).toEqual([]);
});

afterAll(async () => {
  await errand?.stop();
  await github?.stop();
  await model?.stop();
});

const ops = (since: number) => github.requests.slice(since).map((r) => r.operationId ?? `${r.method} ${r.path}`);

describe('pull requests on GitHub', () => {
  it('opens a draft early, labels it, marks it ready when the review approves, and keeps the token out of the sandbox', async () => {
    github.addRepo('octo/sum', BUGGY_SUM);
    const since = github.requests.length;
    const coder = model.script('[gh-happy]', [
      FIX_SUM,
      call('shell', { command: 'env; git config --list --show-origin; git remote -v; cat .git/config' }),
      FINISH,
    ]);
    model.reviews('[gh-happy]', [approve('Correct and tested.')]);
    const id = await createTask(errand, { repo: 'octo/sum', prompt: '[gh-happy] Fix sum.', requester: 'Ada Lovelace <ada@example.com>' });
    const task = await waitForStatus(errand, id, 'completed');

    expect(task.baseBranch).toBe('main'); // the repository's default, from GitHub
    const pr = github.pulls.find((p) => p.head === `errand/${id}`)!;
    expect(task.pr).toMatchObject({ number: pr.number, url: `https://github.com/octo/sum/pull/${pr.number}`, draft: false });
    expect(pr).toMatchObject({ draft: false, base: 'main', labels: ['errand', 'automated'], title: '[gh-happy] Fix sum.' });
    expect(pr.body).toContain('Approved by the review agent after 1 review: Correct and tested.');
    expect(pr.body).toContain(`/tasks/${id}/logs/test`);
    expect(pr.body).toContain(`workflows/task-${id}`);
    // The draft opened after the first checkpoint, before the work was done; then one update and the GraphQL ready.
    const sequence = ops(since);
    expect(sequence.indexOf('pulls/create')).toBeLessThan(sequence.lastIndexOf('pulls/update'));
    expect(sequence.filter((o) => o === 'pulls/create')).toHaveLength(1);
    expect(sequence).toContain('POST /graphql');
    expect(github.requests.slice(since).find((r) => r.operationId === 'pulls/create')!.body).toMatchObject({ draft: true, head: `errand/${id}`, base: 'main' });

    const bare = github.bareRepo('octo', 'sum');
    expect(git(bare, 'show', `errand/${id}:sum.js`)).toContain('a + b');
    expect(git(bare, 'log', '-1', '--format=%B', `errand/${id}`)).toContain('Co-authored-by: Ada Lovelace <ada@example.com>');
    // Nothing the agent could see held the token or the auth header made from it.
    const seen = coder.requests[2]!.messages.filter((m) => m.role === 'tool').at(-1)!.content!;
    const header = Buffer.from(`x-access-token:${github.token}`).toString('base64');
    expect(seen).toContain('remote.origin.url');
    for (const leaked of [github.token, header, 'extraheader', 'AUTHORIZATION']) expect(seen.toLowerCase()).not.toContain(leaked.toLowerCase());
    const transcript = JSON.stringify((await api(errand.url, 'GET', `/tasks/${id}/transcript`)).body);
    expect(transcript).not.toContain(github.token);
    expect(errand.output()).not.toContain(github.token);
  });

  it.each([
    ['a repository that does not exist', { repo: 'octo/missing' }, 'GitHub refused reading octo/missing: 404 Not Found'],
    ['a base branch that does not exist', { repo: 'octo/branches', baseBranch: 'release-9' }, 'GitHub refused reading branch release-9 of octo/branches: 404 Branch not found'],
    ['a repository without push access', { repo: 'octo/readonly' }, 'GitHub gives Errand no push access to octo/readonly'],
  ])('fails at once with GitHub’s message for %s', async (_what, target: { repo: string; baseBranch?: string }, message) => {
    if (!github.repos.has('octo/branches')) github.addRepo('octo/branches', BUGGY_SUM);
    if (!github.repos.has('octo/readonly')) github.addRepo('octo/readonly', BUGGY_SUM, { push: false });
    const marker = `[gh-fail-${target.repo}-${target.baseBranch ?? ''}]`;
    const coder = model.script(marker, [FIX_SUM, FINISH]);
    const id = await createTask(errand, { ...target, prompt: `${marker} Fix sum.` });
    const task = await waitForStatus(errand, id, 'failed', 30_000);
    expect(task.error).toContain(message);
    expect(coder.requests).toHaveLength(0);
  });

  it("lists and runs a repository's own playbook, read through the contents API", async () => {
    github.addRepo('octo/playbooks', {
      ...BUGGY_SUM,
      '.errand/playbooks/fix-sum.md': '---\nname: fix-sum\ntitle: "[gh-playbook] Make sum add"\noutcome: sum adds.\nforbidden:\n  paths: [package.json]\n---\nFix sum.\n',
      '.errand/playbooks/notes.txt': 'not a playbook',
    });
    const since = github.requests.length;
    const listed = await api(errand.url, 'GET', '/playbooks?repo=octo/playbooks');
    expect(listed.status).toBe(200);
    expect(listed.body.playbooks.filter((p: { source: string }) => p.source !== 'built-in')).toEqual([
      expect.objectContaining({ name: 'fix-sum', source: '.errand/playbooks/fix-sum.md', forbidden: { paths: ['package.json'], commands: [] } }),
    ]);
    expect(listed.body.broken).toEqual([]);
    expect(ops(since)).toEqual(['repos/get-content', 'repos/get-content']);
    model.script('[gh-playbook]', [FIX_SUM, FINISH]);
    const id = await createTask(errand, { repo: 'octo/playbooks', playbook: 'fix-sum' });
    const task = await waitForStatus(errand, id, 'completed');
    expect(github.pulls.find((pr) => pr.number === task.pr.number)!.body).toContain('## Playbook\n`fix-sum` version 1 (.errand/playbooks/fix-sum.md).');
  });

  it('answers 400 for a repo that is not owner/name', async () => {
    const res = await api(errand.url, 'POST', '/tasks', { repo: 'not a repo', prompt: 'x' });
    expect(res.status).toBe(400);
    expect(res.body.detail).toContain('repo: "not a repo" is not a GitHub repository; give owner/name');
  });
});

describe('GitHub App', () => {
  it('works with installation tokens, read-only for the clone and write for the push', async () => {
    github.addRepo('octo/app-sum', BUGGY_SUM);
    const asApp = await startErrand({
      env: githubEnv({ ERRAND_GITHUB_APP_ID: github.app.id, ERRAND_GITHUB_APP_PRIVATE_KEY: github.app.privateKey, ERRAND_GITHUB_WEBHOOK_SECRET: '' }),
    });
    try {
      model.script('[gh-app]', [FIX_SUM, FINISH]);
      const id = await createTask(asApp, { repo: 'octo/app-sum', prompt: '[gh-app] Fix sum.' });
      const task = await waitForStatus(asApp, id, 'completed');
      expect(task.pr.draft).toBe(false);
      expect(git(github.bareRepo('octo', 'app-sum'), 'show', `errand/${id}:sum.js`)).toContain('a + b');
      const asked = github.installationTokens.map((t) => [t.permissions, t.repositories]);
      expect(asked).toContainEqual([{ contents: 'read' }, ['app-sum']]);
      expect(asked).toContainEqual([{ contents: 'write', pull_requests: 'write' }, ['app-sum']]);
      expect(asApp.output()).not.toContain('BEGIN RSA PRIVATE KEY');
    } finally {
      await asApp.stop();
    }
  });
});

/** Signs a payload (a string is sent as it is) as GitHub does and delivers it (to the file's Errand unless `to` says). */
async function deliver(event: string, payload: unknown, opts: { id?: string; secret?: string; signature?: string | null; to?: ErrandProcess } = {}) {
  const body = typeof payload === 'string' ? payload : JSON.stringify(payload);
  const signature = opts.signature === null ? undefined : (opts.signature ?? `sha256=${createHmac('sha256', opts.secret ?? WEBHOOK_SECRET).update(body).digest('hex')}`);
  const res = await fetch(`${(opts.to ?? errand).url}/webhooks/github`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-github-event': event,
      'x-github-delivery': opts.id ?? randomUUID(),
      'user-agent': 'GitHub-Hookshot/test',
      ...(signature && { 'x-hub-signature-256': signature }),
    },
    body,
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as any };
}

const now = () => new Date().toISOString();

describe('webhooks', () => {
  it('starts a task from an issue labelled errand, comments the task link, and opens the PR', async () => {
    github.addRepo('Codertocat/Hello-World', BUGGY_SUM, { collaborators: { Codertocat: 'admin' } });
    const payload = example('issues', 'labeled');
    payload.label.name = 'errand';
    payload.issue.title = '[gh-issue] The sum test fails';
    // Tabs and newlines are text (control characters are refused: "refuses control characters..." below).
    payload.issue.body = 'sum subtracts;\tit should add.\r\n\r\nSee sum.js.';
    payload.issue.updated_at = now();
    const coder = model.script('[gh-issue]', [FIX_SUM, FINISH]);
    const res = await deliver('issues', payload);
    expect(res).toMatchObject({ status: 202, body: { status: 'task_started', taskId: expect.stringMatching(/^[a-f0-9]{12}$/) } });
    // The audit log says who started it, and through which delivery.
    const audit = await api(errand.url, 'GET', `/audit?task=${res.body.taskId}`);
    expect(audit.body.entries).toEqual([expect.objectContaining({ actor: 'github:Codertocat', via: 'webhook', action: 'webhook.task_started', from: expect.stringMatching(/^delivery [0-9a-f-]+$/) })]);
    await waitForStatus(errand, res.body.taskId, 'completed');
    expect(JSON.stringify(coder.requests[0]!.messages)).toContain(JSON.stringify(`[gh-issue] The sum test fails\n\nsum subtracts;\tit should add.\r\n\r\nSee sum.js.\n\n(GitHub issue #${payload.issue.number}: ${payload.issue.html_url})`).slice(1, -1));
    const comment = github.comments.find((c) => c.repo === 'Hello-World' && c.number === payload.issue.number)!;
    expect(comment.body).toContain(`Errand is on it: [task \`${res.body.taskId}\`](http://127.0.0.1:`);
    const bare = github.bareRepo('Codertocat', 'Hello-World');
    expect(git(bare, 'log', '-1', '--format=%B', `errand/${res.body.taskId}`)).toContain(`Co-authored-by: Codertocat <${payload.sender.id}+Codertocat@users.noreply.github.com>`);
    expect(git(bare, 'log', '-1', '--format=%s', `errand/${res.body.taskId}`).trim()).toBe('[gh-issue] The sum test fails');
  });

  it('rejects forged, unsigned and stale deliveries, and acts on a replayed one only once', async () => {
    const payload = example('issues', 'labeled');
    payload.label.name = 'errand';
    payload.issue.title = '[gh-never] should not start';
    payload.issue.updated_at = now();
    const coder = model.script('[gh-never]', [FIX_SUM, FINISH]);

    const forged = await deliver('issues', payload, { secret: 'not-the-secret' });
    expect(forged).toMatchObject({ status: 401, body: { detail: expect.stringContaining('does not match the body signed with the webhook secret') } });
    const unsigned = await deliver('issues', payload, { signature: null });
    expect(unsigned.status).toBe(401);
    const tampered = JSON.parse(JSON.stringify(payload));
    const signed = `sha256=${createHmac('sha256', WEBHOOK_SECRET).update(JSON.stringify(payload)).digest('hex')}`;
    tampered.issue.title = '[gh-never] tampered';
    expect((await deliver('issues', tampered, { signature: signed })).status).toBe(401);
    const stale = example('issues', 'labeled'); // as recorded in 2019
    stale.label.name = 'errand';
    expect(await deliver('issues', stale)).toMatchObject({ status: 400, body: { detail: expect.stringContaining('stale delivery: the issues event happened at 2019-05-15T15:20:18.000Z') } });
    expect(coder.requests).toHaveLength(0);

    const id = randomUUID();
    model.script('[gh-once]', [FIX_SUM, FINISH]);
    payload.issue.title = '[gh-once] start once';
    const first = await deliver('issues', payload, { id });
    const replay = await deliver('issues', payload, { id });
    expect(first.body.status).toBe('task_started');
    expect(replay).toMatchObject({ status: 202, body: { status: 'duplicate' } });
    // A captured delivery replayed under a new id is still the same signed event.
    const underNewId = await deliver('issues', payload, { id: randomUUID() });
    expect(underNewId).toMatchObject({ status: 202, body: { status: 'duplicate' } });
    await waitForStatus(errand, first.body.taskId, 'completed');
    expect(github.pulls.filter((p) => p.title.startsWith('[gh-once]'))).toHaveLength(1);
  });

  it('refuses a delivery id that is not a GUID before it names anything', async () => {
    if (!github.repos.has('octo/sum')) github.addRepo('octo/sum', BUGGY_SUM);
    model.script('[gh-victim]', [FIX_SUM, FINISH]);
    const victim = await createTask(errand, { repo: 'octo/sum', prompt: '[gh-victim] Fix sum.' });
    await waitForStatus(errand, victim, 'completed');
    const transcript = (await api(errand.url, 'GET', `/tasks/${victim}/transcript`)).body;
    const payload = example('issues', 'labeled');
    payload.label.name = 'errand';
    payload.issue.title = '[gh-bad-id] never';
    payload.issue.updated_at = now();
    const coder = model.script('[gh-bad-id]', [FIX_SUM, FINISH]);
    for (const id of [`../../../tasks/${victim}/transcript/000001.json`, '..', 'a/b', '0'.repeat(65), 'not-a-guid!']) {
      expect(await deliver('issues', payload, { id })).toMatchObject({ status: 400, body: { detail: expect.stringContaining('X-GitHub-Delivery: must be the GUID') } });
    }
    expect((await api(errand.url, 'GET', `/tasks/${victim}/transcript`)).body).toEqual(transcript);
    expect(coder.requests).toHaveLength(0);
  });

  it('turns a review comment mentioning the bot into a follow-up on the same branch and PR, from writers only', async () => {
    github.addRepo('octo/iterate', BUGGY_SUM, { collaborators: { Codertocat: 'write', reader: 'read' } });
    model.script('[gh-iterate]', [FIX_SUM, FINISH]);
    const id = await createTask(errand, { repo: 'octo/iterate', prompt: '[gh-iterate] Fix sum.' });
    const first = await waitForStatus(errand, id, 'completed');
    const pullsBefore = github.pulls.length;

    const comment = (login: string) => {
      const p = example('pull_request_review_comment', 'created');
      p.repository.full_name = 'octo/iterate';
      p.pull_request.number = first.pr.number;
      p.pull_request.head.ref = `errand/${id}`;
      p.pull_request.base.ref = 'main';
      p.comment.body = '@errand-bot please add a comment above sum';
      p.comment.updated_at = now();
      p.sender.login = login;
      return p;
    };
    const fromReader = await deliver('pull_request_review_comment', comment('reader'));
    expect(fromReader).toMatchObject({ status: 202, body: { status: 'ignored', detail: 'reader has read access to octo/iterate; only people with write access steer Errand' } });

    const followUp = model.script('please add a comment above sum', [
      (req: ChatRequest) => (req.messages[1]?.content?.includes('Follow-up on pull request') ? call('edit_file', { path: 'sum.js', old: 'exports', new: '// adds\nexports' }) : FINISH),
      FINISH,
    ]);
    const res = await deliver('pull_request_review_comment', comment('Codertocat'));
    expect(res).toMatchObject({ status: 202, body: { status: 'task_started', detail: `follow-up on #${first.pr.number} (errand/${id})` } });
    const task = await waitForStatus(errand, res.body.taskId, 'completed');
    expect(followUp.requests.length).toBeGreaterThan(0);
    expect(task.pr.number).toBe(first.pr.number);
    expect(github.pulls).toHaveLength(pullsBefore); // updated, not a new one
    const bare = github.bareRepo('octo', 'iterate');
    expect(git(bare, 'show', `errand/${id}:sum.js`)).toBe('// adds\nexports.sum = (a, b) => a + b;\n');
    expect(git(bare, 'rev-list', '--count', `main..errand/${id}`).trim()).toBe('1');
    expect(github.comments.some((c) => c.repo === 'iterate' && c.number === first.pr.number && c.body.includes('Errand is on it'))).toBe(true);
  });

  it('signals a task that still waits for feedback instead of starting another', async () => {
    github.addRepo('octo/waiting', BUGGY_SUM, { collaborators: { Codertocat: 'maintain' } });
    const coder = model.script('[gh-wait]', [
      FIX_SUM,
      FINISH,
      (req: ChatRequest) => (req.messages.at(-1)?.content?.includes('Feedback on the pull request from @Codertocat') ? call('write_file', { path: 'README.md', content: '# sum\n' }) : FINISH),
      FINISH,
    ]);
    const id = await createTask(errand, { repo: 'octo/waiting', prompt: '[gh-wait] Fix sum.', awaitFeedbackMinutes: 0.25 });
    const waiting = await eventually(async () => {
      const s = (await api(errand.url, 'GET', `/tasks/${id}`)).body;
      return s.phase === 'awaiting_feedback' ? s : undefined;
    }, 60_000, 'the task to wait for feedback');
    const review = example('pull_request_review', 'submitted');
    review.repository.full_name = 'octo/waiting';
    review.pull_request.number = waiting.pr.number;
    review.pull_request.head.ref = `errand/${id}`;
    review.review.body = 'Thanks @errand-bot: add a README too.';
    review.review.submitted_at = now();
    const delivery = randomUUID();
    const res = await deliver('pull_request_review', review, { id: delivery });
    expect(res).toMatchObject({ status: 202, body: { status: 'feedback_sent', taskId: id } });
    // The audit log says who steered it, and through which delivery.
    const audit = await api(errand.url, 'GET', `/audit?task=${id}`);
    expect(audit.body.entries).toEqual([
      expect.objectContaining({ actor: 'github:Codertocat', via: 'webhook', action: 'webhook.feedback_sent', taskId: id, from: `delivery ${delivery}` }),
      expect.objectContaining({ action: 'task.create', taskId: id }),
    ]);
    const task = await waitForStatus(errand, id, 'completed');
    expect(task.feedbackRounds).toBe(1);
    expect(coder.requests).toHaveLength(4);
    expect(git(github.bareRepo('octo', 'waiting'), 'show', `errand/${id}:README.md`)).toBe('# sum\n');
  });
});

describe('webhook bodies', () => {
  // Every refusal is a problem document (RFC 9457) naming what to fix, given before anything starts.
  const problemOf = (res: Awaited<ReturnType<typeof deliver>>) => ({ status: res.status, type: res.headers.get('content-type'), issues: res.body.issues });
  const PROBLEM = 'application/problem+json; charset=utf-8';
  const labelled = (title: string) => {
    const payload = example('issues', 'labeled');
    payload.label.name = 'errand';
    payload.issue.title = title;
    payload.issue.updated_at = now();
    return payload;
  };
  /** A comment mentioning the bot, from a writer, on what looks like an Errand pull request. */
  const reviewComment = (body: string) => {
    const payload = example('pull_request_review_comment', 'created');
    payload.repository.full_name = 'octo/bodies';
    payload.pull_request.head.ref = 'errand/0000deadbeef';
    payload.pull_request.base.ref = 'main';
    payload.comment.body = body;
    payload.comment.updated_at = now();
    payload.sender.login = 'Codertocat';
    return payload;
  };
  beforeAll(() => {
    github.addRepo('octo/bodies', BUGGY_SUM, { collaborators: { Codertocat: 'write' } });
  });

  it('refuses a signed body over 1 MB at once with a 413, before Temporal ever sees it', async () => {
    const coder = model.script('[gh-huge]', [FIX_SUM, FINISH]);
    const payload = labelled('[gh-huge] Fix sum');
    payload.issue.body = 'x'.repeat(10 * 1024 * 1024);
    const started = Date.now();
    const res = await deliver('issues', payload);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(problemOf(res)).toEqual({ status: 413, type: PROBLEM, issues: [{ field: 'body', message: expect.stringContaining('larger than 1 MB') }] });
    expect(coder.requests).toHaveLength(0);
  });

  it('answers 400, not 500, to JSON nested 100,000 deep, in an event it acts on and in one it ignores', async () => {
    const deep = `${'['.repeat(100_000)}1${']'.repeat(100_000)}`;
    const issue = JSON.stringify(labelled('[gh-deep] Fix sum')).replace(/"number":1,/, `"number":${deep},`);
    expect(issue).toContain(deep);
    const ignored = JSON.stringify({ action: 'NESTED', repository: { full_name: 'octo/bodies' } }).replace('"NESTED"', deep);
    for (const [event, body] of [['issues', issue], ['star', ignored]] as const) {
      const res = await deliver(event, body);
      expect(problemOf(res)).toEqual({ status: 400, type: PROBLEM, issues: [{ field: 'body', message: expect.stringContaining('nested deeper than') }] });
    }
  });

  it('answers 400 naming each field an event it acts on lacks or has malformed; an event it ignores stays ignored', async () => {
    const coder = model.script('[gh-malformed]', [FIX_SUM, FINISH]);
    const cases: [string, string, (p: Record<string, any>) => unknown, string][] = [
      ['issues', 'no sender', (p) => delete p.sender, 'sender'],
      ['issues', 'no repository', (p) => delete p.repository, 'repository'],
      ['issues', 'no label', (p) => delete p.label, 'label'],
      ['issues', 'a number that is a string', (p) => (p.issue.number = 'one'), 'issue.number'],
      ['issues', 'no title', (p) => delete p.issue.title, 'issue.title'],
      ['issues', 'a repository that is not owner/name', (p) => (p.repository.full_name = '../../etc'), 'repository.full_name'],
      ['issue_comment', 'no sender', (p) => delete p.sender, 'sender'],
      ['pull_request_review', 'no head', (p) => delete p.pull_request.head, 'pull_request.head'],
      ['pull_request_review_comment', 'a body that is a number', (p) => (p.comment.body = 5), 'comment.body'],
    ];
    // Each event as Errand would act on it, before one field is spoiled.
    const valid: Record<string, () => Record<string, any>> = {
      issues: () => labelled('[gh-malformed] Fix sum'),
      issue_comment: () => {
        const payload = example('issue_comment', 'created');
        payload.issue.pull_request = { url: 'https://api.github.com/repos/octo/bodies/pulls/1' };
        Object.assign(payload.comment, { body: '@errand-bot [gh-malformed]', updated_at: now() });
        return payload;
      },
      pull_request_review: () => {
        const payload = example('pull_request_review', 'submitted');
        Object.assign(payload.review, { body: '@errand-bot [gh-malformed]', submitted_at: now() });
        return payload;
      },
      pull_request_review_comment: () => reviewComment('@errand-bot [gh-malformed]'),
    };
    const answers = [];
    for (const [event, what, change] of cases) {
      const payload = valid[event]!();
      change(payload);
      const res = await deliver(event, payload);
      answers.push({ event, what, ...problemOf(res), fields: (res.body.issues as { field: string }[] | undefined)?.map((i) => i.field) });
    }
    expect(answers).toEqual(cases.map(([event, what, , field]) => ({ event, what, status: 400, type: PROBLEM, issues: expect.any(Array), fields: [field] })));
    // A body that is JSON but no object.
    for (const body of ['null', '[]', '"labeled"', '42']) {
      expect(problemOf(await deliver('issues', body))).toEqual({ status: 400, type: PROBLEM, issues: [{ field: 'body', message: expect.stringContaining('JSON object') }] });
    }
    // Events and actions Errand does not act on are ignored, whatever their body holds.
    for (const [event, body] of [
      ['star', { action: { created: [[1]] } }],
      ['star', {}],
      ['ping', { zen: 'Keep it logically awesome.', hook_id: 1 }],
      ['issues', { action: 'opened', issue: 'not an issue' }],
      ['issue_comment', { action: ['created'], repository: { full_name: 'octo/bodies' } }],
    ] as const) {
      expect(await deliver(event, body)).toMatchObject({ status: 202, body: { status: 'ignored' } });
    }
    expect(coder.requests).toHaveLength(0);
  });

  it('refuses control characters in what would become a task, naming the field; ignores them where it acts on nothing', async () => {
    const coder = model.script('[gh-control]', [FIX_SUM, FINISH]);
    const ringing = labelled('[gh-control] Fix sum');
    ringing.issue.body = 'Fix sum.\n\tding\u0007';
    const cases: [string, Record<string, any>, string, string][] = [
      ['issues', labelled('[gh-control] The sum\u0000 test fails'), 'issue.title', 'U+0000'],
      ['issues', labelled('[gh-control] The sum \u001b[31mtest\u001b[0m fails'), 'issue.title', 'U+001B'],
      ['issues', ringing, 'issue.body', 'U+0007'],
      ['pull_request_review_comment', reviewComment('@errand-bot [gh-control] \u001b]8;;https://evil.example\u0007add a comment\u001b]8;;\u0007'), 'comment.body', 'U+001B'],
    ];
    const answers = [];
    for (const [event, payload] of cases) answers.push(problemOf(await deliver(event, payload)));
    expect(answers).toEqual(cases.map(([, , field, code]) => ({ status: 400, type: PROBLEM, issues: [{ field, message: expect.stringContaining(`must not contain control characters (found ${code})`) }] })));
    // Where Errand would act on nothing, they are none of its business.
    const bug = labelled('[gh-control] \u0000 bug');
    bug.label.name = 'bug';
    expect(await deliver('issues', bug)).toMatchObject({ status: 202, body: { status: 'ignored' } });
    expect(await deliver('pull_request_review_comment', reviewComment('no mention \u001b[1m here'))).toMatchObject({ status: 202, body: { status: 'ignored' } });
    expect(coder.requests).toHaveLength(0);
  });

  it('bounds what goes into a task by GitHub’s own limits: a longer title or body is refused, not cut', async () => {
    const coder = model.script('[gh-long]', [FIX_SUM, FINISH]);
    const longBody = labelled('[gh-long] Fix sum');
    longBody.issue.body = 'x'.repeat(65_537);
    const longTitle = labelled(`[gh-long] ${'x'.repeat(247)}`);
    expect(longTitle.issue.title).toHaveLength(257);
    const cases: [string, Record<string, any>, string][] = [
      ['issues', longBody, 'issue.body'],
      ['issues', longTitle, 'issue.title'],
      ['pull_request_review_comment', reviewComment(`@errand-bot [gh-long] ${'x'.repeat(65_536)}`), 'comment.body'],
    ];
    const answers = [];
    for (const [event, payload] of cases) answers.push(problemOf(await deliver(event, payload)));
    expect(answers).toEqual(cases.map(([, , field]) => ({ status: 400, type: PROBLEM, issues: [{ field, message: expect.stringContaining('too long: GitHub allows at most') }] })));
    // GitHub counts characters, not UTF-16 units: its longest body of emoji is within the bound
    // (the fields of an event Errand acts on are validated whatever its label: this one passed).
    const emoji = labelled('[gh-long] Fix sum');
    emoji.label.name = 'bug';
    emoji.issue.body = '🦀'.repeat(65_536);
    expect(await deliver('issues', emoji)).toMatchObject({ status: 202, body: { status: 'ignored' } });
    expect(coder.requests).toHaveLength(0);
  });
});

describe('webhooks and the daily budget', () => {
  it('refuses a delivery whose sender spent its budget today with a 429 the contract declares, and a redelivery alike', async () => {
    // $0.12 a model call (100 + 20 tokens at $1,000 a million): one task spends more than $0.20.
    const budgeted = await startErrand({
      env: githubEnv({ ERRAND_GITHUB_TOKEN: github.token, ERRAND_DAILY_BUDGET_USD: '0.2', ERRAND_MODEL_PRICES: JSON.stringify({ 'fixture-coder': { input: 1000, output: 1000 } }) }),
    });
    try {
      github.addRepo('octo/budget', BUGGY_SUM);
      const issue = (title: string) => {
        const payload = example('issues', 'labeled');
        payload.repository.full_name = 'octo/budget';
        payload.label.name = 'errand';
        payload.issue.title = title;
        payload.issue.updated_at = now();
        return payload;
      };
      // The sender's first task spends its budget; the spending counts once its lease is given back.
      model.script('[gh-spend]', [FIX_SUM, FINISH]);
      const first = await deliver('issues', issue('[gh-spend] Fix sum'), { to: budgeted });
      expect(first).toMatchObject({ status: 202, body: { status: 'task_started', sender: 'Codertocat' } });
      await waitForStatus(budgeted, first.body.taskId, 'completed');
      const spent = await eventually(async () => {
        const byRequester = (await api(budgeted.url, 'GET', '/admission')).body.spent?.byRequester as Record<string, number> | undefined;
        return (byRequester?.Codertocat ?? 0) > 0.2 ? byRequester!.Codertocat! : undefined;
      }, 10_000, "Codertocat's spending to count");

      const coder = model.script('[gh-over]', [FIX_SUM, FINISH]);
      const over = issue('[gh-over] Fix sum again');
      const midnight = new Date();
      midnight.setUTCHours(24, 0, 0, 0);
      const refused = await deliver('issues', over, { to: budgeted });
      expect({ status: refused.status, type: refused.headers.get('content-type'), body: refused.body }).toEqual({
        status: 429,
        type: 'application/problem+json; charset=utf-8',
        body: { type: 'about:blank', title: 'Too Many Requests', status: 429, detail: expect.stringContaining(`Codertocat has spent $${spent.toFixed(2)} today, its daily budget of $0.20 (ERRAND_DAILY_BUDGET_USD); new tasks are refused until it resets at ${midnight.toISOString()}`) },
      });
      expect(Math.abs(Number(refused.headers.get('retry-after')) - (midnight.getTime() - Date.now()) / 1000)).toBeLessThan(60);
      // Not acted on: GitHub's redelivery is refused for the same reason, not taken for a duplicate.
      expect((await deliver('issues', over, { to: budgeted })).status).toBe(429);
      expect(coder.requests).toHaveLength(0);
      const contract = (await (await fetch(`${budgeted.url}/openapi.json`)).json()) as { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };
      expect(Object.keys(contract.paths['/webhooks/github']!.post!.responses)).toContain('429');
    } finally {
      await budgeted.stop();
    }
  });
});
