// A server-sent-events client for tests: reads a stream over real HTTP with the parser the CLI
// uses, until `end`, a condition, the server closing it, or a timeout.
import { parseServerSentEvents } from '../../apps/cli/server-sent-events.js';

export interface SseMessage {
  id?: string;
  event: string;
  data: any;
}

export async function readEvents(
  url: string,
  opts: { lastEventId?: string; stopAfter?: (m: SseMessage) => boolean; timeoutMs?: number } = {},
): Promise<{ status: number; contentType: string | null; messages: SseMessage[] }> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), opts.timeoutMs ?? 60_000);
  const messages: SseMessage[] = [];
  let status = 0;
  let contentType: string | null = null;
  try {
    const res = await fetch(url, { headers: opts.lastEventId ? { 'last-event-id': opts.lastEventId } : {}, signal: abort.signal });
    status = res.status;
    contentType = res.headers.get('content-type');
    if (!res.ok || !res.body) return { status, contentType, messages };
    for await (const raw of parseServerSentEvents(res.body as unknown as AsyncIterable<Uint8Array>)) {
      const message = { ...raw, data: parseData(raw.data) };
      messages.push(message);
      if (message.event === 'end' || opts.stopAfter?.(message)) break;
    }
  } catch (err) {
    // A connection the server dropped (it restarted) ends the stream, as it does for EventSource.
    if (!messages.length && !abort.signal.aborted) throw err;
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
  return { status, contentType, messages };
}

function parseData(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
