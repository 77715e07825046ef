// A repository's kept environment in the web console (Chromium against a real Errand): the second
// task on a repository with a setup shows in its timeline that it started from the environment
// the first one's setup left, and its page shows the snapshot (size, base, inputs) with the hits
// and misses; the button removes it, after asking, and the next task runs its setup again. The
// environment-refresh schedule's page runs it now and shows what the run did.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { FINISH, FIX_SUM } from '../fixtures/model-server.js';
import { BUGGY_SUM, makeOriginRepo } from '../fixtures/repos.js';
import { chromiumPath } from '../support/chromium-setup.js';
import { shows, useConsoleBrowser } from '../support/console-browser.js';
import { api, eventually, PROJECT_ROOT } from '../support/errand-process.js';
import { describeWithPart } from '../support/required-part.js';
import { writeTokensFile } from '../support/tokens-file.js';
import { useErrand, useTemporal } from '../support/use.js';

const { file: tokensFile, tokens: { writer, ops } } = writeTokensFile({
  writer: { name: 'sam', scopes: ['tasks:read', 'tasks:write', 'tasks:control'] },
  ops: { name: 'olu', scopes: ['tasks:read', 'schedules:write'] },
});
const SHOTS = path.join(PROJECT_ROOT, 'screenshots');

describeWithPart(
  { name: 'Chromium', missing: chromiumPath() ? undefined : 'no chromium on PATH', install: 'run `npm run setup:console` (installs chromium from Debian) or set ERRAND_CHROMIUM' },
  "the web console with a repository's kept environment",
  () => {
    // The environment-refresh schedule exists (run from its page here; it never comes due in a test).
    const t = useErrand({ ERRAND_API_TOKENS_FILE: tokensFile, ERRAND_ENVIRONMENT_REFRESH_MINUTES: String(60 * 24 * 365) });
    const temporal = useTemporal();
    afterAll(async () => {
      await temporal.client.schedule.getHandle(`errand-environment-refresh-${t.errand.taskQueue}`).delete().catch(() => undefined);
    });
    const chromium = useConsoleBrowser();
    beforeAll(() => {
      mkdirSync(SHOTS, { recursive: true });
    });

    it('shows the environment a task started from, and removes it when asked', async () => {
      const origin = makeOriginRepo({
        ...BUGGY_SUM,
        '.gitignore': 'node_modules/\n',
        'package-lock.json': '{"lockfileVersion": 3}\n',
        '.errand/setup.sh': 'mkdir -p node_modules/dep && echo "module.exports = 1;" > node_modules/dep/index.js\n',
      });
      const start = async (n: number) => {
        t.model.script(`[console-env-${n}]`, [FIX_SUM, FINISH]);
        const created = await api(t.errand.url, 'POST', '/tasks', { repo: origin, prompt: `[console-env-${n}] Fix sum.` }, writer);
        expect(created.status).toBe(201);
        await eventually(async () => ((await api(t.errand.url, 'GET', `/tasks/${created.body.id}`, undefined, writer)).body.status === 'completed' ? true : undefined), 90_000, `task ${n}`);
        return created.body.id as string;
      };
      await start(1);
      const second = await start(2);

      const page = await chromium.signIn(t.errand.url, writer);
      await page.goto(`${t.errand.url}/console#/tasks/${second}`);
      await page.getByRole('heading', { name: `Task ${second}` }).waitFor();
      await shows(page.locator('.timeline'), /environment restored from the one kept after setup \(\d+ KB in \d+ ms\)/);
      const section = page.getByRole('region', { name: 'Environment' });
      await shows(section, '1 hit, 1 miss');
      await shows(section, /KB, made .* ago on main at [0-9a-f]{8}, last used .* ago; from \.errand\/setup\.sh, package-lock\.json/);
      await page.screenshot({ path: path.join(SHOTS, 'task-environment.png'), fullPage: true });

      page.once('dialog', (dialog) => void dialog.accept());
      await section.getByRole('button', { name: 'Remove kept environment' }).click();
      await shows(section, 'Removed 1. The next task runs its setup and keeps a new one.');
      await shows(section, 'None kept yet');
      expect((await api(t.errand.url, 'GET', `/repos/${encodeURIComponent(origin)}/environment`, undefined, writer)).body.snapshots).toEqual([]);
    });

    it("runs the environment refresh from its schedule's page and shows what the run did", async () => {
      const origin = makeOriginRepo({
        ...BUGGY_SUM,
        '.gitignore': 'node_modules/\n',
        'package-lock.json': '{"lockfileVersion": 3}\n',
        '.errand/setup.sh': 'mkdir -p node_modules/dep && echo "module.exports = 2;" > node_modules/dep/index.js\n',
      });
      t.model.script('[console-env-refresh]', [FIX_SUM, FINISH]);
      const created = await api(t.errand.url, 'POST', '/tasks', { repo: origin, prompt: '[console-env-refresh] Fix sum.' }, writer);
      await eventually(async () => ((await api(t.errand.url, 'GET', `/tasks/${created.body.id}`, undefined, writer)).body.status === 'completed' ? true : undefined), 90_000, 'the task');

      const page = await chromium.signIn(t.errand.url, ops);
      await page.goto(`${t.errand.url}/console#/schedules`);
      await shows(page.locator('main'), "Errand's environment refresh");
      await page.goto(`${t.errand.url}/console#/schedules/environment-refresh`);
      await page.getByRole('heading', { name: 'Schedule environment-refresh' }).waitFor();
      await page.getByRole('button', { name: 'Run now' }).click();
      // Nothing changed on the base since the task kept its environment: fresh, no setup run.
      await shows(page.getByRole('region', { name: 'Recent runs' }), /1 repository looked at: 0 refreshed, 1 fresh, 0 skipped, 0 failed; \d+ evicted/, 90_000);
      await page.screenshot({ path: path.join(SHOTS, 'schedule-environment-refresh.png'), fullPage: true });
    });
  },
);
