// Playbooks a repository keeps in .errand/playbooks/, run through the API as a user would: the
// listing (with the files that cannot run and why), parameters checked against the playbook's
// schema, postconditions Errand runs itself and hands back to the agent when they fail, and
// forbidden paths and commands refused wherever the agent tries them.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { call, lastToolResult, type ChatRequest, FIX_SUM, FINISH } from '../fixtures/model-server.js';
import { BUGGY_SUM, git, makeOriginRepo } from '../fixtures/repos.js';
import { api } from '../support/errand-process.js';
import { readEvents } from '../support/sse.js';
import { createTask, waitForStatus } from '../support/tasks.js';
import { useErrand } from '../support/use.js';
import { shellQuote } from '../../activities/sandbox/sandboxd/shell-quote.js';

const t = useErrand({ ERRAND_CHECKPOINT_EVERY_STEPS: '1' });

const FIX_SUM_PLAYBOOK = `---
name: fix-sum
title: "[pb-post] Make sum right for {{a}} and {{b}}"
outcome: sum({{a}}, {{b}}) is {{expected}}.
params:
  a: { type: number }
  b: { type: number }
  expected: { type: number, description: "what sum(a, b) must return" }
postconditions:
  - |-
    node -e 'process.exit(require("./sum").sum(+process.argv[1], +process.argv[2]) === +process.argv[3] ? 0 : 1)' {{a}} {{b}} {{expected}}
---
Fix sum.js so that it returns what the outcome says.
`;

const TIDY_PLAYBOOK = (marker: string) => `---
name: tidy
title: "${marker} Tidy sum"
outcome: sum adds, and nothing else changed.
forbidden:
  paths: [package.json, "secrets/**"]
  commands: [npm publish]
---
Make sum add.
`;

const repoWith = (playbooks: Record<string, string>) =>
  makeOriginRepo({ ...BUGGY_SUM, ...Object.fromEntries(Object.entries(playbooks).map(([name, text]) => [`.errand/playbooks/${name}.md`, text])) });
const lastUserMessage = (req: ChatRequest) => req.messages.filter((m) => m.role === 'user').at(-1)?.content ?? '';
const pullRequest = (number: number) => JSON.parse(readFileSync(path.join(t.errand.stateDir, 'forge', 'pulls', `${number}.json`), 'utf8'));
const eventsOf = async (id: string) => (await readEvents(`${t.errand.url}/tasks/${id}/events`)).messages.map((m) => ({ type: m.event, ...m.data }));

