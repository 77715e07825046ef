// A campaign in the web console (Chromium against a real Errand): the list links its page; the
// page shows a row per repository with its task, status and pull request, pauses it (the next
// repository's task does not start) and resumes it; a task's page says which campaign it is in.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, expect, it } from '@jest/globals';
import { FINISH, FIX_SUM, gate } from '../fixtures/model-server.js';
import { BUGGY_SUM, makeOriginRepo } from '../fixtures/repos.js';
import { chromiumPath } from '../support/chromium-setup.js';
import { shows, useConsoleBrowser } from '../support/console-browser.js';
import { api, PROJECT_ROOT } from '../support/errand-process.js';
import { describeWithPart } from '../support/required-part.js';
import { writeTokensFile } from '../support/tokens-file.js';
import { useErrand } from '../support/use.js';

const { file: tokensFile, tokens: { lead } } = writeTokensFile({ lead: { name: 'ana', scopes: ['tasks:read', 'tasks:write', 'tasks:control'] } });
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
  },
);
