// The tasks API over real HTTP, against a real Errand process and Temporal server: what a
// caller gets back for good and bad input.
import { randomBytes } from 'node:crypto';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { stringify } from 'yaml';
import { hashToken, newToken, SCOPES, type Scope } from '../../apps/api/auth/api-tokens.js';
import { ErrandPhase, ErrandRepo, ErrandRequester } from '../../workflows/contracts/search-attributes.js';
import { BUGGY_SUM, git, makeOriginRepo } from '../fixtures/repos.js';
import { api, eventually, startErrand, temporalAddress } from '../support/errand-process.js';
import { writeTokensFile, type TokenEntry } from '../support/tokens-file.js';
import { useErrand, useTemporal } from '../support/use.js';

// API only: the tasks this file creates stay queued, which is all these tests need.
const t = useErrand({ ERRAND_MODEL: 'fixture' }, { command: 'api' });
const temporal = useTemporal();
const origin = makeOriginRepo(BUGGY_SUM);

describe('POST /tasks', () => {
  it('starts a task and answers 201 with its id, state and Temporal UI link', async () => {
    const res = await api(t.errand.url, 'POST', '/tasks', { repo: origin, prompt: 'Fix sum', requester: 'alice', maxTokens: 5000 });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      budget: { maxSteps: 50, maxTokens: 5000 }, // the server's default steps, the task's own tokens
      id: expect.stringMatching(/^[a-f0-9]{12}$/),
      status: 'running',
      phase: 'queued',
      repo: origin,
      baseBranch: 'main', // resolved from the repo's HEAD
      branch: `errand/${res.body.id}`,
    });
    expect(res.body.links.temporalUi).toBe(`http://localhost:8233/namespaces/default/workflows/task-${res.body.id}`);

    const handle = temporal.client.workflow.getHandle(`task-${res.body.id}`);
    const description = await handle.describe();
    expect(description.type).toBe('codingTask');
    expect(description.taskQueue).toBe(t.errand.taskQueue);
    const got = await api(t.errand.url, 'GET', `/tasks/${res.body.id}`);
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ id: res.body.id, status: 'running', repo: origin, phase: 'queued' });
    // Without tokens the audit log keeps who the caller said it was, marked as its own word.
    const audit = await api(t.errand.url, 'GET', `/audit?task=${res.body.id}`);
    expect(audit.body.entries).toEqual([expect.objectContaining({ actor: 'alice', via: 'unauthenticated', action: 'task.create', taskId: res.body.id })]);
    await handle.terminate('test cleanup');
  });

  it.each([
    ['a missing prompt', { repo: '/x' }, 'prompt: required: describe the change you want'],
    ['an empty prompt', { repo: '/x', prompt: '   ' }, 'prompt: required'],
    ['a missing repo', { prompt: 'x' }, 'repo: required'],
    ['an unknown field', { repo: '/x', prompt: 'x', branch: 'main' }, 'branch: unknown field; remove it'],
    ['a wrongly typed field', { repo: '/x', prompt: 'x', maxSteps: 'ten' }, 'maxSteps:'],
    ['an unknown network policy', { repo: '/x', prompt: 'x', network: 'sometimes' }, 'network: must be one of off, setup, on'],
    ['a budget of no money', { repo: '/x', prompt: 'x', maxCostUsd: 0 }, 'maxCostUsd: must be more than 0 dollars'],
    ['a cost budget without a price for the model', { repo: '/x', prompt: 'x', maxCostUsd: 1 }, 'maxCostUsd: this server has no price for model fixture'],
    ['a relative repo path', { repo: 'my/repo', prompt: 'x' }, 'repo: "my/repo" is neither a git URL nor an absolute path'],
    ['an unreachable repo path', { repo: '/nonexistent/errand/repo', prompt: 'x' }, 'repo: cannot reach /nonexistent/errand/repo'],
    // Hostile bytes for git's command line: refused with a 400, and nothing else breaks (the tests after this one still run).
    ['a NUL in the repo', { repo: '/tmp/repo\u0000--upload-pack=touch /tmp/pwned', prompt: 'x' }, 'repo:'],
    ['a NUL in the base branch', { repo: '/tmp/repo', baseBranch: 'main\u0000x', prompt: 'x' }, 'baseBranch:'],
  ])('answers 400 for %s, naming the field', async (_what, body, message) => {
    const res = await api(t.errand.url, 'POST', '/tasks', body);
    expect(res.status).toBe(400);
    expect(res.body.detail).toContain(message);
    expect(JSON.stringify(res.body)).not.toMatch(/at .*\.ts:\d+/); // no stack trace
  });

  it('answers 400 for a base branch the repo does not have', async () => {
    const res = await api(t.errand.url, 'POST', '/tasks', { repo: origin, prompt: 'x', baseBranch: 'release-9' });
    expect(res.status).toBe(400);
    expect(res.body.detail).toBe(`baseBranch: branch "release-9" does not exist in ${origin}`);
  });

  it('answers a burst of tasks for one repository, and never reuses a failed check of it', async () => {
    const repo = makeOriginRepo(BUGGY_SUM);
    expect((await api(t.errand.url, 'POST', '/tasks', { repo, prompt: 'x', baseBranch: 'hotfix' })).status).toBe(400);
    // The branch appears: the very next requests see it (a failed check is not remembered).
    git(path.join(path.dirname(repo), 'work'), 'push', '-q', repo, 'main:hotfix');
    const burst = await Promise.all(Array.from({ length: 20 }, () => api(t.errand.url, 'POST', '/tasks', { repo, prompt: 'x', baseBranch: 'hotfix' })));
    expect(burst.map((r) => r.status)).toEqual(Array(20).fill(201));
    await Promise.all(burst.map((r) => temporal.client.workflow.getHandle(`task-${r.body.id}`).terminate('test cleanup')));
  });

  it('answers 400 for a body that is not a JSON object, and 413 for one too large, naming the body', async () => {
    const post = (body: string) => fetch(`${t.errand.url}/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const notJson = await post('{"repo": ');
    expect(notJson.status).toBe(400);
    expect(await notJson.json()).toMatchObject({ status: 400, detail: expect.stringMatching(/^body: not valid JSON/), issues: [{ field: 'body', message: expect.stringContaining('not valid JSON') }] });
    const array = await api(t.errand.url, 'POST', '/tasks', [1, 2]);
    expect(array.status).toBe(400);
    expect(array.body.detail).toContain('send a JSON object');
    const huge = await post(JSON.stringify({ repo: origin, prompt: 'x'.repeat(5_000_000) }));
    expect(huge.status).toBe(413);
    expect(await huge.json()).toMatchObject({ status: 413, detail: expect.stringMatching(/^body: larger than 1 MB/), issues: [{ field: 'body' }] });
  });

  it.each([
    ['a NUL in the prompt', { prompt: 'Fix\u0000sum' }, 'prompt: must not contain control characters (found U+0000); send plain text'],
    ['a bell in the requester', { prompt: 'Fix sum', requester: 'ada\u0007' }, 'requester: must not contain control characters (found U+0007)'],
    ['a NUL in an allowed path', { prompt: 'Fix sum', allowedPaths: ['src/**', 'a\u0000b'] }, 'allowedPaths.1: must not contain control characters'],
  ])('answers 400 for %s, before anything is started', async (_what, fields, message) => {
    const res = await api(t.errand.url, 'POST', '/tasks', { repo: origin, ...fields });
    expect(res.status).toBe(400);
    expect(res.body.detail).toContain(message);
  });

  it('keeps tabs and newlines, which are text', async () => {
    const res = await api(t.errand.url, 'POST', '/tasks', { repo: origin, prompt: 'Fix sum.\n\n\tIt subtracts.\r\n' });
    expect(res.status).toBe(201);
    await temporal.client.workflow.getHandle(`task-${res.body.id}`).terminate('test cleanup');
  });

  it('fails fast with the variable to set when no model is configured', async () => {
    const bare = await startErrand({ command: 'api', env: { ERRAND_MODEL_BASE_URL: '', ERRAND_MODEL: '' } });
    try {
      const res = await api(bare.url, 'POST', '/tasks', { repo: origin, prompt: 'Fix sum' });
      expect(res.status).toBe(400);
      expect(res.body.detail).toContain('set ERRAND_MODEL_BASE_URL');
      expect(res.body.detail).toContain('ERRAND_MODEL');
    } finally {
      await bare.stop();
    }
  });
});

describe('steering a task no worker runs', () => {
  it('answers 503 within seconds, saying the message may still arrive, instead of holding the request', async () => {
    // This file runs the API alone: the task is queued and no worker takes its workflow tasks.
    const created = await api(t.errand.url, 'POST', '/tasks', { repo: origin, prompt: 'x' });
    try {
      for (const [route, body] of [['messages', { text: 'also this' }], ['approve', {}]] as const) {
        const asked = Date.now();
        const res = await fetch(`${t.errand.url}/tasks/${created.body.id}/${route}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
        expect({ route, status: res.status, fast: Date.now() - asked < 8_000 }).toEqual({ route, status: 503, fast: true });
        expect(res.headers.get('retry-after')).toBeTruthy();
        expect(((await res.json()) as { detail: string }).detail).toContain(`task ${created.body.id} did not answer within 5 s`);
      }
    } finally {
      await temporal.client.workflow.getHandle(`task-${created.body.id}`).terminate('test cleanup');
    }
  });
});

