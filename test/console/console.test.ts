// The web console in a real browser (Debian's Chromium, driven by playwright-core) against a real
// Errand (API and worker) and the scripted model: sign in, start a task from the form (the API's
// errors beside the fields), watch it finish, and a read-only token seeing no button it may not
// use. Hostile text (a model's answer, a repository name) is planted where the page shows it,
// and nothing of it runs. Screenshots go to screenshots/ (git-ignored; the README's are copies).
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type { Page } from 'playwright-core';
import { call, FINISH, FIX_SUM, gate } from '../fixtures/model-server.js';
import { BUGGY_SUM, makeOriginRepo } from '../fixtures/repos.js';
import { chromiumPath } from '../support/chromium-setup.js';
import { HOSTILE, pwned, shows, useConsoleBrowser } from '../support/console-browser.js';
import { npmOriginRepo, registriesEnv, registryHost } from '../support/dependency-registries.js';
import { startNpmRegistry, type NpmRegistry } from '../support/npm-registry.js';
import { eventually, PROJECT_ROOT } from '../support/errand-process.js';
import { describeWithPart } from '../support/required-part.js';
import { writeTokensFile } from '../support/tokens-file.js';
import { useErrand } from '../support/use.js';

const { file: tokensFile, tokens: { writer, reader } } = writeTokensFile({
  writer: { name: 'sam', scopes: ['tasks:read', 'tasks:write', 'tasks:control', 'schedules:write'] },
  reader: { name: 'pat', scopes: ['tasks:read'] },
});
const SHOTS = path.join(PROJECT_ROOT, 'screenshots');
const HOSTILE_FILE = '<img src=x onerror=window.__pwned=3>.md';

