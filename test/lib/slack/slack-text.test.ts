// What Errand reads from Slack and writes there: a person's markup made plain text, the
// repository a request names, who may do what (the operator's file), and messages in which
// nothing from outside (a prompt, a plan, a summary: model output) can ping a channel or link.
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { plainText, splitRepository } from '../../../lib/slack/slack-text.js';
import { loadSlackAccess, SlackAccess } from '../../../lib/slack/slack-access.js';
import { planToApprove, refusal, taskEnded } from '../../../lib/slack/slack-messages.js';

describe("a person's Slack markup", () => {
  it('drops the app’s own mention and keeps the rest as they would read it', () => {
    expect(plainText('<@UERRAND> acme/shop fix &lt;div&gt; &amp; the <https://example.com/a|docs> for <@U123|ana> in <#C1|eng> <!here>', 'UERRAND')).toBe(
      'acme/shop fix <div> & the docs (https://example.com/a) for @ana in #eng @here',
    );
  });

  it('takes the first word as the repository when it names one', () => {
    expect(splitRepository('acme/shop fix the 500')).toEqual({ repo: 'acme/shop', rest: 'fix the 500' });
    expect(splitRepository('/srv/git/shop.git: fix it')).toEqual({ repo: '/srv/git/shop.git', rest: 'fix it' });
    expect(splitRepository('https://github.com/acme/shop (https://github.com/acme/shop) fix it')).toEqual({ repo: 'https://github.com/acme/shop', rest: 'fix it' });
    expect(splitRepository('fix the 500 in checkout')).toEqual({ rest: 'fix the 500 in checkout' });
  });
});

describe("the operator's Slack file", () => {
  const file = (text: string) => {
    const p = path.join(mkdtempSync(path.join(os.tmpdir(), 'errand-slack-')), 'slack.yaml');
    writeFileSync(p, text);
    return p;
  };

  it('maps users to requesters with scopes, and channels to the repositories they may start tasks on', () => {
    const access = new SlackAccess(loadSlackAccess(file('channels:\n  C0SHOP:\n    repos: [acme/shop, "acme/lib-*"]\n    defaultRepo: acme/shop\nusers:\n  U0ANA:\n    requester: ana\n    scopes: [tasks:write, tasks:control]\n  U0BOB:\n    requester: bob\n    scopes: [tasks:control]\n')));
    expect(access.user('U0ANA', 'tasks:write')).toEqual({ requester: 'ana', scopes: ['tasks:write', 'tasks:control'] });
    expect(access.user('U0BOB', 'tasks:write')).toBeUndefined();
    expect(access.user('U0BOB', 'tasks:control')?.requester).toBe('bob');
    expect(access.user('constructor', 'tasks:write')).toBeUndefined();
    expect(access.allows('C0SHOP', 'acme/lib-core')).toBe(true);
    expect(access.allows('C0SHOP', 'acme/billing')).toBe(false);
    expect(access.allows('C0OTHER', 'acme/shop')).toBe(false);
  });

  it('refuses a file that names a scope or an id Slack has not', () => {
    expect(() => loadSlackAccess(file('channels: {}\nusers:\n  U0ANA: {requester: ana, scopes: [admin]}\n'))).toThrow(/scopes/);
    expect(() => loadSlackAccess(file('channels:\n  "#eng": {repos: [acme/shop]}\nusers: {}\n'))).toThrow(/Slack channel id/);
  });
});

describe('what Errand posts', () => {
  const hostile = 'Done. <!channel> see <https://evil.example|your bank> & <@U0BOSS>';

  it('escapes plans, summaries and refusals, so model output pings no one and links nowhere', () => {
    for (const message of [planToApprove({ taskId: 't1', plan: hostile }), taskEnded({ taskId: 't1', phase: 'completed', summary: hostile }), refusal(hostile)]) {
      expect(message.text).not.toMatch(/<!channel>|<https:\/\/evil|<@U0BOSS>/);
      expect(message.text).toContain('&lt;!channel&gt;');
    }
  });

  it("puts Approve and Cancel on a plan, each carrying the task's id", () => {
    const actions = planToApprove({ taskId: 't1', plan: 'Fix it.' }).blocks!.find((b) => (b as { type: string }).type === 'actions') as { elements: { action_id: string; value: string }[] };
    expect(actions.elements.map((e) => [e.action_id, e.value])).toEqual([
      ['errand_approve_plan', 't1'],
      ['errand_cancel_task', 't1'],
    ]);
  });
});
