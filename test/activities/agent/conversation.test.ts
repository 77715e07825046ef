// The worker's conversation cache: a step reads one file instead of all of them, but what the
// model is shown is always what the store holds, even when another worker ran or retried a step.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { ConversationCache } from '../../../activities/agent/conversation.js';
import { loadConversation } from '../../../lib/transcripts/transcript.js';
import { localDirectoryStorage } from '../../../lib/storage/local-storage.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'errand-conversation-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const start: ChatCompletionMessageParam[] = [
  { role: 'system', content: 'You are Errand.' },
  { role: 'user', content: 'Fix sum.' },
];
const answer = (text: string): ChatCompletionMessageParam[] => [{ role: 'user', content: 'go on' }, { role: 'assistant', content: text }];

describe('ConversationCache', () => {
  it('gives each step the stored conversation, across steps on one worker', async () => {
    const store = localDirectoryStorage(path.join(root, 'one')).blobs;
    const worker = new ConversationCache(store);
    await worker.save('t1', 0, [], start);
    for (let step = 1; step <= 5; step++) {
      const before = await worker.load('t1', step);
      expect(before).toEqual(await loadConversation(store, 't1', step));
      await worker.save('t1', step, before, answer(`answer ${step}`));
    }
    expect((await worker.load('t1', 6)).filter((m) => m.role === 'assistant').map((m) => m.content)).toEqual(['answer 1', 'answer 2', 'answer 3', 'answer 4', 'answer 5']);
  });

  it("shows the model another worker's retry of a step, not its own lost answer", async () => {
    const store = localDirectoryStorage(path.join(root, 'two')).blobs;
    const [a, b] = [new ConversationCache(store), new ConversationCache(store)];
    await a.save('t2', 0, [], start);
    await a.save('t2', 1, await a.load('t2', 1), answer('first'));
    // Worker A answers step 2, but its result never reaches Temporal; step 2 is retried on B.
    await a.save('t2', 2, await a.load('t2', 2), answer('lost'));
    await b.save('t2', 2, await b.load('t2', 2), answer('kept'));
    // Step 3 lands on A again: it must see B's answer to step 2.
    const seen = await a.load('t2', 3);
    expect(seen.map((m) => m.content)).toContain('kept');
    expect(seen.map((m) => m.content)).not.toContain('lost');
    expect(seen).toEqual(await loadConversation(store, 't2', 3));
  });
});
