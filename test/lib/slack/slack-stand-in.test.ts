// The Slack stand-in (test/fixtures/slack-server.ts) driven by the real @slack/web-api
// WebClient that Errand's Slack integration uses, so the integration's tests can trust it: calls
// that keep to Slack's published Web API description are answered from its state with answers
// that keep to it too, and calls that do not are recorded as violations. Also checks that the
// signed requests of test/fixtures/slack-events.ts pass Bolt's own signature check.
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { verifySlackRequest } from '@slack/bolt';
import { LogLevel, WebClient, type WebAPIPlatformError } from '@slack/web-api';
import { appMentionEvent, blockActionsPayload, signedSlackRequest, threadMessageEvent, urlVerification } from '../../fixtures/slack-events.js';
import { SlackStandIn, slackWorkspace } from '../../fixtures/slack-server.js';

const CHANNEL = 'C0ERRAND01';
const ADA = 'U0ADA00001';
const BOB = 'U0BOB00001';

let slack: SlackStandIn;
let client: WebClient;

/** A client as Errand's would be, failing at once rather than retrying for half an hour. */
const webClient = (token: string, opts: { teamId?: string } = {}) => new WebClient(token, { slackApiUrl: slack.url, logLevel: LogLevel.ERROR, retryConfig: { retries: 0 }, ...opts });

/** Takes the violations a test caused on purpose, leaving none for afterEach. */
const takeViolations = () => slack.violations.splice(0);

beforeAll(async () => {
  slack = new SlackStandIn();
  await slack.start();
  client = webClient(slack.token);
});

afterEach(() => expect(takeViolations()).toEqual([]));

afterAll(() => slack.stop());

