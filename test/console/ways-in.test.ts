// The console's task list says where each task was asked for: a Slack mention, a labelled Linear
// issue, the API (the console's own, said by saying nothing). Errand runs with Slack and Linear
// configured against their stand-ins; the requests are signed as each service signs them.
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from '@jest/globals';
import { BUGGY_SUM, makeOriginRepo } from '../fixtures/repos.js';
import { issueLabelAdded, signedLinearRequest } from '../fixtures/linear-events.js';
import { LinearStandIn } from '../fixtures/linear-server.js';
import { appMentionEvent, signedSlackRequest } from '../fixtures/slack-events.js';
import { SlackStandIn } from '../fixtures/slack-server.js';
import { chromiumPath } from '../support/chromium-setup.js';
import { shows, useConsoleBrowser } from '../support/console-browser.js';
import { api, eventually } from '../support/errand-process.js';
import { describeWithPart } from '../support/required-part.js';
import { writeTokensFile } from '../support/tokens-file.js';
import { useErrand } from '../support/use.js';

const { file: tokensFile, tokens: { lead } } = writeTokensFile({ lead: { name: 'ana', scopes: ['tasks:read', 'tasks:write', 'tasks:control'] } });
const slack = new SlackStandIn();
const linear = new LinearStandIn();
const origin = makeOriginRepo(BUGGY_SUM);
const ana = linear.addUser({ name: 'Ana' });
linear.addTeam({ key: 'ENG', name: 'Engineering' });
linear.addLabel({ name: 'errand' });
const CHANNEL = 'C0WAYSIN001';
const MEMBER = 'U0ANA0001';

describeWithPart(
  { name: 'Chromium', missing: chromiumPath() ? undefined : 'no chromium on PATH', install: 'run `npm run setup:console` (installs chromium from Debian) or set ERRAND_CHROMIUM' },
  'the web console, for tasks asked for in Slack and Linear',
  () => {
    const t = useErrand(async () => {
      await Promise.all([slack.start(), linear.start()]);
      const dir = mkdtempSync(path.join(os.tmpdir(), 'errand-ways-in-'));
      writeFileSync(path.join(dir, 'slack.yaml'), `channels:\n  ${CHANNEL}: { repos: ["${origin}"], defaultRepo: "${origin}" }\nusers:\n  ${MEMBER}: { requester: ana, scopes: [tasks:write] }\n`);
      writeFileSync(path.join(dir, 'linear.yaml'), `teams:\n  ENG: { repo: "${origin}" }\nusers:\n  ${ana.id}: { requester: ana, scopes: [tasks:write] }\n`);
      return {
        ERRAND_API_TOKENS_FILE: tokensFile,
        ERRAND_SLACK_SIGNING_SECRET: 'slack-secret',
        ERRAND_SLACK_BOT_TOKEN: slack.token,
        ERRAND_SLACK_CONFIG: path.join(dir, 'slack.yaml'),
        ERRAND_SLACK_API_URL: slack.url,
        ERRAND_LINEAR_WEBHOOK_SECRET: 'linear-secret',
        ERRAND_LINEAR_API_KEY: linear.apiKey,
        ERRAND_LINEAR_CONFIG: path.join(dir, 'linear.yaml'),
        ERRAND_LINEAR_API_URL: linear.url,
      };
    });
    const chromium = useConsoleBrowser();
    afterAll(async () => {
      expect([...slack.violations, ...linear.violations]).toEqual([]);
      await Promise.all([slack.stop(), linear.stop()]);
    });

    it('shows by each task where it was asked for', async () => {
      t.model.script('[ways-in]', [{ kind: 'hang' }]);
      const mention = JSON.stringify(appMentionEvent({ channel: CHANNEL, user: MEMBER, text: `<@${slack.botUserId}> [ways-in] from Slack`, ts: '1760000100.000100', botUserId: slack.botUserId }));
      expect((await fetch(`${t.errand.url}/webhooks/slack/events`, { method: 'POST', headers: signedSlackRequest('slack-secret', mention), body: mention })).status).toBe(200);
      const issue = linear.addIssue({ teamKey: 'ENG', title: '[ways-in] from Linear' });
      linear.editIssue(issue.id, { labels: ['errand'] });
      const delivery = JSON.stringify(issueLabelAdded({ issue, actor: ana.id, previousLabelIds: [] }));
      const fromLinear = (await (await fetch(`${t.errand.url}/webhooks/linear`, { method: 'POST', headers: signedLinearRequest('linear-secret', delivery), body: delivery })).json()) as { taskId: string };
      const fromApi = (await api(t.errand.url, 'POST', '/tasks', { repo: origin, prompt: '[ways-in] from the API' }, lead)).body;
      const tasks = await eventually(async () => {
        // This file's tasks: the lane's other files share the Temporal server, and so the list.
        const listed = ((await api(t.errand.url, 'GET', '/tasks', undefined, lead)).body.tasks as { id: string; via?: string; title?: string }[]).filter((x) => x.title?.startsWith('[ways-in]'));
        return listed.length === 3 ? listed : undefined;
      }, 30_000, 'three tasks');
      const fromSlack = tasks.find((x) => x.via === 'slack')!;

      const page = await chromium.signIn(t.errand.url, lead);
      const row = (id: string) => page.getByRole('table', { name: 'Tasks' }).locator(`tr[data-task="${id}"]`);
      await shows(row(fromSlack.id), 'ana via Slack');
      await shows(row(fromLinear.taskId), 'ana via Linear');
      await shows(row(fromApi.id), 'ana');
      expect(await row(fromApi.id).textContent()).not.toContain(' via ');
      for (const id of [fromSlack.id, fromLinear.taskId, fromApi.id]) await api(t.errand.url, 'POST', `/tasks/${id}/cancel`, {}, lead);
    });
  },
);
