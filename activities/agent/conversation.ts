// The coder's conversation, kept in the BlobStore one file per step (claim-check): step N's
// file holds the tool results that led into it and the model's answer. A retried step
// overwrites its own file, so the transcript never holds a step twice.
import path from 'node:path';
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import type { BlobStore } from '../store/storage.js';
import { taskKeys } from '../store/keys.js';


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

interface Cached {
  /** The conversation through step `through`, as this worker saved it. */
  messages: ChatCompletionMessageParam[];
  through: number;
  /** Step `through`'s file as written: another worker's retry of that step would differ. */
  last: string;
  bytes: number;
}

/**
 * The conversations of the tasks this worker ran last, so a step reads one file instead of every
 * step's (reading them all made a task quadratic in its length). Steps only move forward, so an
 * entry holds when it ends at the step before the one asked for and that step's file is still
 * what this worker wrote; otherwise (a step ran on another worker, a retry elsewhere) the store is
 * read in full. Bounded in bytes; the least recently used go first.
 */
export class ConversationCache {
  private readonly entries = new Map<string, Cached>();
  private bytes = 0;

  constructor(
    private readonly store: BlobStore,
    private readonly maxBytes = 64 * 2 ** 20,
  ) {}

  /** The conversation before `step`: steps 0 .. step-1. */
  async load(taskId: string, step: number): Promise<ChatCompletionMessageParam[]> {
    const hit = this.entries.get(taskId);
    if (hit && hit.through === step - 1 && (await this.store.get(taskKeys(taskId).transcriptStep(hit.through))) === hit.last) {
      return [...hit.messages];
    }
    return loadConversation(this.store, taskId, step);
  }

  /** Saves step `step` (`added`: its messages) after `before` (the conversation up to it). */
  async save(taskId: string, step: number, before: ChatCompletionMessageParam[], added: ChatCompletionMessageParam[]): Promise<void> {
    const raw = JSON.stringify(added);
    await this.store.put(taskKeys(taskId).transcriptStep(step), raw);
    const previous = this.entries.get(taskId);
    this.forget(taskId);
    const bytes = (previous?.through === step - 1 ? previous.bytes : JSON.stringify(before).length) + raw.length;
    if (bytes > this.maxBytes) return;
    this.entries.set(taskId, { messages: [...before, ...added], through: step, last: raw, bytes });
    this.bytes += bytes;
    for (const [id, entry] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(id);
      this.bytes -= entry.bytes;
    }
  }

  private forget(taskId: string): void {
    const entry = this.entries.get(taskId);
    if (!entry) return;
    this.entries.delete(taskId);
    this.bytes -= entry.bytes;
  }
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
