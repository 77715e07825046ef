// Slack as a way in, end to end: Errand as a real process on the real Temporal server, Slack's
// side played by test/fixtures/slack-server.ts (every Web API call validated against Slack's
// published OpenAPI description) and requests signed as Slack signs them. A mention starts a task
// with its thread as context and the thread follows it; replies steer it; a plan's buttons act
// for the clicking user; forged, unsigned, stale and replayed requests, people and channels the
// operator did not name, and a flood of mentions are all held.
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { call, FINISH, FIX_SUM, type ChatRequest } from '../fixtures/model-server.js';
import { BUGGY_SUM, makeOriginRepo } from '../fixtures/repos.js';
import { appMentionEvent, blockActionsPayload, signedSlackRequest, threadMessageEvent } from '../fixtures/slack-events.js';
import { SlackStandIn } from '../fixtures/slack-server.js';
import { api, eventually } from '../support/errand-process.js';
import { useErrand } from '../support/use.js';

const SECRET = 'slack-signing-secret-for-tests';
const CHANNEL = 'C0SHOP00001';
const APPROVAL_CHANNEL = 'C0APPROVE01';
const ANA = 'U0ANA0001';
const BOB = 'U0BOB0001'; // may steer and approve, not start tasks
const EVE = 'U0EVE0001'; // not in the file
const LEAKED = 'sk-live-0123456789abcdef';

const slack = new SlackStandIn();
const origin = makeOriginRepo(BUGGY_SUM);
const other = makeOriginRepo(BUGGY_SUM);

const t = useErrand(async () => {
  await slack.start();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'errand-slack-'));
  const config = path.join(dir, 'slack.yaml');
  writeFileSync(
    config,
    [
      'channels:',
      `  ${CHANNEL}: { repos: ["${origin}"], defaultRepo: "${origin}" }`,
      `  ${APPROVAL_CHANNEL}: { repos: ["${origin}"], requirePlanApproval: true }`,
      'users:',
      `  ${ANA}: { requester: ana, scopes: [tasks:write, tasks:control] }`,
      `  ${BOB}: { requester: bob, scopes: [tasks:control] }`,
    ].join('\n'),
  );
  return { ERRAND_SLACK_SIGNING_SECRET: SECRET, ERRAND_SLACK_BOT_TOKEN: slack.token, ERRAND_SLACK_CONFIG: config, ERRAND_SLACK_API_URL: slack.url, ERRAND_REDACT: LEAKED, ERRAND_MAX_RUNNING_TASKS: '2' };
});

afterAll(async () => {
  expect(slack.violations).toEqual([]);
  await slack.stop();
});

let seq = 0;
/** A Slack timestamp, later than the last one. */
const nextTs = () => `${1_760_000_000 + ++seq}.000100`;

/** POSTs `body` to a Slack route as Slack would, signed (or as `headers` say). */
async function send(route: 'events' | 'actions', body: string, headers: Record<string, string> = signedSlackRequest(SECRET, body)) {
  const res = await fetch(`${t.errand.url}/webhooks/slack/${route}`, { method: 'POST', headers, body });
  return { status: res.status, body: await res.text() };
}

const mention = (o: { channel?: string; user?: string; text: string; ts?: string; threadTs?: string }) =>
  JSON.stringify(appMentionEvent({ channel: o.channel ?? CHANNEL, user: o.user ?? ANA, text: `<@${slack.botUserId}> ${o.text}`, ts: o.ts ?? nextTs(), ...(o.threadTs && { threadTs: o.threadTs }), botUserId: slack.botUserId }));

/** Messages Errand posted in a thread (and ephemeral ones, to `user`), as text. */
const thread = (threadTs: string) => slack.posted(CHANNEL).filter((m) => m.thread_ts === threadTs).map((m) => m.text ?? '');
const whispers = (user: string) => slack.ephemeral().filter((m) => m.user === user).map((m) => m.text ?? '');

async function taskOfThread(threadTs: string, channel = CHANNEL): Promise<string> {
  return eventually(async () => {
    const started = slack.posted(channel).find((m) => m.thread_ts === threadTs && m.text?.startsWith('On it: task '));
    return started && /task (?:<[^|]+\|)?([a-f0-9]{12})/.exec(started.text!)![1];
  }, 30_000, `a task in thread ${threadTs}`);
}

async function task(id: string) {
  return (await api(t.errand.url, 'GET', `/tasks/${id}`)).body;
}

