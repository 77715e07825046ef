// A task with several attempts in the web console (Chromium against a real Errand): while they
// run, a message goes to both; once they end, the attempts side by side with their tests and
// diffs, the chosen one marked, the rules that chose it, and a PR opened from the one it did not
// choose. The screenshot is screenshots/attempts.png (the README's is a copy).
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, expect, it } from '@jest/globals';
import { call, FINISH, FIX_SUM, gate, type ChatRequest, type Reply } from '../fixtures/model-server.js';
import { BUGGY_SUM, makeOriginRepo } from '../fixtures/repos.js';
import { chromiumPath } from '../support/chromium-setup.js';
import { shows, useConsoleBrowser } from '../support/console-browser.js';
import { api, eventually, PROJECT_ROOT } from '../support/errand-process.js';
import { describeWithPart } from '../support/required-part.js';
import { writeTokensFile } from '../support/tokens-file.js';
import { useErrand } from '../support/use.js';

const { file: tokensFile, tokens: { lead } } = writeTokensFile({ lead: { name: 'ana', scopes: ['tasks:read', 'tasks:write', 'tasks:control'] } });
const SHOTS = path.join(PROJECT_ROOT, 'screenshots');

/** Which attempt a coder's request is, from its system prompt. */
const attemptOf = (req: ChatRequest) => Number(/You are attempt (\d+) of/.exec(req.messages[0]?.content ?? '')?.[1]);

describeWithPart(
  { name: 'Chromium', missing: chromiumPath() ? undefined : 'no chromium on PATH', install: 'run `npm run setup:console` (installs chromium from Debian) or set ERRAND_CHROMIUM' },
  'the web console with a task run as several attempts',
  () => {
    const t = useErrand({ ERRAND_API_TOKENS_FILE: tokensFile });
    const chromium = useConsoleBrowser();
    beforeAll(() => {
      mkdirSync(SHOTS, { recursive: true });
    });

    it('shows the attempts side by side, the one chosen and why, their diffs, and opens a PR from the other', async () => {
      const origin = makeOriginRepo(BUGGY_SUM);
      // Both attempts' first model calls are held, so the page sees them running and a message reaches both.
      const held = gate();
      const firstStep = (req: ChatRequest): Reply => ({
        kind: 'later',
        after: held.promise,
        reply: attemptOf(req) === 1 ? call('write_file', { path: 'sum.js', content: 'exports.sum = (a, b) => a * b;\n' }) : FIX_SUM, // 1: still wrong, 2 * 3 is not 5
      });
      const script = t.model.script('[console-attempts]', [firstStep, FINISH], { indexBy: 'turn' });
      const comparisons: ChatRequest[] = [];
      const reviewer = (req: ChatRequest): Reply => {
        if (!JSON.stringify(req.tools ?? []).includes('submit_comparison')) return call('submit_review', { verdict: 'approve', summary: 'Does what it says.', comments: [] });
        comparisons.push(req);
        return call('submit_comparison', { preferred: 2, reasons: 'Attempt 2 adds.' });
      };
      t.model.reviews('[console-attempts]', Array.from({ length: 10 }, () => reviewer));

      const created = await api(t.errand.url, 'POST', '/tasks', { repo: origin, prompt: '[console-attempts] Fix sum.', attempts: 2 }, lead);
      expect(created.status).toBe(201);
      const id = created.body.id as string;

      const page = await chromium.signIn(t.errand.url, lead);
      await page.goto(`${t.errand.url}/console#/tasks/${id}`);
      await page.getByRole('heading', { name: `Task ${id}` }).waitFor();
      const attempts = page.getByRole('region', { name: 'Attempts' });
      const column = (n: number) => attempts.getByRole('region', { name: `Attempt ${n}` });
      await shows(attempts, 'Choosing once all attempts have ended.');
      await shows(column(1).locator('.facts'), 'running');

      // A message while both run: the page says which attempts took it (a task with attempts has no step of its own).
      await eventually(async () => (new Set(script.requests.map(attemptOf)).size === 2 ? true : undefined), 90_000, 'both attempts to call the model');
      await page.getByLabel('Message to the agent').fill('Keep it to sum.js.');
      await page.getByRole('button', { name: 'Send' }).click();
      await shows(page.getByRole('status'), 'Message #1 taken; passed to attempts 1, 2 (each reads it before its next step).');
      held.open();

      await shows(page.locator('.facts .status').first(), /^completed$/, 240_000);
      const done = (await api(t.errand.url, 'GET', `/tasks/${id}`, undefined, lead)).body;
      expect(done.choice.n).toBe(2);
      // One attempt left once attempt 1's tests failed: nothing to compare.
      expect(comparisons).toHaveLength(0);

      // Side by side: two columns on one row, each linking its own task and naming its branch.
      expect(await attempts.locator('.attempt').count()).toBe(2);
      const [one, two] = [await column(1).boundingBox(), await column(2).boundingBox()];
      expect(two!.x).toBeGreaterThan(one!.x + one!.width - 1);
      expect(Math.abs(two!.y - one!.y)).toBeLessThan(2);
      expect(await column(1).getByRole('link', { name: `${id}-a1` }).getAttribute('href')).toBe(`#/tasks/${id}-a1`);
      await shows(column(1), `errand/${id}-a1`);

      // The choice and why, rule by rule; the chosen column marked, the other not.
      await shows(attempts.locator('.choice'), 'Errand chose attempt 2 because:');
      await shows(attempts.locator('.choice li'), 'attempt 1 is out: its tests failed');
      await shows(column(2).locator('.badge'), 'chosen');
      expect(await column(1).locator('.badge').count()).toBe(0);
      await shows(column(1).locator('.facts'), /Tests\s*failed/);
      await shows(column(2).locator('.facts'), /Tests\s*passed/);
      await shows(column(2).locator('.facts'), /Review\s*approve/);
      await shows(column(2).locator('.facts'), /Size\s*2 lines, 1 file/);

      // Each attempt's change; the chosen one has its PR already, so no button.
      await shows(column(1).locator('.attempt-diff .add'), '+exports.sum = (a, b) => a * b;');
      await shows(column(2).locator('.attempt-diff .add'), '+exports.sum = (a, b) => a + b;');
      expect(await column(2).getByRole('button', { name: 'Open a PR from this attempt' }).count()).toBe(0);
      await page.screenshot({ path: path.join(SHOTS, 'attempts.png'), fullPage: true });

      await column(1).getByRole('button', { name: 'Open a PR from this attempt' }).click();
      const promoted = column(1).getByRole('link', { name: /Pull request #\d+/ });
      await promoted.waitFor();
      const after = (await api(t.errand.url, 'GET', `/tasks/${id}`, undefined, lead)).body;
      expect(after.attempts[0].promotedPr).toMatchObject({ head: `errand/${id}-a1` });
      expect(await promoted.getAttribute('href')).toBe(after.attempts[0].promotedPr.url);
      expect(after.attempts[0].promotedPr.number).not.toBe(done.pr.number);
      expect(chromium.violations).toEqual([]);
    });
  },
);
