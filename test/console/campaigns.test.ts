// A campaign in the web console (Chromium against a real Errand): the list links its page; the
// page shows a row per repository with its task, status and pull request, pauses it (the next
// repository's task does not start) and resumes it; a task's page says which campaign it is in.
// The list's form starts one, over listed repositories or a pattern, with the API's word on a
// repository beside the list; a caller who may not start tasks sees no such form.
import { mkdirSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, expect, it } from '@jest/globals';
import { FINISH, FIX_SUM, gate } from '../fixtures/model-server.js';
import { BUGGY_SUM, git, makeOriginRepo } from '../fixtures/repos.js';
import { chromiumPath } from '../support/chromium-setup.js';
import { shows, useConsoleBrowser } from '../support/console-browser.js';
import { api, PROJECT_ROOT } from '../support/errand-process.js';
import { describeWithPart } from '../support/required-part.js';
import { writeTokensFile } from '../support/tokens-file.js';
import { useErrand } from '../support/use.js';

const { file: tokensFile, tokens: { lead, reader } } = writeTokensFile({
  lead: { name: 'ana', scopes: ['tasks:read', 'tasks:write', 'tasks:control'] },
  reader: { name: 'pat', scopes: ['tasks:read'] },
});
const SHOTS = path.join(PROJECT_ROOT, 'screenshots');

