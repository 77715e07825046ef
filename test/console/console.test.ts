// The web console in a real browser (Debian's Chromium, driven by playwright-core) against a real
// Errand (API and worker) and the scripted model: sign in, start a task from the form (the API's
// errors beside the fields), watch it finish, and a read-only token seeing no button it may not
// use. Hostile text (a model's answer, a repository name) is planted where the page shows it,
// and nothing of it runs. Screenshots go to screenshots/ (git-ignored; the README's are copies).
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { stringify } from 'yaml';
import { hashToken, newToken } from '../../apps/api/auth/api-tokens.js';
import { call, FIX_SUM, gate } from '../fixtures/model-server.js';
import { BUGGY_SUM, makeOriginRepo } from '../fixtures/repos.js';
import { chromiumPath } from '../support/chromium-setup.js';
import { PROJECT_ROOT } from '../support/errand-process.js';
import { describeWithPart } from '../support/required-part.js';
import { useErrand } from '../support/use.js';

const writer = newToken();
const reader = newToken();
const tokensFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'errand-console-')), 'tokens.yaml');
writeFileSync(
  tokensFile,
  stringify({
    tokens: [
      { name: 'sam', sha256: hashToken(writer), scopes: ['tasks:read', 'tasks:write', 'tasks:control'] },
      { name: 'pat', sha256: hashToken(reader), scopes: ['tasks:read'] },
    ],
  }),
);
const SHOTS = path.join(PROJECT_ROOT, 'screenshots');
/** What a page runs if it ever executes planted markup. */
const HOSTILE = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>';
const HOSTILE_FILE = '<img src=x onerror=window.__pwned=3>.md';

describeWithPart(
  { name: 'Chromium', missing: chromiumPath() ? undefined : 'no chromium on PATH', install: 'run `npm run setup:console` (installs chromium from Debian) or set ERRAND_CHROMIUM' },
  'the web console',
  () => {
    const t = useErrand({ ERRAND_API_TOKENS_FILE: tokensFile });
    let browser: Browser;
    beforeAll(async () => {
      mkdirSync(SHOTS, { recursive: true });
      browser = await chromium.launch({
        executablePath: chromiumPath(),
        // This machine's network is closed: Chromium's own background traffic is turned off.
        args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      });
    });
    afterAll(async () => {
      await browser?.close();
    });

    const violations: string[] = [];
    const signIn = async (token: string): Promise<Page> => {
      const page = await (await browser.newContext({ viewport: { width: 1200, height: 800 } })).newPage();
      const errors: string[] = [];
      page.on('pageerror', (err) => errors.push(err.message));
      // Whatever the page tries that its Content-Security-Policy refuses (an inline script, eval).
      page.on('console', (m) => m.type() === 'error' && /Content Security Policy/i.test(m.text()) && violations.push(m.text()));
      const res = await page.goto(`${t.errand.url}/console`);
      expect(res?.headers()['content-security-policy']).toContain("script-src 'self'");
      await page.getByLabel('API token').fill(token);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { name: 'Tasks' }).waitFor();
      expect(errors).toEqual([]);
      return page;
    };
    const pwned = (page: Page) => page.evaluate(() => (globalThis as { __pwned?: number }).__pwned);

    it('signs in, starts a task from the form with the API\'s errors beside the fields, and shows it to the end', async () => {
      const origin = makeOriginRepo(BUGGY_SUM);
      const slow = gate();
      // Hostile markup in the model's answer, in a file's name and in its lines (the diff shows both).
      t.model.script('[console]', [
        { kind: 'later', after: slow.promise, reply: FIX_SUM },
        call('write_file', { path: HOSTILE_FILE, content: `${HOSTILE}\n` }),
        call('finish', { summary: `sum adds now ${HOSTILE}` }),
      ]);
      const page = await signIn(writer);
      expect(await page.locator('header').textContent()).toContain('sam');

      await page.getByRole('button', { name: 'New task' }).click();
      const form = page.getByRole('form', { name: 'New task' });
      // Hostile input comes back in the API's message: shown as text beside its field.
      await form.getByLabel('Repository').fill(HOSTILE);
      await form.getByLabel('What to do').fill('[console] Fix sum.');
      await form.getByRole('button', { name: 'Start task' }).click();
      await shows(page.locator('#new-repo-issue'), /is neither a git URL nor an absolute path/);
      expect(await page.locator('#new-repo-issue').textContent()).toContain(HOSTILE);
      expect(await form.getByLabel('Repository').getAttribute('aria-invalid')).toBe('true');
      await page.screenshot({ path: path.join(SHOTS, 'new-task-errors.png') });

      await form.getByLabel('Repository').fill(origin);
      await form.getByRole('button', { name: 'Start task' }).click();
      await page.waitForURL(/#\/tasks\/[a-f0-9]{12}$/);
      const id = /#\/tasks\/([a-f0-9]{12})$/.exec(page.url())![1]!;
      await page.getByRole('heading', { name: `Task ${id}` }).waitFor();
      await page.getByRole('button', { name: 'Pause' }).waitFor();
      // The timeline is live: the first step has started while its model call is held.
      const timeline = page.getByRole('region', { name: 'Timeline' });
      await shows(timeline.locator('li'), 'step 1 started');
      await shows(timeline.locator('.live'), /^live$/);
      await page.screenshot({ path: path.join(SHOTS, 'task-running.png') });
      slow.open();
      // It fills as the task goes on, with no reload, and ends with the task.
      await shows(timeline.locator('li[data-event="tool_called"]'), 'write_file called');
      await shows(timeline.locator('li'), /tests passed/, 90_000);
      await shows(timeline.locator('li'), /pull request #\d+ opened/, 90_000);
      await shows(timeline.locator('.live'), /^ended$/, 30_000);

      await shows(page.locator('.facts .status'), /^completed$/, 90_000);
      await page.getByRole('link', { name: /Pull request #\d+/ }).waitFor();
      // The model's answer, markup and all, is text on the page; none of it ran.
      await shows(page.getByRole('region', { name: 'Summary' }), HOSTILE);
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

    it('shows a read-only token no button it may not use', async () => {
      const origin = makeOriginRepo(BUGGY_SUM);
      const hold = gate();
      t.model.script('[console-ro]', [{ kind: 'later', after: hold.promise, reply: FIX_SUM }, call('finish', { summary: 'done' })]);
      const started = await fetch(`${t.errand.url}/tasks`, { method: 'POST', headers: { authorization: `Bearer ${writer}`, 'content-type': 'application/json' }, body: JSON.stringify({ repo: origin, prompt: '[console-ro] Fix sum.' }) });
      const { id } = (await started.json()) as { id: string };
      try {
        const page = await signIn(reader);
        expect(await page.getByRole('button', { name: 'New task' }).count()).toBe(0);
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

/** Waits until `locator` shows `text` (playwright-core has no web-first assertions of its own). */
function shows(locator: Locator, text: string | RegExp, timeout = 30_000): Promise<void> {
  return locator.filter({ hasText: text }).first().waitFor({ timeout });
}