describe('the Slack stand-in, through WebClient', () => {
  it('is at the URL WebClient takes, and auth.test names its bot', async () => {
    expect(slack.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api\/$/);
    const auth = await client.auth.test();
    expect(auth).toMatchObject({ ok: true, user_id: 'UERRANDBOT', bot_id: slack.botId, team_id: slack.teamId });
  });

  it('posts blocks into a thread, updates them, and reads the thread back', async () => {
    const mentionTs = '1712345678.000100';
    slack.seedThread(CHANNEL, mentionTs, [{ user: ADA, text: '<@UERRANDBOT> fix the flaky test' }]);
    const blocks = [{ type: 'section', text: { type: 'mrkdwn', text: ':hourglass: Working on it' } }];

    const posted = await client.chat.postMessage({ channel: CHANNEL, thread_ts: mentionTs, text: 'Working on it', blocks, unfurl_links: false });
    expect(posted.ts).toMatch(/^\d{10}\.\d{6}$/);
    expect(posted.message).toMatchObject({ text: 'Working on it', user: 'UERRANDBOT', thread_ts: mentionTs, blocks });
    expect(slack.posted(CHANNEL)).toEqual([{ channel: CHANNEL, ts: posted.ts, text: 'Working on it', blocks, thread_ts: mentionTs, args: expect.objectContaining({ unfurl_links: 'false' }) }]);

    const done = [{ type: 'section', text: { type: 'mrkdwn', text: ':white_check_mark: Done' } }];
    const updated = await client.chat.update({ channel: CHANNEL, ts: posted.ts!, text: 'Done', blocks: done });
    expect(updated).toMatchObject({ ok: true, channel: CHANNEL, ts: posted.ts, text: 'Done' });
    expect(slack.updated()).toEqual([{ channel: CHANNEL, ts: posted.ts, text: 'Done', blocks: done, args: expect.anything() }]);
    expect(slack.message(CHANNEL, posted.ts!)).toMatchObject({ text: 'Done', blocks: done, edited: { user: 'UERRANDBOT' } });
    // What was posted stays as it was posted.
    expect(slack.posted()[0]!.text).toBe('Working on it');

    const thread = await client.conversations.replies({ channel: CHANNEL, ts: mentionTs });
    expect(thread.messages).toEqual([
      expect.objectContaining({ user: ADA, ts: mentionTs, thread_ts: mentionTs, reply_count: 1, reply_users: ['UERRANDBOT'], latest_reply: posted.ts }),
      expect.objectContaining({ user: 'UERRANDBOT', ts: posted.ts, text: 'Done', blocks: done, thread_ts: mentionTs, parent_user_id: ADA }),
    ]);
  });

  it('answers conversations.replies from a seeded thread, oldest first, a page at a time', async () => {
    const [parent, ...replies] = slack.seedThread(CHANNEL, '1712000000.000100', [
      { user: ADA, text: 'the build is red' },
      { user: BOB, text: 'since this morning' },
      { user: ADA, text: 'probably the cache', ts: '1712000100.000200' },
    ]);
    const thread = await client.conversations.replies({ channel: CHANNEL, ts: parent!.ts });
    expect(thread.messages!.map((m) => [m.user, m.text])).toEqual([
      [ADA, 'the build is red'],
      [BOB, 'since this morning'],
      [ADA, 'probably the cache'],
    ]);
    expect(thread.messages![0]).toMatchObject({ reply_count: 2, reply_users_count: 2, latest_reply: replies[1]!.ts });
    expect(thread.has_more).toBe(false);

    const firstPage = await client.conversations.replies({ channel: CHANNEL, ts: parent!.ts, limit: 2 });
    expect(firstPage).toMatchObject({ has_more: true, messages: [expect.objectContaining({ text: 'the build is red' }), expect.objectContaining({ text: 'since this morning' })] });

    await expect(client.conversations.replies({ channel: CHANNEL, ts: '1600000000.000001' })).rejects.toMatchObject({ data: { ok: false, error: 'thread_not_found' } });
    const user = await client.users.info({ user: BOB });
    expect(user.user).toMatchObject({ id: BOB, is_bot: false });
  });

  it('posts ephemeral messages to one user, kept apart from the channel', async () => {
    const answer = await client.chat.postEphemeral({ channel: CHANNEL, user: ADA, text: 'Only you can see this' });
    expect(slack.ephemeral()).toEqual([{ channel: CHANNEL, user: ADA, message_ts: answer.message_ts, text: 'Only you can see this', args: expect.anything() }]);
    expect(slack.message(CHANNEL, answer.message_ts!)).toBeUndefined();
  });

  it('takes the team_id WebClient adds for Bolt apps', async () => {
    const asBolt = webClient(slack.token, { teamId: slack.teamId });
    await expect(asBolt.chat.postMessage({ channel: CHANNEL, text: 'hello' })).resolves.toMatchObject({ ok: true });
  });

  it('answers a wrong token invalid_auth, as Slack does, and that is no violation', async () => {
    const stranger = webClient('xoxb-1-2-wrong');
    const error = (await stranger.chat.postMessage({ channel: CHANNEL, text: 'hi' }).catch((e: unknown) => e)) as WebAPIPlatformError;
    expect(error.data).toMatchObject({ ok: false, error: 'invalid_auth' });
    await expect(new WebClient(undefined, { slackApiUrl: slack.url, logLevel: LogLevel.ERROR }).auth.test()).rejects.toMatchObject({ data: { error: 'not_authed' } });
  });

  it('records arguments the description does not have as violations, and refuses the call', async () => {
    await expect(client.apiCall('chat.postMessage', { channel: CHANNEL, text: 'hi', colour: 'red' })).rejects.toMatchObject({ data: { ok: false, error: 'invalid_arg_name' } });
    expect(takeViolations()).toEqual(['chat.postMessage request: unknown parameter "colour"']);

    await expect(client.apiCall('chat.postMessage', { channel: CHANNEL, blocks: '{"type":"section"}' })).rejects.toMatchObject({ data: { error: 'invalid_form_data' } });
    await expect(client.apiCall('chat.postMessage', { channel: CHANNEL, blocks: [{ text: 'no type' }] })).rejects.toMatchObject({ data: { error: 'invalid_form_data' } });
    await expect(client.apiCall('chat.update', { channel: CHANNEL, text: 'no ts' })).rejects.toMatchObject({ data: { error: 'invalid_form_data' } });
    await expect(client.apiCall('conversations.replies', { channel: CHANNEL, ts: '1712000000.000100', limit: 'ten' })).rejects.toMatchObject({ data: { error: 'invalid_form_data' } });
    expect(takeViolations()).toEqual([
      'chat.postMessage request: "blocks" is not a JSON array',
      'chat.postMessage request: blocks/0 must have required property \'type\'',
      'chat.update request: missing required parameter "ts"',
      'conversations.replies request: "limit" is not an integer: "ten"',
    ]);
    expect(slack.posted().filter((m) => m.text === 'hi')).toEqual([]);
  });

  it('records methods Slack does not have, and those the stand-in does not answer', async () => {
    await expect(client.apiCall('chat.postMesage', { channel: CHANNEL, text: 'hi' })).rejects.toMatchObject({ data: { error: 'unknown_method' } });
    await expect(client.reactions.add({ channel: CHANNEL, timestamp: '1712000000.000100', name: 'eyes' })).rejects.toMatchObject({ data: { error: 'unknown_method' } });
    expect(takeViolations()).toEqual(["chat.postMesage: no such method in Slack's Web API description", 'reactions.add: the Slack stand-in does not answer this method (yet)']);
  });
});