describeWithPart(
  { name: 'Chromium', missing: chromiumPath() ? undefined : 'no chromium on PATH', install: 'run `npm run setup:console` (installs chromium from Debian) or set ERRAND_CHROMIUM' },
  'the web console with a campaign',
  () => {
    const t = useErrand({ ERRAND_API_TOKENS_FILE: tokensFile });
    const chromium = useConsoleBrowser();
    beforeAll(() => {
      mkdirSync(SHOTS, { recursive: true });
    });

    it("shows a row per repository with its task and PR, pauses and resumes it, and a task's page names its campaign", async () => {
      const repos = [makeOriginRepo(BUGGY_SUM), makeOriginRepo(BUGGY_SUM)];
      const held = gate();
      t.model.script('[console-campaign]', [{ kind: 'later', after: held.promise, reply: FIX_SUM }, FINISH], { indexBy: 'turn' });
      const created = await api(t.errand.url, 'POST', '/campaigns', { repos, prompt: '[console-campaign] Fix sum.', concurrency: 1 }, lead);
      expect(created.status).toBe(201);
      const id = created.body.id as string;

      const page = await chromium.signIn(t.errand.url, lead);
      await page.goto(`${t.errand.url}/console#/campaigns`);
      await page.getByRole('link', { name: id }).click();
      await page.getByRole('heading', { name: `Campaign ${id}` }).waitFor();
      const rows = page.getByRole('table', { name: 'Repositories' });
      const row = (n: number) => rows.locator(`tr[data-row="${id}-${n}"]`);
      await shows(row(1), 'running');
      await shows(row(2), 'queued');

      await page.getByRole('button', { name: 'Pause' }).click();
      await shows(page.getByRole('status'), 'Paused: no more tasks start until it is resumed.');
      await shows(page.locator('.facts'), 'paused by ana');
      held.open();
      await shows(row(1), /PR open\s*#\d+/, 90_000);
      // Paused: the second repository's task has not started, and the page says so.
      await page.waitForTimeout(1_500);
      await shows(row(2), 'queued');

      await page.getByRole('button', { name: 'Resume' }).click();
      await shows(row(2), /PR open\s*#\d+/, 90_000);
      await shows(page.locator('.facts'), '2 repositories: 2 with a pull request');
      await page.screenshot({ path: path.join(SHOTS, 'campaign.png'), fullPage: true });

      await row(2).getByRole('link', { name: `${id}-2` }).click();
      await page.getByRole('heading', { name: `Task ${id}-2` }).waitFor();
      await shows(page.locator('.parent'), `One repository of campaign ${id}`);
      await page.locator('.parent').getByRole('link').click();
      await page.getByRole('heading', { name: `Campaign ${id}` }).waitFor();
    });

    it('starts a campaign from the form: a missing repository named beside the list, then its page and rows; and over a pattern', async () => {
      const repos = [makeOriginRepo(BUGGY_SUM), makeOriginRepo(BUGGY_SUM)];
      const missing = path.join(path.dirname(repos[1]!), 'missing.git');
      t.model.script('[console-campaign-new]', [FIX_SUM, FINISH], { indexBy: 'turn' });
      const before = (await api(t.errand.url, 'GET', '/campaigns', undefined, lead)).body.campaigns.length as number;

      const page = await chromium.signIn(t.errand.url, lead);
      await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Campaigns' }).click();
      await page.getByRole('heading', { name: 'Campaigns' }).waitFor();
      await page.getByRole('button', { name: 'New campaign' }).click();
      const form = page.getByRole('form', { name: 'New campaign' });
      await form.getByLabel('Repositories', { exact: true }).fill(`${repos[0]}\n${missing}\n`);
      await form.getByLabel('What to do').fill('[console-campaign-new] Fix sum.');
      await form.getByLabel('Tasks at once').fill('2');
      await form.getByRole('button', { name: 'Start campaign' }).click();
      // repos.1, the second line: named beside the list, and nothing started.
      await shows(page.locator('#camp-repos-issue'), missing);
      expect(await form.getByLabel('Repositories', { exact: true }).getAttribute('aria-invalid')).toBe('true');
      expect(await page.getByRole('alert').count()).toBe(0);
      expect((await api(t.errand.url, 'GET', '/campaigns', undefined, lead)).body.campaigns).toHaveLength(before);
      await page.screenshot({ path: path.join(SHOTS, 'new-campaign-errors.png') });

      await form.getByLabel('Repositories', { exact: true }).fill(repos.join('\n'));
      await form.getByRole('button', { name: 'Start campaign' }).click();
      await page.waitForURL(/#\/campaigns\/[a-z0-9-]+$/);
      const id = /#\/campaigns\/([a-z0-9-]+)$/.exec(page.url())![1]!;
      await page.getByRole('heading', { name: `Campaign ${id}` }).waitFor();
      await shows(page.locator('.facts'), '2 tasks');
      const rows = page.getByRole('table', { name: 'Repositories' });
      const row = (n: number) => rows.locator(`tr[data-row="${id}-${n}"]`);
      await shows(row(1), repos[0]!);
      await shows(row(2), repos[1]!);
      await shows(row(1), /PR open\s*#\d+/, 90_000);
      await shows(row(2), /PR open\s*#\d+/, 90_000);
      const started = (await api(t.errand.url, 'GET', `/campaigns/${id}`, undefined, lead)).body;
      expect(started.requester).toBe('ana');
      expect(started.concurrency).toBe(2);

      // By a pattern: the repositories the local forge finds under it, in name order.
      const dir = mkdtempSync(path.join(os.tmpdir(), 'errand-campaign-'));
      const origin = makeOriginRepo(BUGGY_SUM);
      for (const name of ['a', 'b']) git(dir, 'clone', '-q', '--bare', origin, path.join(dir, `${name}.git`));
      await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Campaigns' }).click();
      await page.getByRole('button', { name: 'New campaign' }).click();
      await form.getByLabel('Which repositories').selectOption('pattern');
      await form.getByLabel('Pattern').fill(`${dir}/*.none`);
      await form.getByLabel('What to do').fill('[console-campaign-new] Fix sum.');
      await form.getByRole('button', { name: 'Start campaign' }).click();
      await shows(page.locator('#camp-reposMatching-issue'), 'matches no repository');
      await form.getByLabel('Pattern').fill(`${dir}/*.git`);
      await form.getByRole('button', { name: 'Start campaign' }).click();
      await page.waitForURL((url) => url.hash !== `#/campaigns/${id}` && /^#\/campaigns\/[a-z0-9-]+$/.test(url.hash));
      const other = /#\/campaigns\/([a-z0-9-]+)$/.exec(page.url())![1]!;
      await page.getByRole('heading', { name: `Campaign ${other}` }).waitFor();
      await shows(rows.locator(`tr[data-row="${other}-1"]`), path.join(dir, 'a.git'));
      await shows(rows.locator(`tr[data-row="${other}-2"]`), path.join(dir, 'b.git'));
      // Cancelled from its page: what it says comes from the page's one way to act.
      page.once('dialog', (dialog) => void dialog.accept());
      await page.getByRole('button', { name: 'Cancel' }).click();
      await shows(page.getByRole('status'), 'Cancelling it and its running tasks.');
      await shows(page.locator('.facts'), 'cancelled by ana', 60_000);

      // A caller who may only read sees no form.
      const readOnly = await chromium.signIn(t.errand.url, reader);
      await readOnly.goto(`${t.errand.url}/console#/campaigns`);
      await readOnly.getByRole('heading', { name: 'Campaigns' }).waitFor();
      await shows(readOnly.getByRole('table', { name: 'Campaigns' }), id);
      expect(await readOnly.getByRole('button', { name: 'New campaign' }).count()).toBe(0);
    });
  },
);