describe('Slack', () => {
  it('starts a task from a mention in a thread, with the thread as context, and tells the thread how it goes', async () => {
    const root = nextTs();
    slack.seedThread(CHANNEL, root, [
      { user: BOB, text: 'checkout sums are off by a lot', ts: root },
      { user: EVE, text: `the key is ${LEAKED} if you need it`, ts: nextTs() },
    ]);
    t.model.script('[slack-thread]', [FIX_SUM, FINISH], { indexBy: 'turn' });
    const ts = nextTs();
    const res = await send('events', mention({ text: `${origin} [slack-thread] sum subtracts; make it add`, ts, threadTs: root }));
    expect(res.status).toBe(200);

    const id = await taskOfThread(root);
    const view = await eventually(async () => ((await task(id)).status === 'completed' ? task(id) : undefined), 120_000, 'the task to complete');
    expect(view.prompt).toContain('(Asked in Slack by ana)');
    expect(view.prompt).toContain('[slack-thread] sum subtracts; make it add');
    expect(view.prompt).toContain(`> ${BOB}: checkout sums are off by a lot`);
    expect(view.prompt).not.toContain(LEAKED);
    await eventually(async () => (thread(root).some((m) => m.includes(' is done.')) ? true : undefined), 30_000, 'the end in the thread');
    const said = thread(root);
    expect(said.filter((m) => m.startsWith('On it: task '))).toHaveLength(1);
    expect(said.filter((m) => m.includes('opened a draft pull request'))).toHaveLength(1);
    expect(said.filter((m) => m.includes(' is done.') && m.includes(`PR #${view.pr.number}`))).toHaveLength(1);

    const listed = (await api(t.errand.url, 'GET', '/tasks?requester=ana')).body.tasks.find((x: { id: string }) => x.id === id);
    expect(listed).toMatchObject({ via: 'slack', requester: 'ana' });
    const audit = (await api(t.errand.url, 'GET', `/audit?task=${id}`)).body.entries;
    expect(audit).toContainEqual(expect.objectContaining({ action: 'slack.task_started', actor: 'ana', via: 'webhook' }));
  });

  it('passes a reply in the thread to the running task, from someone allowed to steer it, and refuses anyone else', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const script = t.model.script('[slack-steer]', [{ kind: 'later', after: held, reply: FIX_SUM }, FINISH], { indexBy: 'turn' });
    const root = nextTs();
    await send('events', mention({ text: '[slack-steer] fix sum', ts: root }));
    const id = await taskOfThread(root);
    await eventually(async () => (script.requests.length ? true : undefined), 60_000, 'the first model call');

    await send('events', JSON.stringify(threadMessageEvent({ channel: CHANNEL, user: EVE, text: 'delete everything', ts: nextTs(), threadTs: root })));
    await send('events', JSON.stringify(threadMessageEvent({ channel: CHANNEL, user: BOB, text: 'keep the comment on top', ts: nextTs(), threadTs: root })));
    await eventually(async () => ((await task(id)).messages.accepted === 1 ? true : undefined), 30_000, "bob's message to be taken");
    // Each hears back once Errand has acted (after the task took the message, for bob).
    await eventually(async () => (whispers(EVE).some((m) => m.includes('only the people this Errand')) ? true : undefined), 20_000, "eve's refusal");
    await eventually(async () => (whispers(BOB).some((m) => m.includes(`Task ${id} took your message (#1)`)) ? true : undefined), 20_000, "bob's acknowledgement");
    release();
    await eventually(async () => ((await task(id)).status === 'completed' ? true : undefined), 120_000, 'the task to complete');
    const read = script.requests.map((r: ChatRequest) => JSON.stringify(r.messages)).join('\n');
    expect(read).toContain('Message from bob (#1): keep the comment on top');
    expect(read).not.toContain('delete everything');
  });

  it("posts the plan with Approve and Cancel, which act as the clicking user, for that thread's task only", async () => {
    t.model.script('[slack-plan]', [call('submit_plan', { plan: 'Change - to + in sum.js. <!channel> look' }), FIX_SUM, FINISH], { indexBy: 'turn' });
    const root = nextTs();
    await send('events', mention({ channel: APPROVAL_CHANNEL, text: `${origin} [slack-plan] fix sum`, ts: root }));
    const id = await taskOfThread(root, APPROVAL_CHANNEL);
    const plan = await eventually(async () => slack.posted(APPROVAL_CHANNEL).find((m) => m.thread_ts === root && m.text?.includes('has a plan')), 60_000, 'the plan in the thread');
    expect(plan.text).toContain('&lt;!channel&gt;');
    const click = (user: string, value = id) => send('actions', blockActionsPayload({ user, channel: APPROVAL_CHANNEL, messageTs: plan.ts, threadTs: root, actionId: 'errand_approve_plan', value }));

    // Someone not in the file, and a button whose value names another task, do nothing.
    expect((await click(EVE)).status).toBe(200);
    expect((await click(BOB, 'aaaaaaaaaaaa')).status).toBe(200);
    await eventually(async () => (whispers(EVE).some((m) => m.includes('only the people')) && whispers(BOB).some((m) => m.includes("not for this thread's task")) ? true : undefined), 20_000, 'the refusals');
    expect((await task(id)).phase).toBe('awaiting_approval');

    expect((await click(BOB)).status).toBe(200);
    const done = await eventually(async () => ((await task(id)).status === 'completed' ? task(id) : undefined), 120_000, 'the approved task to complete');
    expect(done.planApprovedBy).toBe('bob');
    expect(slack.message(APPROVAL_CHANNEL, plan.ts)!.text).toContain('approved by bob');
    expect(slack.updated().find((u) => u.ts === plan.ts)!.blocks ?? []).not.toContainEqual(expect.objectContaining({ type: 'actions' }));
  });

  it('refuses unsigned, forged, stale and replayed requests, and people, channels and repositories the operator did not name', async () => {
    t.model.script('[slack-refused]', [{ kind: 'hang' }]);
    const body = mention({ text: '[slack-refused] fix sum' });
    expect((await send('events', body, { 'content-type': 'application/json' })).status).toBe(401);
    expect((await send('events', body, signedSlackRequest('another-secret', body))).status).toBe(401);
    expect((await send('events', body, signedSlackRequest(SECRET, body, { timestamp: Math.floor(Date.now() / 1000) - 600 }))).status).toBe(401);
    // Signed now, sent twice (a retry, or a replayed capture with a fresh signature): one task.
    expect((await send('events', body)).status).toBe(200);
    const replay = await send('events', body);
    expect(JSON.parse(replay.body)).toMatchObject({ status: 'duplicate' });
    const root = JSON.parse(body).event.ts as string;
    const id = await taskOfThread(root);
    await new Promise((r) => setTimeout(r, 500));
    expect(thread(root).filter((m) => m.startsWith('On it: task '))).toHaveLength(1);
    await api(t.errand.url, 'POST', `/tasks/${id}/cancel`, {});

    const refusedTo = async (user: string, text: string, channel = CHANNEL) => {
      const before = whispers(user).length;
      expect((await send('events', mention({ user, channel, text }))).status).toBe(200);
      return eventually(async () => whispers(user).slice(before)[0], 20_000, `a refusal for ${user}`);
    };
    expect(await refusedTo(EVE, 'fix sum')).toContain('not one of the people this Errand takes tasks from');
    expect(await refusedTo(BOB, 'fix sum')).toContain('not one of the people');
    expect(await refusedTo(ANA, 'fix sum', 'C0ELSEWHERE')).toContain('tasks cannot be started from this channel');
    expect(await refusedTo(ANA, `${other} fix sum`)).toContain(`tasks from this channel may work on ${origin}, not ${other}`);
    expect(await refusedTo(ANA, `${origin} fix \u0007 sum`)).toContain('control characters');
    const challenge = JSON.stringify({ token: 'x', challenge: 'c-123', type: 'url_verification' });
    expect(JSON.parse((await send('events', challenge)).body)).toEqual({ challenge: 'c-123' });
  });

  it('holds a flood of mentions to the running-task limit: the rest wait their turn', async () => {
    t.model.script('[slack-flood]', [{ kind: 'hang' }]);
    const roots = Array.from({ length: 6 }, () => nextTs());
    await Promise.all(roots.map((ts) => send('events', mention({ text: '[slack-flood] fix sum', ts }))));
    const ids = await Promise.all(roots.map((ts) => taskOfThread(ts)));
    expect(new Set(ids).size).toBe(6);
    const admission = await eventually(async () => {
      const a = (await api(t.errand.url, 'GET', '/admission')).body;
      return a.running.length === 2 && a.queued.length >= 4 ? a : undefined;
    }, 60_000, 'two running, the rest queued');
    expect(admission.maxRunning).toBe(2);
    await Promise.all(ids.map((id) => api(t.errand.url, 'POST', `/tasks/${id}/cancel`, {})));
  });
});