describe('signed Slack requests', () => {
  const signingSecret = '8f742231b10e8888abcd99yyyzzz85a5';

  it('sign events and interactions the way Bolt verifies them', () => {
    const mention = JSON.stringify(appMentionEvent({ channel: CHANNEL, user: ADA, text: '<@UERRANDBOT> fix it', ts: '1712345678.000100' }));
    const reply = JSON.stringify(threadMessageEvent({ channel: CHANNEL, user: BOB, text: 'also the docs', ts: '1712345679.000200', threadTs: '1712345678.000100', parentUserId: ADA }));
    const click = blockActionsPayload({ user: ADA, channel: CHANNEL, messageTs: '1712345680.000300', threadTs: '1712345678.000100', actionId: 'errand.cancel', value: 'task-1' });
    for (const body of [mention, reply, click, JSON.stringify(urlVerification('3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P'))]) {
      const headers = signedSlackRequest(signingSecret, body);
      expect(() => verifySlackRequest({ signingSecret, body, headers: { 'x-slack-signature': headers['x-slack-signature']!, 'x-slack-request-timestamp': Number(headers['x-slack-request-timestamp']) } })).not.toThrow();
      expect(() => verifySlackRequest({ signingSecret: 'another secret', body, headers: { 'x-slack-signature': headers['x-slack-signature']!, 'x-slack-request-timestamp': Number(headers['x-slack-request-timestamp']) } })).toThrow();
    }
    const stale = signedSlackRequest(signingSecret, mention, { timestamp: Math.floor(Date.now() / 1000) - 600 });
    expect(() => verifySlackRequest({ signingSecret, body: mention, headers: { 'x-slack-signature': stale['x-slack-signature']!, 'x-slack-request-timestamp': Number(stale['x-slack-request-timestamp']) } })).toThrow(/stale/);
    expect(signedSlackRequest(signingSecret, click)['content-type']).toBe('application/x-www-form-urlencoded');
  });

  it('carry the envelope and payload fields Slack documents', () => {
    const mention = appMentionEvent({ channel: CHANNEL, user: ADA, text: '<@UERRANDBOT> fix it', ts: '1712345678.000100', threadTs: '1712345600.000001', eventId: 'Ev0MENTION1' });
    expect(mention).toMatchObject({
      type: 'event_callback',
      team_id: slackWorkspace.teamId,
      api_app_id: slackWorkspace.appId,
      event_id: 'Ev0MENTION1',
      event_time: 1712345678,
      authorizations: [{ team_id: slackWorkspace.teamId, user_id: 'UERRANDBOT', is_bot: true }],
      event: { type: 'app_mention', user: ADA, channel: CHANNEL, ts: '1712345678.000100', event_ts: '1712345678.000100', thread_ts: '1712345600.000001' },
    });
    const click = JSON.parse(new URLSearchParams(blockActionsPayload({ user: ADA, channel: CHANNEL, messageTs: '1712345680.000300', threadTs: '1712345678.000100', actionId: 'errand.cancel', value: 'task-1' })).get('payload')!);
    expect(click).toMatchObject({
      type: 'block_actions',
      user: { id: ADA },
      container: { type: 'message', channel_id: CHANNEL, message_ts: '1712345680.000300', thread_ts: '1712345678.000100' },
      channel: { id: CHANNEL },
      message: { ts: '1712345680.000300', thread_ts: '1712345678.000100' },
      actions: [{ type: 'button', action_id: 'errand.cancel', value: 'task-1' }],
    });
  });
});
