// The coder's conversation, kept in the ArtifactStore one file per step (claim-check): step N's
// file holds the tool results that led into it and the model's answer. A retried step
// overwrites its own file, so the transcript never holds a step twice.
import path from 'node:path';
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import type { ArtifactStore } from '../store/artifact-store.js';
import { taskKeys } from '../store/keys.js';


export async function loadConversation(store: ArtifactStore, taskId: string, beforeStep: number): Promise<ChatCompletionMessageParam[]> {
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

export async function saveStep(store: ArtifactStore, taskId: string, step: number, messages: ChatCompletionMessageParam[]): Promise<void> {
  await store.put(taskKeys(taskId).transcriptStep(step), JSON.stringify(messages));
}

/** The whole stored conversation, each message tagged with the step it belongs to. */
export async function readTranscript(store: ArtifactStore, taskId: string): Promise<(ChatCompletionMessageParam & { step: number })[]> {
  const out: (ChatCompletionMessageParam & { step: number })[] = [];
  for (const key of await store.list(taskKeys(taskId).transcript)) {
    const step = Number.parseInt(path.posix.basename(key), 10);
    const raw = await store.get(key);
    if (raw === undefined || Number.isNaN(step)) continue;
    for (const message of JSON.parse(raw) as ChatCompletionMessageParam[]) out.push({ step, ...message });
  }
  return out;
}