describe('GET /tasks', () => {
  it('answers 404 for an unknown task and 400 for a malformed id or filter', async () => {
    const missing = await api(t.errand.url, 'GET', '/tasks/0000deadbeef');
    expect(missing.status).toBe(404);
    expect(missing.body.detail).toBe('no task with id 0000deadbeef');
    const malformed = await api(t.errand.url, 'GET', '/tasks/NOT_AN_ID');
    expect(malformed.status).toBe(400);
    const badFilter = await api(t.errand.url, 'GET', '/tasks?status=sleeping');
    expect(badFilter.status).toBe(400);
    expect(badFilter.body.detail).toContain('status: must be one of running, completed');
  });

  it('answers 404 when cancelling an unknown task', async () => {
    const res = await api(t.errand.url, 'POST', '/tasks/0000deadbeef/cancel');
    expect(res.status).toBe(404);
  });
});

describe('API tokens', () => {
  /** One token per scope, plus admin; the file holds their hashes only. */
  const { file, tokens } = writeTokensFile(Object.fromEntries(SCOPES.map((scope) => [scope, { name: `${scope.replace(':', '-')}-bot`, scopes: [scope] }])) as Record<Scope, TokenEntry>);
  const as = (url: string, scope: Scope | undefined, method: string, route: string, body?: unknown) =>
    fetch(`${url}${route}`, { method, headers: { ...(scope && { authorization: `Bearer ${tokens[scope]}` }), ...(body !== undefined && { 'content-type': 'application/json' }) }, body: body === undefined ? undefined : JSON.stringify(body) });

  it('asks every route for a token with its scope: 401 without one, 403 naming the scope it lacks', async () => {
    const guarded = await startErrand({ command: 'api', env: { ERRAND_MODEL_BASE_URL: t.model.url, ERRAND_MODEL: 'fixture', ERRAND_API_TOKENS_FILE: file } });
    try {
      // The contract is public and says which scope each operation needs.
      const contract = (await (await fetch(`${guarded.url}/openapi.json`)).json()) as { paths: Record<string, Record<string, { security?: { bearer: Scope[] }[] }>> };
      const guardedOps = Object.entries(contract.paths).flatMap(([route, ops]) => Object.entries(ops).flatMap(([method, op]) => (op.security ? [{ route, method: method.toUpperCase(), scope: op.security[0]!.bearer[0] }] : [])));
      expect(guardedOps.length).toBeGreaterThan(15);
      // Routes any known token may use (GET /whoami) name no scope: every token gets through.
      for (const { route, method } of guardedOps.filter((op) => !op.scope)) {
        expect({ route, status: (await as(guarded.url, undefined, method, route)).status }).toEqual({ route, status: 401 });
        for (const scope of SCOPES) expect({ route, scope, status: (await as(guarded.url, scope, method, route)).status }).toEqual({ route, scope, status: 200 });
      }
      for (const { route, method, scope } of guardedOps.filter((op): op is typeof op & { scope: Scope } => Boolean(op.scope))) {
        const concrete = route.replace('{id}', '0000deadbeef').replace('{name}', 'test');
        const body = method === 'GET' ? undefined : {};
        const where = `${method} ${route}`;
        expect({ where, status: (await as(guarded.url, undefined, method, concrete, body)).status }).toEqual({ where, status: 401 });
        const other = SCOPES.find((s) => s !== scope && s !== 'admin')!;
        const refused = await as(guarded.url, other, method, concrete, body);
        expect({ where, status: refused.status, detail: ((await refused.json()) as { detail: string }).detail }).toEqual({ where, status: 403, detail: expect.stringContaining(`lacks the scope ${scope}`) });
        for (const allowed of [scope, 'admin'] as const) {
          const status = (await as(guarded.url, allowed, method, concrete, body)).status;
          expect({ where, allowed, refused: [401, 403].includes(status) }).toEqual({ where, allowed, refused: false });
        }
      }
      const wrong = await fetch(`${guarded.url}/tasks`, { headers: { authorization: `Bearer ${tokens['tasks:read'].slice(0, -1)}` } });
      expect(wrong.status).toBe(401);
      // As the attacker: the tokens file's own contents (a hash, a name), a NUL, a second token
      // after a space, a token in another scheme: none is a token.
      for (const authorization of [`Bearer ${hashToken(tokens.admin)}`, 'Bearer admin-bot', `Bearer ${tokens.admin}\u0000`, `Bearer ${tokens['tasks:read']} ${tokens.admin}`, `Basic ${tokens.admin}`, `Bearer  ${tokens.admin}`]) {
        const res = await fetch(`${guarded.url}/audit`, { headers: { authorization: authorization.replace('\u0000', '%00') } }).catch(() => undefined);
        expect({ authorization: authorization.slice(0, 20), status: res?.status }).toEqual({ authorization: authorization.slice(0, 20), status: 401 });
      }
      for (const open of ['/health/live', '/openapi.json', '/docs', '/problems/invalid-input']) expect({ open, status: (await fetch(`${guarded.url}${open}`)).status }).toEqual({ open, status: 200 });
      // What asks no token is this list and nothing else: a route marked open by mistake (and so
      // skipped by the loops above) fails here. The webhooks (GitHub's, Slack's) are open to HTTP and check their signatures.
      const openOps = Object.entries(contract.paths).flatMap(([route, ops]) => Object.entries(ops).flatMap(([method, op]) => (op.security ? [] : [`${method.toUpperCase()} ${route}`])));
      expect(openOps.sort()).toEqual(['GET /console', 'GET /console/{asset}', 'GET /docs', 'GET /docs/{asset}', 'GET /health/live', 'GET /health/ready', 'GET /openapi.json', 'GET /problems/{name}', 'POST /webhooks/github', 'POST /webhooks/slack/events', 'POST /webhooks/slack/actions', 'POST /webhooks/linear'].sort());

      // Who asked is the token's name, whatever the body claims.
      const created = await as(guarded.url, 'tasks:write', 'POST', '/tasks', { repo: origin, prompt: 'Fix sum', requester: 'mallory' });
      expect(created.status).toBe(201);
      const task = (await created.json()) as { id: string };
      const handle = temporal.client.workflow.getHandle(`task-${task.id}`);
      expect((await handle.describe()).typedSearchAttributes.get(ErrandRequester)).toBe('tasks-write-bot');
      expect((await as(guarded.url, 'tasks:control', 'POST', `/tasks/${task.id}/cancel`, { by: 'someone-else' })).status).toBe(202);
      await handle.terminate('test cleanup');

      // The audit log: who (the token's name, whatever the body said), what, newest first; admin only.
      const audit = async (query: string) => ((await (await as(guarded.url, 'admin', 'GET', `/audit?${query}`)).json()) as { entries: { actor: string; via: string; action: string; taskId?: string; from: string }[] }).entries;
      expect(await audit(`task=${task.id}`)).toEqual([
        expect.objectContaining({ actor: 'tasks-control-bot', via: 'token', action: 'task.cancel', taskId: task.id, from: expect.stringMatching(/127\.0\.0\.1/) }),
        expect.objectContaining({ actor: 'tasks-write-bot', via: 'token', action: 'task.create', taskId: task.id }),
      ]);
      expect((await audit('actor=tasks-control-bot')).map((e) => e.action)).toEqual(['task.cancel']);
      expect(await audit(`since=${new Date(Date.now() + 60_000).toISOString()}`)).toEqual([]);
      expect((await as(guarded.url, 'admin', 'GET', '/audit?since=yesterday')).status).toBe(400);
      // A refused request is no act.
      expect((await as(guarded.url, 'tasks:read', 'POST', `/tasks/${task.id}/pause`, {})).status).toBe(403);
      expect((await audit(`task=${task.id}`)).map((e) => e.action)).toEqual(['task.cancel', 'task.create']);
      expect(guarded.output()).toContain(`"msg":"audit: tasks-control-bot task.cancel task ${task.id}"`);
      for (const value of Object.values(tokens)) expect(guarded.output()).not.toContain(value);
    } finally {
      await guarded.stop();
    }
  });

  it('keeps a token with a repository allowlist to those repositories: 403 naming one it names, nothing of the others to see', async () => {
    const ours = makeOriginRepo(BUGGY_SUM);
    const theirs = makeOriginRepo(BUGGY_SUM);
    // A glob: every repository in `ours`' directory, none in `theirs'`.
    const { file: allowlisted, tokens: { limited, admin } } = writeTokensFile({
      limited: { name: 'team-web', scopes: ['tasks:read', 'tasks:write', 'tasks:control', 'schedules:write'], repos: [`${path.dirname(ours)}/*.git`] },
      admin: { name: 'root', scopes: ['admin'] },
    });
    const guarded = await startErrand({ command: 'api', env: { ERRAND_MODEL_BASE_URL: t.model.url, ERRAND_MODEL: 'fixture', ERRAND_API_TOKENS_FILE: allowlisted } });
    const call = async (token: string, method: string, route: string, body?: unknown) => {
      const res = await fetch(`${guarded.url}${route}`, { method, headers: { authorization: `Bearer ${token}`, ...(body !== undefined && { 'content-type': 'application/json' }) }, body: body === undefined ? undefined : JSON.stringify(body) });
      return { status: res.status, body: (await res.json().catch(() => undefined)) as Record<string, any> };
    };
    const handles: string[] = [];
    try {
      // Naming another repository: 403, naming it and the token.
      const refused = await call(limited, 'POST', '/tasks', { repo: theirs, prompt: 'x' });
      expect({ status: refused.status, detail: refused.body.detail }).toEqual({ status: 403, detail: expect.stringContaining(`token team-web may not act on ${theirs}`) });
      // A path that only looks like one of ours is theirs: `..` goes where the filesystem takes it.
      const sneaky = `${path.dirname(ours)}/../${path.basename(path.dirname(theirs))}/origin.git`;
      expect((await call(limited, 'POST', '/tasks', { repo: sneaky, prompt: 'x' })).status).toBe(403);
      // The allowlist is compared with where a repository really is, not with the name given:
      // in ours' directory, names its glob matches that git follows to theirs (a .git link or
      // gitfile, a link, a name git completes to a link, `..` after a link, a file:// URL), on
      // every route that names a repository. The refusal names what was given and nothing of
      // where it leads (an oracle of other repositories' places).
      const ourDir = path.dirname(ours);
      mkdirSync(`${ourDir}/dotgit-link.git`);
      symlinkSync(theirs, `${ourDir}/dotgit-link.git/.git`);
      mkdirSync(`${ourDir}/dotgit-file.git`);
      writeFileSync(`${ourDir}/dotgit-file.git/.git`, `gitdir: ${theirs}\n`);
      symlinkSync(theirs, `${ourDir}/link.git`);
      symlinkSync(theirs, `${ourDir}/completed.git.git`);
      symlinkSync(path.dirname(theirs), `${ourDir}/up.git`);
      const leadingToTheirs = [
        `${ourDir}/dotgit-link.git`,
        `${ourDir}/dotgit-file.git`,
        `${ourDir}/link.git`,
        `${ourDir}/completed.git`,
        `${ourDir}/up.git/../${path.basename(path.dirname(theirs))}/origin.git`,
        pathToFileURL(`${ourDir}/dotgit-link.git`).href,
      ];
      for (const repo of leadingToTheirs) {
        const task = await call(limited, 'POST', '/tasks', { repo, prompt: 'x' });
        expect({ repo, status: task.status, detail: task.body.detail }).toEqual({ repo, status: 403, detail: expect.stringContaining(`may not act on ${repo};`) });
        expect(task.body.detail).not.toContain(path.dirname(theirs));
        expect({ repo, status: (await call(limited, 'GET', `/playbooks?repo=${encodeURIComponent(repo)}`)).status }).toEqual({ repo, status: 403 });
        expect({ repo, status: (await call(limited, 'POST', '/schedules', { id: 'linked-bump', repo, playbook: 'dependency-bump', cron: '0 6 * * MON' })).status }).toEqual({ repo, status: 403 });
      }
      // A repository it may not name is refused before the server reaches for it.
      const knocked: string[] = [];
      const listener = net.createServer((socket) => {
        knocked.push('connection');
        socket.destroy();
      });
      await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
      try {
        const port = (listener.address() as net.AddressInfo).port;
        for (const repo of [`ssh://git@127.0.0.1:${port}/x.git`, `https://127.0.0.1:${port}/x.git`]) {
          expect((await call(limited, 'POST', '/tasks', { repo, prompt: 'x' })).status).toBe(403);
          expect((await call(limited, 'GET', `/playbooks?repo=${encodeURIComponent(repo)}`)).status).toBe(403);
        }
        expect(knocked).toEqual([]);
      } finally {
        listener.close();
      }
      expect((await call(limited, 'GET', `/playbooks?repo=${encodeURIComponent(theirs)}`)).status).toBe(403);
      expect((await call(limited, 'GET', `/playbooks?repo=${encodeURIComponent(ours)}`)).status).toBe(200);
      expect((await call(limited, 'POST', '/schedules', { id: 'theirs-bump', repo: theirs, playbook: 'dependency-bump', cron: '0 6 * * MON' })).status).toBe(403);

      const mine = await call(limited, 'POST', '/tasks', { repo: ours, prompt: 'x' });
      expect(mine.status).toBe(201);
      const other = await call(admin, 'POST', '/tasks', { repo: theirs, prompt: 'x' });
      expect(other.status).toBe(201);
      handles.push(mine.body.id, other.body.id);
      // A task recorded under a name that leads to theirs (as one started before names were
      // resolved was) is theirs: a recorded name is compared by where it leads too.
      const recordedId = randomBytes(6).toString('hex');
      await temporal.client.workflow.start('codingTask', { workflowId: `task-${recordedId}`, taskQueue: guarded.taskQueue, args: [{}], typedSearchAttributes: [{ key: ErrandRepo, value: `${ourDir}/link.git` }, { key: ErrandPhase, value: 'queued' }] });
      handles.push(recordedId);
      expect((await call(limited, 'GET', `/tasks/${recordedId}`)).status).toBe(404);
      expect((await call(admin, 'POST', '/schedules', { id: 'theirs-bump', repo: theirs, playbook: 'dependency-bump', cron: '0 6 * * MON' })).status).toBe(201);
      // A schedule's runs are its creator's: the token's name, whatever the body claims, also when it is changed.
      const scheduled = await call(limited, 'POST', '/schedules', { id: 'ours-bump', repo: ours, playbook: 'dependency-bump', cron: '0 6 * * MON', requester: 'someone-else' });
      expect(scheduled).toMatchObject({ status: 201, body: { requester: 'team-web' } });
      expect(await call(limited, 'PATCH', '/schedules/ours-bump', { requester: 'someone-else' })).toMatchObject({ status: 200, body: { requester: 'team-web' } });

      // Another repository's task or schedule does not exist for this token: the very 404 an
      // unknown id gets (a 403 would say it exists, and name its repository).
      for (const [method, route] of [
        ['GET', `/tasks/${other.body.id}`],
        ['GET', `/tasks/${other.body.id}/transcript`],
        ['GET', `/tasks/${other.body.id}/events`],
        ['POST', `/tasks/${other.body.id}/cancel`],
        ['POST', `/tasks/${other.body.id}/messages`],
        ['GET', '/schedules/theirs-bump'],
        ['POST', '/schedules/theirs-bump/trigger'],
        ['DELETE', '/schedules/theirs-bump'],
      ] as const) {
        const body = method === 'GET' || method === 'DELETE' ? undefined : route.endsWith('/messages') ? { text: 'stop' } : {};
        const hidden = await call(limited, method, route, body);
        const unknown = await call(limited, method, route.replace(other.body.id, '0000deadbeef').replace('theirs-bump', 'no-such-schedule'), body);
        expect({ route, status: hidden.status, detail: hidden.body.detail.replace(other.body.id, 'ID').replace('theirs-bump', 'ID') }).toEqual({ route, status: 404, detail: unknown.body.detail.replace('0000deadbeef', 'ID').replace('no-such-schedule', 'ID') });
      }
      // Moving one of ours to theirs is acting on theirs, by any name that leads there.
      expect((await call(limited, 'PATCH', '/schedules/ours-bump', { repo: theirs })).status).toBe(403);
      for (const repo of leadingToTheirs) expect({ repo, status: (await call(limited, 'PATCH', '/schedules/ours-bump', { repo })).status }).toEqual({ repo, status: 403 });
      // A name elsewhere that leads to ours is ours: the task records where it really is.
      const alias = `${path.dirname(theirs)}/alias-of-ours.git`;
      symlinkSync(ours, alias);
      const aliased = await call(limited, 'POST', '/tasks', { repo: alias, prompt: 'x' });
      expect({ status: aliased.status, repo: aliased.body.repo }).toEqual({ status: 201, repo: ours });
      handles.push(aliased.body.id);
      expect((await call(limited, 'GET', `/tasks/${mine.body.id}`)).body).toMatchObject({ id: mine.body.id, repo: ours });
      expect((await call(limited, 'POST', `/tasks/${mine.body.id}/pause`, {})).status).toBe(202);

      // Lists hold only its repositories' entries; an admin sees all.
      await eventually(async () => {
        const ids = (await call(admin, 'GET', '/tasks')).body.tasks.map((x: { id: string }) => x.id);
        return [mine.body.id, other.body.id, recordedId, aliased.body.id].every((id) => ids.includes(id)) ? true : undefined;
      }, 20_000, 'the tasks listed to the admin');
      // Filtering by a repository is by where it leads, as the forge names it.
      expect((await call(limited, 'GET', `/tasks?repo=${encodeURIComponent(alias)}`)).body.tasks.map((x: { id: string }) => x.id)).toEqual(expect.arrayContaining([mine.body.id, aliased.body.id]));
      expect((await call(limited, 'GET', '/tasks')).body.tasks.map((x: { repo: string }) => x.repo)).toEqual(expect.arrayContaining([ours]));
      expect(new Set((await call(limited, 'GET', '/tasks')).body.tasks.map((x: { repo: string }) => x.repo))).toEqual(new Set([ours]));
      expect((await call(limited, 'GET', '/schedules')).body.schedules.map((s: { id: string }) => s.id)).toEqual(['ours-bump']);
      expect((await call(admin, 'GET', '/schedules')).body.schedules.map((s: { id: string }) => s.id)).toEqual(['ours-bump', 'theirs-bump']);
      // It may ask who it is, and hears its limits (the console shows what it may do by them).
      expect((await call(limited, 'GET', '/whoami')).body).toEqual({ name: 'team-web', scopes: ['tasks:read', 'tasks:write', 'tasks:control', 'schedules:write'], repos: [`${path.dirname(ours)}/*.git`], tokens: true });
      // What spans every repository (metrics) is not for a token limited to some.
      const metrics = await call(limited, 'GET', '/metrics');
      expect({ status: metrics.status, detail: metrics.body?.detail }).toEqual({ status: 403, detail: expect.stringContaining('token team-web may act only on some repositories') });
    } finally {
      for (const id of handles) await temporal.client.workflow.getHandle(`task-${id}`).terminate('test cleanup').catch(() => undefined);
      for (const id of ['ours-bump', 'theirs-bump']) await temporal.client.schedule.getHandle(`schedule-${id}`).delete().catch(() => undefined);
      await guarded.stop();
    }
  });

  it("scopes an Idempotency-Key to who asks: another requester's same key starts its own task and learns nothing of the first", async () => {
    const guarded = await startErrand({ command: 'api', env: { ERRAND_MODEL_BASE_URL: t.model.url, ERRAND_MODEL: 'fixture', ERRAND_API_TOKENS_FILE: file } });
    const post = async (url: string, scope: Scope | undefined, key: string, body: unknown) => {
      const res = await fetch(`${url}/tasks`, { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': key, ...(scope && { authorization: `Bearer ${tokens[scope]}` }) }, body: JSON.stringify(body) });
      return { status: res.status, replayed: res.headers.get('idempotent-replayed'), body: (await res.json()) as Record<string, any> };
    };
    const started: string[] = [];
    try {
      const key = `shared-${Date.now()}`;
      const asked = { repo: origin, prompt: 'Fix sum' };
      const first = await post(guarded.url, 'tasks:write', key, asked);
      expect(first.status).toBe(201);
      started.push(first.body.id);
      // Another token with the same key: a task of its own, as if the key were new (no 422
      // saying the key is taken, no replay of the first's task).
      const second = await post(guarded.url, 'admin', key, asked);
      expect({ status: second.status, replayed: second.replayed }).toEqual({ status: 201, replayed: null });
      expect(second.body.id).not.toBe(first.body.id);
      started.push(second.body.id);
      // Each requester's retry is its own replay; each one's other request with its key, a 422.
      expect(await post(guarded.url, 'tasks:write', key, asked)).toMatchObject({ status: 201, replayed: 'true', body: { id: first.body.id } });
      expect(await post(guarded.url, 'admin', key, asked)).toMatchObject({ status: 201, replayed: 'true', body: { id: second.body.id } });
      for (const scope of ['tasks:write', 'admin'] as const) {
        const other = await post(guarded.url, scope, key, { ...asked, prompt: 'Something else' });
        expect({ scope, status: other.status, detail: other.body.detail }).toEqual({ scope, status: 422, detail: expect.stringContaining('Idempotency-Key was already used for a different request') });
      }
      // Without tokens the requester is who the request says it is: the same key is one task per requester.
      const anonymousKey = `anonymous-${Date.now()}`;
      const alice = await post(t.errand.url, undefined, anonymousKey, { ...asked, requester: 'alice' });
      const bob = await post(t.errand.url, undefined, anonymousKey, { ...asked, requester: 'bob' });
      expect([alice.status, bob.status]).toEqual([201, 201]);
      started.push(alice.body.id, bob.body.id);
      expect(bob.body.id).not.toBe(alice.body.id);
      expect(await post(t.errand.url, undefined, anonymousKey, { ...asked, requester: 'alice' })).toMatchObject({ status: 201, replayed: 'true', body: { id: alice.body.id } });
    } finally {
      for (const id of started) await temporal.client.workflow.getHandle(`task-${id}`).terminate('test cleanup').catch(() => undefined);
      await guarded.stop();
    }
  });

  it('refuses a token file that gives one token both admin and an allowlist', async () => {
    const both = path.join(path.dirname(file), 'both.yaml');
    writeFileSync(both, stringify({ tokens: [{ name: 'ci', sha256: hashToken(newToken()), scopes: ['admin'], repos: ['acme/*'] }] }));
    await expect(startErrand({ command: 'api', env: { ERRAND_MODEL_BASE_URL: t.model.url, ERRAND_MODEL: 'fixture', ERRAND_API_TOKENS_FILE: both } })).rejects.toThrow(/tokens\.0\.repos: admin may do anything anywhere/);
  });

  it('refuses to start on a tokens file it cannot use, saying what to fix', async () => {
    const bad = path.join(path.dirname(file), 'bad.yaml');
    writeFileSync(bad, stringify({ tokens: [{ name: 'ci', sha256: 'not-a-hash', scopes: ['tasks:read'] }] }));
    await expect(startErrand({ command: 'api', env: { ERRAND_MODEL_BASE_URL: t.model.url, ERRAND_MODEL: 'fixture', ERRAND_API_TOKENS_FILE: bad } })).rejects.toThrow(/ERRAND_API_TOKENS_FILE: .*bad\.yaml: tokens\.0\.sha256: the hex SHA-256/);
  });
});

describe('health', () => {
  it('is live and ready when Temporal answers', async () => {
    expect((await api(t.errand.url, 'GET', '/health/live')).body).toEqual({ status: 'ok' });
    // No framework banner on any answer.
    expect((await fetch(`${t.errand.url}/health/live`)).headers.get('x-powered-by')).toBeNull();
    expect((await api(t.errand.url, 'GET', '/health/ready')).body).toEqual({ status: 'ok', temporal: 'ok' });
  });
});

describe('errors', () => {
  const expectProblem = async (res: Response, status: number) => {
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ type: expect.any(String), title: expect.any(String), status, detail: expect.any(String) });
    expect(JSON.stringify(body)).not.toMatch(/at .*\.(ts|js):\d+/);
    return body;
  };

  it('are RFC 9457 problem details, validation, unknown routes and methods alike', async () => {
    const invalid = await expectProblem(await fetch(`${t.errand.url}/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ repo: origin }) }), 400);
    expect(invalid).toMatchObject({ type: '/problems/invalid-input', title: 'Invalid input', issues: [{ field: 'prompt', message: expect.stringContaining('required') }] });
    // The type names a page that says what it means.
    const explained = await fetch(new URL(invalid.type as string, t.errand.url));
    expect(explained.status).toBe(200);
    expect(await explained.text()).toContain('`issues` lists each one');
    expect(await expectProblem(await fetch(`${t.errand.url}/nowhere`), 404)).toMatchObject({ type: 'about:blank', title: 'Not Found' });
    // A path it has, with a method it does not take: 405, and which it takes.
    const wrongMethod = await fetch(`${t.errand.url}/tasks`, { method: 'DELETE' });
    expect(await expectProblem(wrongMethod, 405)).toMatchObject({ detail: '/tasks takes POST, GET, HEAD, not DELETE' });
    expect(wrongMethod.headers.get('allow')).toBe('POST, GET, HEAD');
    await expectProblem(await fetch(`${t.errand.url}/tasks/0000deadbeef`), 404);
  });

  it('say 503 with Retry-After when Temporal does not answer, and the API answers again when it is back', async () => {
    // The API reaches Temporal through a relay this test can cut.
    const [host, port] = temporalAddress().split(':') as [string, string];
    const sockets = new Set<net.Socket>();
    let cut = false;
    const relay = net.createServer((client) => {
      if (cut) return void client.destroy();
      const upstream = net.connect(Number(port), host);
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('error', () => undefined).on('close', () => sockets.delete(s));
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    const through = await startErrand({ command: 'api', env: { ERRAND_MODEL_BASE_URL: t.model.url, ERRAND_MODEL: 'fixture', ERRAND_TEMPORAL_ADDRESS: `127.0.0.1:${(relay.address() as net.AddressInfo).port}` } });
    try {
      expect((await fetch(`${through.url}/tasks/0000deadbeef`)).status).toBe(404);
      cut = true;
      for (const s of sockets) s.destroy();
      const asked = Date.now();
      const down = await fetch(`${through.url}/tasks/0000deadbeef`);
      // Told in about a second, not after the Temporal client's default 20 s of retries.
      expect(Date.now() - asked).toBeLessThan(10_000);
      expect(await expectProblem(down, 503)).toMatchObject({ detail: expect.stringContaining('Temporal did not answer') });
      expect(down.headers.get('retry-after')).toBe('5');
      expect((await fetch(`${through.url}/health/ready`)).status).toBe(503);
      cut = false;
      await eventually(async () => ((await fetch(`${through.url}/tasks/0000deadbeef`)).status === 404 ? true : undefined), 30_000, 'the API to reach Temporal again');
    } finally {
      await through.stop();
      relay.close();
    }
  }, 90_000);
});