describeWithPart(
  { name: 'Chromium', missing: chromiumPath() ? undefined : 'no chromium on PATH', install: 'run `npm run setup:console` (installs chromium from Debian) or set ERRAND_CHROMIUM' },
  'the web console',
  () => {
    // A package registry for the dependency bump: alpha 1.0.0, and 1.1.0 to bump to.
    let npm: NpmRegistry;
    beforeAll(async () => {
      npm = await startNpmRegistry(registryHost());
      for (const version of ['1.0.0', '1.1.0']) await npm.publish({ name: 'alpha', version, files: { 'index.js': `exports.version = '${version}';\n` } });
    });
    afterAll(async () => {
      await npm?.stop();
    });
    const t = useErrand(async () => ({ ERRAND_API_TOKENS_FILE: tokensFile, ...(await registriesEnv({ npm })) }));
    const chromium = useConsoleBrowser();
    const { violations } = chromium;
    beforeAll(() => {
      mkdirSync(SHOTS, { recursive: true });
    });
    const signIn = (token: string): Promise<Page> => chromium.signIn(t.errand.url, token);

    it('signs in, starts a task from the form with the API\'s errors beside the fields, and shows it to the end', async () => {
      const origin = makeOriginRepo(BUGGY_SUM);
      const slow = gate();
      // Hostile markup in the model's answer, in a file's name and in its lines (the diff shows both).
      t.model.script('[console]', [
        { kind: 'later', after: slow.promise, reply: FIX_SUM },
        call('write_file', { path: HOSTILE_FILE, content: `${HOSTILE}\n` }),
        call('finish', { summary: `sum adds now ${HOSTILE} [see](javascript:window.__pwned=4) [docs](https://example.com/sum)` }),
      ]);
      const page = await signIn(writer);
      expect(await page.locator('header').textContent()).toContain('sam');

      await page.getByRole('button', { name: 'New task' }).click();
      const form = page.getByRole('form', { name: 'New task' });
      // Hostile input comes back in the API's message: shown as text beside its field.
      await form.getByLabel('Repository').fill(HOSTILE);
      // The prompt's first line becomes the commit's subject and the PR's title: hostile too.
      await form.getByLabel('What to do').fill(`[console] Fix sum. ${HOSTILE}`);
      await form.getByRole('button', { name: 'Start task' }).click();
      await shows(page.locator('#new-repo-issue'), /is neither a git URL nor an absolute path/);
      expect(await page.locator('#new-repo-issue').textContent()).toContain(HOSTILE);
      expect(await form.getByLabel('Repository').getAttribute('aria-invalid')).toBe('true');
      await page.screenshot({ path: path.join(SHOTS, 'new-task-errors.png') });

      await form.getByLabel('Repository').fill(origin);
      // More attempts than the server runs: the API's word beside the field, and no task.
      await form.getByLabel('Attempts', { exact: true }).fill('99');
      await form.getByLabel('Their budget').waitFor();
      await form.getByRole('button', { name: 'Start task' }).click();
      await shows(page.locator('#new-attempts-issue'), /^at most \d+ on this server \(ERRAND_MAX_ATTEMPTS\)$/);
      expect(await form.getByLabel('Attempts', { exact: true }).getAttribute('aria-invalid')).toBe('true');
      expect(page.url()).not.toMatch(/#\/tasks\//);
      await form.getByLabel('Attempts', { exact: true }).fill('');
      expect(await form.getByLabel('Their budget').count()).toBe(0);
      await form.getByRole('button', { name: 'Start task' }).click();
      await page.waitForURL(/#\/tasks\/[a-f0-9]{12}$/);
      const id = /#\/tasks\/([a-f0-9]{12})$/.exec(page.url())![1]!;
      await page.getByRole('heading', { name: `Task ${id}` }).waitFor();
      await page.getByRole('button', { name: 'Pause' }).waitFor();
      // The timeline is live: the first step has started while its model call is held.
      const timeline = page.getByRole('region', { name: 'Timeline' });
      await shows(timeline.locator('li'), 'step 1 started');
      await shows(timeline.locator('.live'), /^live$/);
      // Its budgets as it spends them: time too, as the task counts it.
      await shows(page.locator('.budgets'), /Steps: \d+ of \d+/);
      await shows(page.locator('.budgets'), /Minutes: 0/);
      await page.screenshot({ path: path.join(SHOTS, 'task-running.png') });
      slow.open();
      // It fills as the task goes on, with no reload, and ends with the task.
      await shows(timeline.locator('li[data-event="tool_called"]'), 'write_file called');
      await shows(timeline.locator('li'), /tests passed/, 90_000);
      await shows(timeline.locator('li'), /pull request #\d+ opened/, 90_000);
      // The review's verdict, its words folded under it.
      await shows(timeline.locator('li[data-event="review_finished"]'), /review round 1: approve/, 90_000);
      expect(await timeline.locator('li[data-event="review_finished"] details pre').count()).toBe(1);
      await shows(timeline.locator('.live'), /^ended$/, 30_000);

      await shows(page.locator('.facts .status'), /^completed$/, 90_000);
      await page.getByRole('link', { name: /Pull request #\d+/ }).waitFor();
      // Its title is the commit's subject: the prompt's first sentence (the line is too long to be one).
      expect(await page.getByRole('link', { name: /Pull request #\d+/ }).textContent()).toMatch(/: \[console\] Fix sum$/);
      // The prompt itself, markup and all, is text on the page.
      await shows(page.locator('.facts .prompt'), `[console] Fix sum. ${HOSTILE}`);
      // The model's answer, markup and all, is text on the page; none of it ran.
      await shows(page.getByRole('region', { name: 'Summary' }), HOSTILE);
      // Markdown links: an https one is a link; a javascript: one is its text only, never an href.
      const summaryLinks = page.getByRole('region', { name: 'Summary' }).locator('a');
      expect(await summaryLinks.evaluateAll((as) => as.map((a) => a.getAttribute('href')))).toEqual(['https://example.com/sum']);
      await shows(page.getByRole('region', { name: 'Summary' }), 'see');
      // The diff: the file list and each file, the hostile name and line as text.
      const diff = page.getByRole('region', { name: 'Diff' });
      await shows(diff, 'sum.js');
      await shows(diff, HOSTILE_FILE);
      await shows(diff.locator('.d2h-code-line-ctn').filter({ hasText: HOSTILE }), HOSTILE);
      // The records, read when opened: the transcript (the tool call with its hostile path) and the test log.
      const records = page.getByRole('region', { name: 'Records' });
      await records.getByText('Transcript').click();
      await shows(records.locator('.transcript .call'), `write_file(`);
      await shows(records.locator('.transcript'), HOSTILE_FILE);
      await records.getByText('Test log').click();
      await shows(records.locator('.log'), '$ npm test');
      expect(await pwned(page)).toBeUndefined();
      expect(violations).toEqual([]);
      await page.screenshot({ path: path.join(SHOTS, 'task-completed.png'), fullPage: true });

      // The list shows it, live, and filters find it.
      await page.getByRole('link', { name: '← Tasks' }).click();
      const row = page.locator(`tr[data-task="${id}"]`);
      await shows(row, /completed/);
      expect(await row.textContent()).toContain('sam');
      // What the task is, not only its id: its prompt's title, as text.
      expect(await row.locator('td.what a').textContent()).toBe('[console] Fix sum');
      // What it cost and its pull request, from the list itself.
      await shows(row, /\$\d+\.\d\d/);
      await row.getByRole('link', { name: /^#\d+/ }).waitFor();
      await page.getByLabel('Requester').fill('nobody-at-all');
      await page.getByLabel('Requester').press('Enter');
      await row.waitFor({ state: 'detached' });
      await page.getByLabel('Requester').fill('sam');
      await page.getByLabel('Requester').press('Enter');
      await row.waitFor();
      await page.screenshot({ path: path.join(SHOTS, 'task-list.png') });
    });

    it('approves a plan it steered, and cancels another task', async () => {
      const origin = makeOriginRepo(BUGGY_SUM);
      t.model.script('[console-plan]', [
        call('submit_plan', { plan: `Change - to + in sum.js. ${HOSTILE}` }),
        (req) =>
          req.messages.some((m) => m.role === 'user' && (m.content ?? '').includes('also run npm test'))
            ? call('submit_plan', { plan: 'Change - to + in sum.js, then run npm test.' })
            : { kind: 'text', text: 'no message arrived' },
        FIX_SUM,
        call('finish', { summary: 'done as planned' }),
      ]);
      const page = await signIn(writer);
      await page.getByRole('button', { name: 'New task' }).click();
      const form = page.getByRole('form', { name: 'New task' });
      await form.getByLabel('Repository').fill(origin);
      await form.getByLabel('What to do').fill('[console-plan] Fix sum.');
      await form.getByLabel('Approve its plan before it changes anything').check();
      await form.getByRole('button', { name: 'Start task' }).click();
      await page.waitForURL(/#\/tasks\/[a-f0-9]{12}$/);

      const plan = page.getByRole('region', { name: 'Plan' });
      await shows(plan, HOSTILE, 60_000);
      await page.getByRole('button', { name: 'Approve plan' }).waitFor();
      // Steered: the message goes to the agent, which revises its plan.
      await page.getByLabel('Message to the agent').fill('also run npm test');
      await page.getByRole('button', { name: 'Send' }).click();
      await shows(page.getByRole('status'), /Message #1 taken/);
      await shows(plan, 'then run npm test', 60_000);
      expect(await pwned(page)).toBeUndefined();
      await page.screenshot({ path: path.join(SHOTS, 'plan-awaiting-approval.png'), fullPage: true });
      await page.getByRole('button', { name: 'Approve plan' }).click();
      await shows(page.locator('.facts .status'), /^completed$/, 90_000);
      await shows(plan, 'Approved by sam.');

      // Another task, cancelled from its page (after the browser's confirmation).
      const hold = gate();
      t.model.script('[console-cancel]', [{ kind: 'later', after: hold.promise, reply: FIX_SUM }, call('finish', { summary: 'never' })]);
      const started = await fetch(`${t.errand.url}/tasks`, { method: 'POST', headers: { authorization: `Bearer ${writer}`, 'content-type': 'application/json' }, body: JSON.stringify({ repo: origin, prompt: '[console-cancel] Fix sum.' }) });
      const { id } = (await started.json()) as { id: string };
      try {
        await page.goto(`${t.errand.url}/console#/tasks/${id}`);
        page.once('dialog', (dialog) => void dialog.accept());
        await page.getByRole('button', { name: 'Cancel' }).click();
        await shows(page.locator('.facts .status'), /^cancelled$/, 60_000);
        expect(await page.getByRole('button', { name: 'Cancel' }).count()).toBe(0);
      } finally {
        hold.open();
      }
      expect(violations).toEqual([]);
    });

    it('schedules a playbook from the form, pauses it with a note, runs it now and shows the run; the task form runs a playbook too', async () => {
      const origin = makeOriginRepo({
        ...BUGGY_SUM,
        '.errand/playbooks/fix-fn.md': [
          '---',
          'name: fix-fn',
          'title: "[console-sched] Fix a function"',
          'outcome: The function does what its test says.',
          'params:',
          '  fn: { type: string, values: [sum, product], default: sum, description: "which function" }',
          '  tries: { type: number, minimum: 1, maximum: 3, description: "how many tries" }',
          '---',
          '[console-sched] Fix {{fn}}, in at most {{tries}} tries.',
          '',
        ].join('\n'),
      });
      const coder = t.model.script('[console-sched]', [FIX_SUM, FINISH], { indexBy: 'turn' });
      const page = await signIn(writer);
      await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Schedules' }).click();
      await page.getByRole('heading', { name: 'Schedules' }).waitFor();
      await page.getByRole('button', { name: 'New schedule' }).click();
      const form = page.getByRole('form', { name: 'New schedule' });
      await form.getByLabel('Name', { exact: true }).fill('console-weekly');
      await form.getByLabel('Repository').fill(origin);
      // The repository's own playbook is offered, its parameters as their types ask.
      await form.locator('#sched-playbook option[value="fix-fn"]').waitFor({ state: 'attached' });
      await form.getByLabel('Playbook', { exact: true }).selectOption('fix-fn');
      await shows(form, 'The function does what its test says.');
      expect(await form.locator('#sched-param-fn option').allTextContents()).toEqual(['(default)', 'sum', 'product']);
      await form.getByLabel('tries').fill('9');
      await form.getByLabel('Cron').fill('0 6 * * MON');
      await form.getByRole('button', { name: 'Create schedule' }).click();
      // The API's word on a parameter, beside it.
      await shows(page.locator('#sched-param-tries-issue'), /3/);
      expect(await form.getByLabel('tries').getAttribute('aria-invalid')).toBe('true');
      await form.getByLabel('tries').fill('2');
      await form.getByRole('button', { name: 'Create schedule' }).click();
      await page.waitForURL(/#\/schedules\/console-weekly$/);
      await page.getByRole('heading', { name: 'Schedule console-weekly' }).waitFor();
      await shows(page.locator('.facts'), 'fix-fn (fn=sum, tries=2)');
      await shows(page.getByRole('region', { name: 'Next runs' }).locator('li'), /in \d+[smhd]/);

      // Paused with a note (hostile text, shown as text), then run at once all the same.
      await page.getByLabel('Why pause it (optional)').fill(`release freeze ${HOSTILE}`);
      await page.getByRole('button', { name: 'Pause' }).click();
      await shows(page.locator('.facts'), /paused/);
      await shows(page.locator('.facts'), `release freeze ${HOSTILE} (by sam)`);
      await shows(page.getByRole('region', { name: 'Next runs' }), 'None while it is paused.');
      await page.getByRole('button', { name: 'Run now' }).click();
      await shows(page.getByRole('status'), 'Started a run');
      const runs = page.getByRole('region', { name: 'Recent runs' });
      await shows(runs.locator('td.status'), /^completed$/, 120_000);
      expect(coder.requests.at(-2)?.messages.some((m) => (m.content ?? '').includes('[console-sched] Fix sum, in at most 2 tries.'))).toBe(true);
      await page.screenshot({ path: path.join(SHOTS, 'schedule.png'), fullPage: true });
      await runs.locator('td a').first().click();
      await shows(page.locator('.facts .status'), /^completed$/);
      await page.getByRole('link', { name: 'Pull request #' }).first().waitFor();
      // The run's task says which schedule started it, and leads back there.
      await shows(page.locator('.parent'), 'A run of schedule console-weekly');
      await page.locator('.parent').getByRole('link', { name: 'console-weekly' }).click();
      await page.getByRole('heading', { name: 'Schedule console-weekly' }).waitFor();

      // The list: its playbook, its cron, paused and why, and its last run.
      await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Schedules' }).click();
      const row = page.locator('tr[data-schedule="console-weekly"]');
      await shows(row, /completed/);
      expect(await row.textContent()).toContain('cron 0 6 * * MON');
      expect(await row.textContent()).toContain(`paused: release freeze ${HOSTILE} (by sam)`);
      await page.screenshot({ path: path.join(SHOTS, 'schedules.png') });

      // The task form offers the playbooks too; a playbook needs no prompt.
      await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Tasks' }).click();
      await page.getByRole('button', { name: 'New task' }).click();
      const task = page.getByRole('form', { name: 'New task' });
      await task.getByLabel('Repository').fill(origin);
      await task.locator('#new-playbook option[value="fix-fn"]').waitFor({ state: 'attached' });
      await task.getByLabel('Playbook', { exact: true }).selectOption('fix-fn');
      await task.getByLabel('tries').fill('1');
      await task.getByLabel('Most dollars').fill('-1');
      await task.getByRole('button', { name: 'Start task' }).click();
      await shows(page.locator('#new-maxCostUsd-issue'), 'more than 0 dollars');
      await task.getByLabel('Most dollars').fill('');
      await task.getByLabel('Most steps').fill('12');
      await task.getByRole('button', { name: 'Start task' }).click();
      await page.waitForURL(/#\/tasks\/[a-f0-9]{12}$/);
      await shows(page.locator('.budgets'), 'Steps: 0 of 12');
      await shows(page.locator('.facts .status'), /^completed$/, 90_000);
      expect(coder.requests.some((r) => r.messages.some((m) => (m.content ?? '').includes('[console-sched] Fix sum, in at most 1 tries.')))).toBe(true);
      expect(await pwned(page)).toBeUndefined();
      expect(violations).toEqual([]);
    });

    it("shows a dependency bump's groups, each linked to its task and PR, and each group's task links back", async () => {
      // The review agent reads the update (it approves: the fixture's default review).
      t.model.reviews('chore(deps):');
      const origin = await npmOriginRepo(npm, { alpha: '1.0.0' }, "test('alpha loads', () => assert.ok(require('alpha').version));");
      const created = await fetch(`${t.errand.url}/tasks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${writer}` },
        body: JSON.stringify({ repo: origin, playbook: 'dependency-bump', params: { update: 'minor' } }),
      });
      expect(created.status).toBe(201);
      const bumpId = ((await created.json()) as { id: string }).id;
      const ended = await eventually(async () => {
        const res = await fetch(`${t.errand.url}/tasks/${bumpId}`, { headers: { authorization: `Bearer ${writer}` } });
        const view = (await res.json()) as { status: string };
        return view.status === 'running' ? undefined : view;
      }, 180_000, 'the dependency bump to end');
      expect(ended).toMatchObject({ status: 'completed', kind: 'dependency_bump', dependencyGroups: [{ name: 'all', status: 'pull_request' }] });
      const page = await signIn(writer);
      await page.goto(`${t.errand.url}/console#/tasks/${bumpId}`);
      await page.getByRole('heading', { name: `Dependency bump ${bumpId}` }).waitFor();
      await shows(page.locator('.facts .status'), /^completed$/);
      // No steps, tokens, timeline or diff of its own: its groups', one click away.
      expect(await page.getByRole('region', { name: 'Budgets' }).count()).toBe(0);
      const group = page.getByRole('region', { name: 'Groups' }).locator('tr[data-group="all"]');
      await shows(group, /pull request/);
      await group.getByRole('link', { name: /^#\d+$/ }).waitFor();
      await page.screenshot({ path: path.join(SHOTS, 'dependency-bump.png'), fullPage: true });
      await group.getByRole('link', { name: /^[a-f0-9]{12}-/ }).click();
      await page.getByRole('heading', { name: /^Task / }).waitFor();
      await shows(page.locator('.parent'), `Part of task ${bumpId}`);
      await page.getByRole('link', { name: /Pull request #\d+/ }).waitFor();
      // Its summary, Markdown, is rendered: a table whose cells hold the package names as code, no pipes or backticks.
      const summary = page.getByRole('region', { name: 'Summary' });
      await summary.locator('table.md td code', { hasText: 'alpha' }).first().waitFor();
      expect(await summary.textContent()).not.toMatch(/\|\s*`alpha`/);
      // The lockfile's diff is folded (generated, long); the manifest's is shown.
      const diff = page.getByRole('region', { name: 'Diff' });
      await diff.locator('.diff-file[data-file="package.json"] .d2h-code-line-ctn').first().waitFor();
      const lockfile = diff.locator('details.diff-file[data-file="package-lock.json"]');
      expect(await lockfile.getAttribute('open')).toBeNull();
      await shows(lockfile.locator('summary'), /package-lock\.json \([\d,]+ lines, generated\): show/);
      await page.locator('.parent').getByRole('link').click();
      await page.getByRole('heading', { name: `Dependency bump ${bumpId}` }).waitFor();
      expect(violations).toEqual([]);
    });

    it('is usable from the keyboard alone: focus starts where the page does and Tab goes in reading order', async () => {
      const origin = makeOriginRepo(BUGGY_SUM);
      t.model.script('[console-keys]', [FIX_SUM, call('finish', { summary: 'done by keyboard' })]);
      const page = await (await chromium.browser.newContext({ viewport: { width: 1200, height: 800 } })).newPage();
      await page.goto(`${t.errand.url}/console`);
      // What has focus, as `tag:label` (run in the page, so written as the page's script).
      const focused = (): Promise<string> =>
        page.evaluate(`(() => {
          const el = document.activeElement;
          const label = el && el.id ? document.querySelector('label[for="' + el.id + '"]')?.textContent : undefined;
          return el.tagName.toLowerCase() + ':' + (label ?? el.getAttribute('aria-label') ?? el.textContent ?? '').trim();
        })()`);
      /** Presses Tab until `target` has focus; the stops on the way. */
      const tabTo = async (target: string, most = 20): Promise<string[]> => {
        const stops: string[] = [];
        for (let i = 0; i < most; i++) {
          await page.keyboard.press('Tab');
          stops.push(await focused());
          if (stops.at(-1) === target) return stops;
        }
        throw new Error(`Tab never reached ${target}; it went ${stops.join(' → ')}`);
      };
      await page.locator('#token').waitFor();
      expect(await focused()).toBe('input:API token');
      await page.keyboard.type(writer);
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { name: 'Tasks' }).waitFor();
      expect(await focused()).toBe('h1:Tasks');
      // From the heading on: the page's own controls, not the header's again.
      expect(await tabTo('button:New task')).toEqual(['button:New task']);
      // Focus is visible where it is.
      expect(await page.evaluate('getComputedStyle(document.activeElement).outlineStyle')).toBe('solid');
      await page.keyboard.press('Enter');
      await page.getByRole('form', { name: 'New task' }).waitFor();
      expect(await focused()).toBe('input:Repository');
      await page.keyboard.type(origin);
      expect(await tabTo('textarea:What to do')).toEqual(['input:Base branch', 'select:Playbook', 'textarea:What to do']);
      await page.keyboard.type('[console-keys] Fix sum.');
      expect(await tabTo('button:Start task')).toEqual([
        'input:Most steps',
        'input:Most tokens',
        'input:Most dollars',
        'input:Most minutes',
        'input:Attempts',
        'input:Approve its plan before it changes anything',
        'button:Start task',
      ]);
      await page.keyboard.press('Enter');
      await page.waitForURL(/#\/tasks\/[a-f0-9]{12}$/);
      const id = /#\/tasks\/([a-f0-9]{12})$/.exec(page.url())![1]!;
      await page.getByRole('heading', { name: `Task ${id}` }).waitFor();
      expect(await focused()).toBe(`h1:Task ${id}`);
      await shows(page.locator('.facts .status'), /^completed$/, 90_000);
      // Back to the list by keyboard: the first link after the heading's start.
      await page.keyboard.press('Shift+Tab');
      expect(await focused()).toBe('a:← Tasks');
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { name: 'Tasks' }).waitFor();
      expect(await focused()).toBe('h1:Tasks');
    });

    it('shows a read-only token no button it may not use', async () => {
      const origin = makeOriginRepo(BUGGY_SUM);
      const hold = gate();
      t.model.script('[console-ro]', [{ kind: 'later', after: hold.promise, reply: FIX_SUM }, call('finish', { summary: 'done' })]);
      const started = await fetch(`${t.errand.url}/tasks`, { method: 'POST', headers: { authorization: `Bearer ${writer}`, 'content-type': 'application/json' }, body: JSON.stringify({ repo: origin, prompt: '[console-ro] Fix sum.' }) });
      const { id } = (await started.json()) as { id: string };
      try {
        const page = await signIn(reader);
        expect(await page.getByRole('button', { name: 'New task' }).count()).toBe(0);
        await page.getByRole('link', { name: 'Schedules' }).click();
        await page.getByRole('heading', { name: 'Schedules' }).waitFor();
        expect(await page.getByRole('button', { name: 'New schedule' }).count()).toBe(0);
        await page.getByRole('link', { name: 'Tasks' }).click();
        await page.locator(`tr[data-task="${id}"] a`).click();
        await shows(page.locator('.facts .status'), /^running$/);
        expect(await page.getByRole('button', { name: 'Pause' }).count()).toBe(0);
        expect(await page.getByRole('button', { name: 'Cancel' }).count()).toBe(0);
        // A wrong token is told so, and nothing is kept.
        await page.getByRole('button', { name: 'Sign out' }).click();
        await page.getByLabel('API token').fill('errand_not-a-token');
        await page.getByRole('button', { name: 'Sign in' }).click();
        await shows(page.getByRole('alert'), 'That token is not known to this server.');
      } finally {
        hold.open();
      }
    });
  },
);
