// The coder's conversation as a worker keeps it between steps: saved to the BlobStore one file
// per step (claim-check, read back by lib/transcripts/transcript.ts): step N's file holds the
// tool results that led into it and the model's answer. A retried step overwrites its own file,
// so the transcript never holds a step twice.
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import type { BlobStore } from '../../lib/storage/storage.js';
import { taskKeys } from '../../lib/storage/keys.js';
import { loadConversation } from '../../lib/transcripts/transcript.js';

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
