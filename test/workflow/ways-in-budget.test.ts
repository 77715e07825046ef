// Slack and Linear start tasks under the same daily budget as every other way in: a requester
// who has spent theirs is told so where they asked (in the thread, on the issue), and nothing
// starts. Errand runs with both configured against their stand-ins and a price for the model.
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { FINISH, FIX_SUM } from '../fixtures/model-server.js';
import { BUGGY_SUM, makeOriginRepo } from '../fixtures/repos.js';
import { issueLabelAdded, signedLinearRequest } from '../fixtures/linear-events.js';
import { LinearStandIn } from '../fixtures/linear-server.js';
import { appMentionEvent, signedSlackRequest } from '../fixtures/slack-events.js';
import { SlackStandIn } from '../fixtures/slack-server.js';
import { api, eventually } from '../support/errand-process.js';
import { useErrand } from '../support/use.js';

const slack = new SlackStandIn();
const linear = new LinearStandIn();
const origin = makeOriginRepo(BUGGY_SUM);
const ana = linear.addUser({ name: 'Ana' });
linear.addTeam({ key: 'ENG', name: 'Engineering' });
linear.addLabel({ name: 'errand' });
const CHANNEL = 'C0BUDGET001';
const MEMBER = 'U0ANA0001';

const t = useErrand(async () => {
  await Promise.all([slack.start(), linear.start()]);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'errand-ways-in-budget-'));
  writeFileSync(path.join(dir, 'slack.yaml'), `channels:\n  ${CHANNEL}: { repos: ["${origin}"], defaultRepo: "${origin}" }\nusers:\n  ${MEMBER}: { requester: ana-over-budget, scopes: [tasks:write] }\n`);
  writeFileSync(path.join(dir, 'linear.yaml'), `teams:\n  ENG: { repo: "${origin}" }\nusers:\n  ${ana.id}: { requester: ana-over-budget, scopes: [tasks:write] }\n`);
  return {
    // Each model answer costs $0.12 (120 tokens at $1,000 a million): one task spends the day's $0.20.
    ERRAND_MODEL_PRICES: JSON.stringify({ 'fixture-coder': { input: 1000, output: 1000 } }),
    ERRAND_DAILY_BUDGET_USD: '0.2',
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

afterAll(async () => {
  expect([...slack.violations, ...linear.violations]).toEqual([]);
  await Promise.all([slack.stop(), linear.stop()]);
});

let seq = 0;
const mention = (text: string) => JSON.stringify(appMentionEvent({ channel: CHANNEL, user: MEMBER, text: `<@${slack.botUserId}> ${text}`, ts: `${1_760_000_200 + ++seq}.000100`, botUserId: slack.botUserId }));
const sendSlack = (body: string) => fetch(`${t.errand.url}/webhooks/slack/events`, { method: 'POST', headers: signedSlackRequest('slack-secret', body), body });
/** Ana's tasks, by the requester the operator's files give her here (the test server's other files have an ana of their own). */
const REQUESTER = 'ana-over-budget';
const anasTasks = async () => (await api(t.errand.url, 'GET', `/tasks?requester=${REQUESTER}`)).body.tasks as { id: string; status: string }[];

describe('Slack and Linear under the daily budget', () => {
  it("tell a requester over their budget so where they asked, and start nothing", async () => {
    t.model.script('[budget-spend]', [FIX_SUM, FINISH], { indexBy: 'turn' });
    expect((await sendSlack(mention('[budget-spend] fix sum'))).status).toBe(200);
    await eventually(async () => ((await anasTasks()).some((x) => x.status === 'completed') ? true : undefined), 120_000, "ana's first task to complete");
    // Spent as the admission workflow counts it (the task hands its cost back as it ends).
    await eventually(async () => (((await api(t.errand.url, 'GET', '/admission')).body.spent.byRequester[REQUESTER] ?? 0) >= 0.2 ? true : undefined), 30_000, "ana's spending to be counted");

    expect((await sendSlack(mention('[budget-over] fix sum again'))).status).toBe(200);
    const refused = await eventually(async () => slack.ephemeral().find((m) => m.user === MEMBER && m.text?.includes('daily budget')), 30_000, 'the refusal in the thread');
    expect(refused.text).toMatch(/^I can't do that: ana-over-budget has spent \$0\.2\d today, its daily budget of \$0\.20/);

    const issue = linear.addIssue({ teamKey: 'ENG', title: '[budget-over] from Linear' });
    linear.editIssue(issue.id, { labels: ['errand'] });
    const delivery = JSON.stringify(issueLabelAdded({ issue, actor: ana.id, previousLabelIds: [] }));
    const res = await fetch(`${t.errand.url}/webhooks/linear`, { method: 'POST', headers: signedLinearRequest('linear-secret', delivery), body: delivery });
    expect(await res.json()).toMatchObject({ status: 'refused', detail: expect.stringContaining('daily budget') });
    expect(linear.comments(issue.id).map((c) => c.body)).toContainEqual(expect.stringContaining('daily budget'));
    expect(await anasTasks()).toHaveLength(1);
  });
});
