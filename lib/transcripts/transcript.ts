// A task's transcript as it reads back from storage, one file per step (the coder's
// conversation, written by activities/agent/conversation.ts): the conversation before a step, for
// the next model turn, and the whole of it, each message tagged with its step, for the API.
import path from 'node:path';
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import type { BlobStore } from '../storage/storage.js';
import { taskKeys } from '../storage/keys.js';

/** The conversation before `beforeStep` (steps 0 .. beforeStep-1); empty when none was saved. */
export async function loadConversation(store: BlobStore, taskId: string, beforeStep: number): Promise<ChatCompletionMessageParam[]> {
  const messages: ChatCompletionMessageParam[] = [];
  for (let step = 0; step < beforeStep; step++) {
    const raw = await store.get(taskKeys(taskId).transcriptStep(step));
    if (raw === undefined) {
      if (step === 0) return [];
      throw new Error(`transcript of task ${taskId} has no step ${step}`);
    }
    messages.push(...(JSON.parse(raw) as ChatCompletionMessageParam[]));
  }
  return messages;
}

/** The whole stored conversation, each message tagged with the step it belongs to. */
export async function readTranscript(store: BlobStore, taskId: string): Promise<(ChatCompletionMessageParam & { step: number })[]> {
  const out: (ChatCompletionMessageParam & { step: number })[] = [];
  for (const key of await store.list(taskKeys(taskId).transcript)) {
    const step = Number.parseInt(path.posix.basename(key), 10);
    const raw = await store.get(key);
    if (raw === undefined || Number.isNaN(step)) continue;
    for (const message of JSON.parse(raw) as ChatCompletionMessageParam[]) out.push({ step, ...message });
  }
  return out;
}
