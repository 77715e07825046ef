// A task's live timeline: its server-sent events (GET /tasks/:id/events), read with fetch so the
// token goes in a header (EventSource cannot send one), parsed by eventsource-parser, and
// reconnected with Last-Event-ID when the connection drops, until the stream's `end`.
import { EventSourceParserStream } from 'eventsource-parser/stream';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { session } from './api.js';

interface TaskEvent {
  seq: string;
  type: string;
  at?: string;
  step?: number;
  [detail: string]: unknown;
}

const RECONNECT_MS = 2_000;

/** One line saying what happened, from the event's own fields (text only). */
function describe(e: TaskEvent): string {
  const d = e as Record<string, unknown>;
  switch (e.type) {
    case 'step_started':
      return `step ${e.step} started`;
    case 'model_answered':
      return Array.isArray(d.toolCalls) && d.toolCalls.length ? `model asked for ${d.toolCalls.join(', ')}` : 'model answered';
    case 'tool_called':
      return `${String(d.tool)} called`;
    case 'tool_result':
      return `${String(d.tool)} ${d.isError ? 'failed' : 'done'}`;
    case 'tests_finished':
      return `tests ${d.passed ? 'passed' : `failed (exit ${String(d.exitCode)})`}: ${String(d.command)}`;
    case 'review_finished':
      return `review round ${String(d.round)}: ${String(d.verdict)}, ${String(d.comments)} comment(s)`;
    case 'pr_opened':
      return `pull request #${String(d.number)} opened${d.draft ? ' (draft)' : ''}`;
    case 'pr_updated':
      return `pull request updated`;
    case 'checkpoint':
      return `work so far saved at step ${String(d.step)} (${String(d.sha).slice(0, 8)})`;
    case 'sandbox_lost':
      return `sandbox lost during ${String(d.during)} (${String(d.why)}); restored from ${String(d.restoredFrom)}`;
    default:
      return e.type.replace(/_/g, ' ');
  }
}

/** What is worth unfolding: a tool's arguments or output, the model's words, the review's comments. */
function detailOf(e: TaskEvent): string | undefined {
  const d = e as Record<string, unknown>;
  const text = [d.output, d.arguments, d.text].find((v) => typeof v === 'string' && v.length > 0);
  return typeof text === 'string' ? text : undefined;
}

export function Timeline({ id }: { id: string }) {
  const [events, setEvents] = useState<TaskEvent[]>([]);
  const [state, setState] = useState<'connecting' | 'live' | 'reconnecting' | 'ended'>('connecting');
  useEffect(() => {
    const stop = new AbortController();
    let last: string | undefined;
    setEvents([]);
    const follow = async () => {
      while (!stop.signal.aborted) {
        try {
          const token = session.token;
          const res = await fetch(`/tasks/${encodeURIComponent(id)}/events`, {
            headers: { ...(token && { authorization: `Bearer ${token}` }), ...(last !== undefined && { 'last-event-id': last }) },
            signal: stop.signal,
          });
          if (!res.ok || !res.body) throw new Error(`${res.status}`);
          setState('live');
          const reader = res.body.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream()).getReader();
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            if (value.event === 'end') {
              setState('ended');
              return;
            }
            if (value.id !== undefined) last = value.id;
            const event = { ...(JSON.parse(value.data) as Omit<TaskEvent, 'seq'>), seq: value.id ?? String(Date.now()) } as TaskEvent;
            setEvents((previous) => [...previous, event]);
          }
        } catch {
          if (stop.signal.aborted) return;
        }
        setState('reconnecting');
        await new Promise((r) => setTimeout(r, RECONNECT_MS));
      }
    };
    void follow();
    return () => stop.abort();
  }, [id]);
  // The newest event stays in view as events arrive, unless the reader scrolled up to read older ones.
  const list = useRef<HTMLOListElement>(null);
  const following = useRef(true);
  useLayoutEffect(() => {
    const ol = list.current;
    if (ol && following.current) ol.scrollTop = ol.scrollHeight;
  }, [events.length]);
  const onScroll = () => {
    const ol = list.current;
    if (ol) following.current = ol.scrollHeight - ol.scrollTop - ol.clientHeight < 24;
  };
  return (
    <section aria-label="Timeline" class="timeline">
      <h2>
        Timeline <span class={`live ${state}`}>{state === 'live' ? 'live' : state === 'ended' ? 'ended' : state === 'reconnecting' ? 'reconnecting…' : 'connecting…'}</span>
      </h2>
      <ol ref={list} onScroll={onScroll}>
        {events.map((e) => {
          const detail = detailOf(e);
          return (
            <li key={e.seq} data-event={e.type}>
              <time dateTime={e.at}>{e.at ? new Date(e.at).toLocaleTimeString() : ''}</time> <span>{describe(e)}</span>
              {detail && (
                <details>
                  <summary>details</summary>
                  <pre>{detail}</pre>
                </details>
              )}
            </li>
          );
        })}
      </ol>
    </section>
  );
}
