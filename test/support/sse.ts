// A small server-sent-events client for tests: reads a stream over real HTTP and parses it the
// way EventSource does (id, event, data fields; blank line ends a message).
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
  try {
    const res = await fetch(url, { headers: opts.lastEventId ? { 'last-event-id': opts.lastEventId } : {}, signal: abort.signal });
    if (!res.ok || !res.body) return { status: res.status, contentType: res.headers.get('content-type'), messages };
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const message = parseBlock(block);
        if (!message) continue;
        messages.push(message);
        if (message.event === 'end' || opts.stopAfter?.(message)) {
          abort.abort();
          return { status: res.status, contentType: res.headers.get('content-type'), messages };
        }
      }
    }
    return { status: res.status, contentType: res.headers.get('content-type'), messages };
  } catch (err) {
    if (abort.signal.aborted && messages.length) return { status: 200, contentType: 'text/event-stream', messages };
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

function parseBlock(block: string): SseMessage | undefined {
  let id: string | undefined;
  let event = 'message';
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith(':') || !line) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'id') id = value;
    else if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  if (!data.length) return undefined;
  const text = data.join('\n');
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // plain text data
  }
  return { id, event, data: parsed };
}