describe('playbooks', () => {
  it("lists a repository's playbooks, and the files that cannot run with what is wrong", async () => {
    const origin = repoWith({
      'fix-sum': FIX_SUM_PLAYBOOK,
      'no-front-matter': 'Just do it.',
      'bad-param': FIX_SUM_PLAYBOOK.replace('name: fix-sum', 'name: bad-param').replace('a: { type: number }', 'a: { type: date }'),
      'undeclared': FIX_SUM_PLAYBOOK.replace('name: fix-sum', 'name: undeclared').replace('  b: { type: number }\n', ''),
      'misnamed': FIX_SUM_PLAYBOOK,
    });
    const res = await api(t.errand.url, 'GET', `/playbooks?repo=${encodeURIComponent(origin)}`);
    expect(res.status).toBe(200);
    expect(res.body.playbooks.map((p: { name: string }) => p.name)).toContain('fix-sum');
    expect(res.body.playbooks.find((p: { name: string }) => p.name === 'fix-sum')).toMatchObject({
      version: 1,
      source: '.errand/playbooks/fix-sum.md',
      params: { expected: { type: 'number', description: 'what sum(a, b) must return' } },
      postconditions: [expect.stringContaining('{{expected}}')],
    });
    const broken = Object.fromEntries(res.body.broken.map((b: { name: string; error: string }) => [b.name, b.error]));
    expect(broken).toEqual({
      'bad-param': expect.stringContaining('params.a'),
      misnamed: 'its name is fix-sum but its file is misnamed.md; make them the same',
      'no-front-matter': 'a playbook starts with front matter between --- lines',
      undeclared: '{{b}} is used but no parameter b is declared under params',
    });

    const missing = await api(t.errand.url, 'GET', '/playbooks');
    expect(missing).toMatchObject({ status: 400, body: { detail: 'repo: required: the repository whose playbooks to list' } });
  });

  it('refuses a run whose playbook or parameters are wrong with a 400 that names the field', async () => {
    const origin = repoWith({ 'fix-sum': FIX_SUM_PLAYBOOK, misnamed: FIX_SUM_PLAYBOOK });
    const post = (body: Record<string, unknown>) => api(t.errand.url, 'POST', '/tasks', { repo: origin, ...body });

    const params = await post({ playbook: 'fix-sum', params: { a: 'two', c: 1 } });
    expect(params.status).toBe(400);
    expect(params.body.issues).toEqual([
      { field: 'params.a', message: 'must be a number' },
      { field: 'params.b', message: 'required' },
      { field: 'params.expected', message: 'required: what sum(a, b) must return' },
      { field: 'params.c', message: 'fix-sum has no parameter c; it takes a, b, expected' },
    ]);
    expect(await post({ playbook: 'nope' })).toMatchObject({
      status: 400,
      body: { detail: expect.stringMatching(/^playbook: no playbook nope for this repository; it can run .*fix-sum \(add your own as \.errand\/playbooks\/nope\.md\)$/) },
    });
    expect(await post({ playbook: 'misnamed' })).toMatchObject({ status: 400, body: { detail: expect.stringContaining('.errand/playbooks/misnamed.md cannot be run: its name is fix-sum') } });
    expect(await post({ params: { a: 1 }, prompt: 'x' })).toMatchObject({ status: 400, body: { detail: 'params: params go with a playbook; name one in playbook' } });
    expect(await post({})).toMatchObject({ status: 400, body: { detail: 'prompt: required: describe the change you want (or name a playbook)' } });
  });

  it('runs the postconditions itself and hands a failing one back to the agent until it passes', async () => {
    const origin = repoWith({ 'fix-sum': FIX_SUM_PLAYBOOK });
    const coder = t.model.script('[pb-post]', [
      call('write_file', { path: 'sum.js', content: 'exports.sum = (a, b) => a * b;\n' }),
      FINISH,
      (req) => (lastUserMessage(req).includes("[errand] The playbook's postconditions do not hold yet") ? FIX_SUM : { kind: 'text', text: 'no note' }),
      call('finish', { summary: 'sum adds' }),
    ]);
    const id = await createTask(t.errand, { repo: origin, playbook: 'fix-sum', params: { a: 2, b: 3, expected: 5 } });
    const task = await waitForStatus(t.errand, id, 'completed');

    // The agent was given the playbook's instructions, with the values in place.
    expect(coder.requests[0]!.messages.find((m) => m.role === 'user')!.content).toContain('[pb-post] Make sum right for 2 and 3\n\n(Errand playbook fix-sum, version 1.) Done looks like: sum(2, 3) is 5.');
    const note = lastUserMessage(coder.requests[2]!);
    expect(note).toContain(`- \`node -e 'process.exit(require("./sum").sum(+process.argv[1], +process.argv[2]) === +process.argv[3] ? 0 : 1)' '2' '3' '5'\` exited 1`);
    expect(task.postconditions).toEqual([expect.objectContaining({ passed: true, exitCode: 0 })]);
    expect(task.pr.draft).toBe(false);
    expect(git(origin, 'show', `errand/${id}:sum.js`)).toContain('a + b');
    const pr = pullRequest(task.pr.number);
    expect(pr.title).toBe('[pb-post] Make sum right for 2 and 3');
    expect(pr.body).toContain('## Playbook\n`fix-sum` version 1 (.errand/playbooks/fix-sum.md) with `a`=`2`, `b`=`3`, `expected`=`5`.');
    expect(pr.body).toContain('Postconditions, run by Errand:\n- passed: `node -e');
    const checked = (await eventsOf(id)).filter((e) => e.type === 'postconditions_checked');
    expect(checked.map((e) => e.failed.length)).toEqual([1, 0]);
  });

  it('publishes a draft that says which postcondition still fails once the rounds are used up', async () => {
    const origin = repoWith({ 'fix-sum': FIX_SUM_PLAYBOOK.replace('[pb-post]', '[pb-post-stuck]') });
    const coder = t.model.script('[pb-post-stuck]', [FIX_SUM, FINISH, FINISH]);
    const id = await createTask(t.errand, { repo: origin, playbook: 'fix-sum', params: { a: 2, b: 2, expected: 5 }, maxReviewRounds: 1 });
    const task = await waitForStatus(t.errand, id, 'completed');
    expect(coder.requests).toHaveLength(3);
    expect(task.postconditions).toEqual([expect.objectContaining({ passed: false, exitCode: 1 })]);
    expect(task.pr.draft).toBe(true);
    expect(pullRequest(task.pr.number).body).toContain("Postconditions, run by Errand:\n- **failed** (exit 1): `node -e");
  });

  it('refuses the forbidden: the write and the command before they run, the change to a forbidden path at every push', async () => {
    const origin = repoWith({ tidy: TIDY_PLAYBOOK('[pb-forbid]') });
    const coder = t.model.script('[pb-forbid]', [
      call('write_file', { path: 'package.json', content: '{}' }),
      call('shell', { command: 'npm   publish --dry-run' }),
      call('shell', { command: `echo '{"name":"changed"}' > package.json` }),
      FIX_SUM,
      FINISH,
      (req) => {
        const base = /git checkout ([0-9a-f]{40}) -- <path>/.exec(lastUserMessage(req))?.[1];
        return base ? call('shell', { command: `git checkout ${base} -- package.json` }) : { kind: 'text', text: 'no review note' };
      },
      call('finish', { summary: 'sum adds; package.json as it was' }),
    ]);
    const reviews = t.model.reviews('[pb-forbid]');
    const id = await createTask(t.errand, { repo: origin, playbook: 'tidy' });
    const task = await waitForStatus(t.errand, id, 'completed');

    expect(lastToolResult(coder.requests[1]!)).toBe('error: refused: this playbook forbids changing package.json (forbidden paths: package.json, secrets/**)');
    expect(lastToolResult(coder.requests[2]!)).toBe('error: refused: this playbook forbids running `npm publish`; do the task another way');
    const events = await eventsOf(id);
    // The shell got package.json changed; no push carried it, and the review sent it back without the reviewer model.
    expect(events.filter((e) => e.type === 'checkpoint_blocked').length).toBeGreaterThan(0);
    expect(events.find((e) => e.type === 'checkpoint_blocked').reason).toContain('the change touches package.json, which its playbook forbids changing');
    expect(events.filter((e) => e.type === 'review_finished').map((e) => e.verdict)).toEqual(['request_changes', 'approve']);
    // The timeline says why, comment by comment.
    expect(events.find((e) => e.type === 'review_finished').text).toContain('blocking package.json: The playbook forbids changing this path');
    expect(reviews.requests).toHaveLength(1);
    expect(task.pr.draft).toBe(false);
    expect(git(origin, 'diff', '--name-only', 'main', `errand/${id}`).trim()).toBe('sum.js');
  });

  it('fails rather than publish a change to a forbidden path, and pushes nothing of it', async () => {
    const origin = repoWith({ tidy: TIDY_PLAYBOOK('[pb-forbid-stuck]') });
    t.model.script('[pb-forbid-stuck]', [call('shell', { command: `mkdir -p secrets && echo x > secrets/key && echo '{}' > package.json` }), FIX_SUM, FINISH]);
    const id = await createTask(t.errand, { repo: origin, playbook: 'tidy', maxReviewRounds: 0 });
    const task = await waitForStatus(t.errand, id, 'failed');
    expect(task.error).toBe('not pushed: the change touches package.json, secrets/key, which its playbook forbids changing (package.json, secrets/**)');
    expect(() => git(origin, 'rev-parse', '--verify', '-q', `refs/heads/errand/${id}`)).toThrow();
  });

  it('reads the names a change touches as git stores them: a name git would quote cannot slip past a forbidden path', async () => {
    const origin = repoWith({ tidy: TIDY_PLAYBOOK('[pb-forbid-quoted]').replace('"secrets/**"]', '"secrets/**", ".github/**"]') });
    // Non-ASCII bytes, a quote, a backslash and a tab: `git diff` prints each such name quoted
    // and escaped ("b/\303\251t\303\251.yml"), which no glob of the playbook's matches.
    const names = ['.github/workflows/été.yml', '.github/workflows/q"uote.yml', '.github/workflows/back\\slash.yml', 'secrets/ü.txt', 'secrets/tab\there'];
    const create = names.map((n) => `printf 'on: push\\n' > ${shellQuote(n)}`);
    t.model.script('[pb-forbid-quoted]', [call('shell', { command: `mkdir -p .github/workflows secrets && ${create.join(' && ')} && ls .github/workflows secrets` }), FIX_SUM, FINISH]);
    const id = await createTask(t.errand, { repo: origin, playbook: 'tidy', maxReviewRounds: 0 });
    const task = await waitForStatus(t.errand, id, 'failed');
    expect(task.error).toMatch(/^not pushed: the change touches .*, which its playbook forbids changing \(package\.json, secrets\/\*\*, \.github\/\*\*\)$/);
    expect(task.error).toContain('.github/workflows/été.yml');
    expect(task.error).toContain('secrets/ü.txt');
    expect(task.error).toContain('".github/workflows/q\\"uote.yml"');
    expect(task.error).toContain('"secrets/tab\\there"');
    expect(() => git(origin, 'rev-parse', '--verify', '-q', `refs/heads/errand/${id}`)).toThrow();
    const blocked = (await eventsOf(id)).filter((e) => e.type === 'checkpoint_blocked');
    expect(blocked.length).toBeGreaterThan(0);
  });
});
