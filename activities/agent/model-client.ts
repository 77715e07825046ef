// ModelClient: the `openai` SDK against any OpenAI-compatible endpoint. The SDK's own retries
// are off: 429 and 5xx become transient failures for the activity retry policy (honouring
// Retry-After, up to a cap), and requests the endpoint rejects (400, 401, 403, 404, 422) fail
// at once.
import OpenAI from 'openai';
import type { ChatCompletion, ChatCompletionCreateParamsNonStreaming } from 'openai/resources/chat/completions';
import { FailureType } from '../../workflows/failures.js';
import { ErrandFailure } from '../../lib/failures/errand-failure.js';
import type { Redactor } from '../../lib/storage/redactor.js';

export interface ModelSettings {
  baseUrl: string;
  model: string;
  apiKey?: string;
  requestTimeoutMs?: number;
  /** Context window in tokens; old tool outputs are elided to stay inside it. */
  contextTokens: number;
  /** USD per million tokens; without it a task's cost counts as 0. */
  price?: { input: number; output: number };
  /** The longest Retry-After obeyed; an endpoint asking for more is retried after this. */
  maxRetryAfterMs?: number;
}

export type ChatRequest = Omit<ChatCompletionCreateParamsNonStreaming, 'model'>;

export interface ModelClient {
  readonly model: string;
  readonly settings: ModelSettings;
  complete(req: ChatRequest, signal?: AbortSignal): Promise<ChatCompletion>;
}

export class OpenAIModelClient implements ModelClient {
  private readonly client: OpenAI;
  readonly model: string;

  constructor(readonly settings: ModelSettings) {
    this.model = settings.model;
    this.client = new OpenAI({
      baseURL: settings.baseUrl,
      apiKey: settings.apiKey || 'not-needed',
      maxRetries: 0,
      timeout: settings.requestTimeoutMs ?? 120_000,
    });
  }

  async complete(req: ChatRequest, signal?: AbortSignal): Promise<ChatCompletion> {
    try {
      const res = await this.client.chat.completions.create({ ...req, model: this.model }, { signal });
      if (!res || !Array.isArray(res.choices) || res.choices.length === 0) {
        throw ErrandFailure.transient(FailureType.ModelUnavailable, `model ${this.model} answered without choices`);
      }
      return res;
    } catch (err) {
      throw classifyModelError(err, this.settings);
    }
  }
}

/**
 * Wraps any model client so that nothing a model answers reaches Errand unredacted: every
 * string in the answer (text, tool names, tool-call ids, arguments, a review's comments) is
 * redacted as it arrives, before anything stores, shows or acts on it.
 */
export class RedactingModelClient implements ModelClient {
  constructor(
    private readonly inner: ModelClient,
    private readonly redactor: Redactor,
  ) {}

  get model(): string {
    return this.inner.model;
  }

  get settings(): ModelSettings {
    return this.inner.settings;
  }

  async complete(req: ChatRequest, signal?: AbortSignal): Promise<ChatCompletion> {
    return redactStrings(await this.inner.complete(req, signal), this.redactor);
  }
}

function redactStrings<T>(value: T, redactor: Redactor): T {
  if (typeof value === 'string') return redactor.redact(value) as T;
  if (Array.isArray(value)) return value.map((v) => redactStrings(v, redactor)) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactStrings(v, redactor)])) as T;
  }
  return value;
}

const REJECTED = new Set([400, 401, 403, 404, 422]);
export const DEFAULT_MAX_RETRY_AFTER_MS = 120_000;

/** Pure: maps an SDK error to the failure the retry policy should see. */
export function classifyModelError(err: unknown, settings: Pick<ModelSettings, 'baseUrl' | 'model' | 'maxRetryAfterMs'>): unknown {
  if (err instanceof ErrandFailure) return err;
  if (err instanceof OpenAI.APIError && err.status !== undefined) {
    const where = `model ${settings.model} at ${settings.baseUrl}`;
    if (REJECTED.has(err.status)) {
      const hint =
        err.status === 401 || err.status === 403
          ? ' Check ERRAND_MODEL_API_KEY.'
          : err.status === 404
            ? ' Check ERRAND_MODEL and ERRAND_MODEL_BASE_URL.'
            : '';
      return ErrandFailure.permanent(FailureType.ModelRejected, `${where} rejected the request (${err.status}): ${err.message}.${hint}`);
    }
    const retryAfter = Number(err.headers?.get?.('retry-after'));
    const asked = Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined;
    const cap = settings.maxRetryAfterMs ?? DEFAULT_MAX_RETRY_AFTER_MS;
    const capped = asked !== undefined && asked > cap;
    return ErrandFailure.transient(
      FailureType.ModelUnavailable,
      `${where} answered ${err.status}: ${err.message}${capped ? `; it asked to wait ${asked / 1000} s, Errand waits at most ${cap / 1000} s (ERRAND_MODEL_MAX_RETRY_AFTER_SECONDS)` : ''}`,
      capped ? cap : asked,
    );
  }
  if (err instanceof OpenAI.APIUserAbortError) return err;
  if (err instanceof OpenAI.APIConnectionError) {
    return ErrandFailure.transient(FailureType.ModelUnavailable, `cannot reach model endpoint ${settings.baseUrl}: ${err.message}`);
  }
  return err;
}

/** Dollars for one call, from the configured price table. */
export function callCost(settings: Pick<ModelSettings, 'price'>, usage: { prompt: number; completion: number }): number {
  if (!settings.price) return 0;
  return (usage.prompt * settings.price.input + usage.completion * settings.price.output) / 1_000_000;
}
