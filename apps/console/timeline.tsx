// A task's live timeline: its server-sent events (GET /tasks/:id/events), read with fetch so the
// token goes in a header (EventSource cannot send one), parsed by eventsource-parser, and
// reconnected with Last-Event-ID when the connection drops, until the stream's `end`.
import { EventSourceParserStream } from 'eventsource-parser/stream';
import type { ComponentChildren } from 'preact';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { size } from './repo-environment.js';
import { session } from './api.js';

interface TaskEvent {
  seq: string;
  type: string;
  at?: string;
  step?: number;
  [detail: string]: unknown;
}

const RECONNECT_MS = 2_000;

/** What `mcp_tools` holds: the task's MCP servers, and the tools they offer its model. */
interface McpServerState {
  name: string;
  ready: boolean;
  why?: string;
  tools?: string[];
}
interface McpTool {
  name: string;
  readOnly: boolean;
  description: string;
}

const listOf = <T,>(value: unknown): T[] => (Array.isArray(value) ? (value as T[]) : []);
const count = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** "2 servers ready, 1 failed": how the task's MCP servers started. */
function serversStarted(servers: McpServerState[]): string {
  const ready = servers.filter((s) => s.ready).length;
  const failed = servers.length - ready;
  return `${count(ready, 'server')} ready${failed ? `, ${failed} failed` : ''}`;
}

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
    case 'mcp_tools': {
      const tools = listOf<McpTool>(d.tools).map((t) => t.name);
      return `MCP tools offered: ${tools.length ? tools.join(', ') : 'none'} (${serversStarted(listOf(d.servers))})`;
    }
    case 'mcp_server_failed':
      return `MCP server ${String(d.server)} did not start: ${String(d.why)}`;
    case 'mcp_server_refused':
      return `MCP request refused: ${String(d.why)}`;
    case 'environment_restored':
      return `environment restored from the one kept after setup (${size(Number(d.bytes))} in ${Math.round(Number(d.ms))} ms)${d.maintenance ? '; maintenance script ran' : ''}`;
    case 'environment_saved':
      return `environment kept for the next tasks (${size(Number(d.bytes))} in ${Math.round(Number(d.ms))} ms)`;
    case 'environment_missed':
      return `no kept environment used: ${String(d.why)}`;
    case 'sandbox_lost':
      return `sandbox lost during ${String(d.during)} (${String(d.why)}); restored from ${String(d.restoredFrom)}`;
    default:
      return e.type.replace(/_/g, ' ');
  }
}

/**
 * What is worth unfolding: a tool's arguments or output, the model's words, the review's
 * comments; the MCP servers and each tool they offer.
 */
function detailOf(e: TaskEvent): ComponentChildren | undefined {
  const d = e as Record<string, unknown>;
  if (e.type === 'mcp_tools') return <McpTools servers={listOf(d.servers)} tools={listOf(d.tools)} />;
  const text = [d.output, d.arguments, d.text].find((v) => typeof v === 'string' && v.length > 0);
  return typeof text === 'string' ? <pre>{text}</pre> : undefined;
}

/**
 * The servers and their tools. A tool's description is the server's own text, which the model
 * reads too (a way to steer it): set apart and labelled as the server's words, shown as text.
 */
function McpTools({ servers, tools }: { servers: McpServerState[]; tools: McpTool[] }) {
  return (
    <div class="mcp">
      <ul class="mcp-servers">
        {servers.map((s) => (
          <li data-server={s.name}>
            {s.name}: {s.ready ? `ready, ${count(s.tools?.length ?? 0, 'tool')}` : 'did not start'}
            {s.why && ` (${s.why})`}
          </li>
        ))}
      </ul>
      {tools.length > 0 && (
        <dl class="mcp-tools">
          {tools.map((t) => {
            const server = t.name.split('__')[0] ?? '';
            // Errand prefixes each description with its server's name for the model; here the label says so.
            const words = String(t.description ?? '').replace(/^\[MCP server [^\]]*\] ?/, '');
            return (
              <div data-tool={t.name}>
                <dt>
                  <code>{t.name}</code> <span class={`flag ${t.readOnly ? 'read-only' : 'writes'}`}>{t.readOnly ? 'read-only' : 'may change things'}</span>
                </dt>
                <dd>
                  <span class="source">Text from MCP server {server}:</span>
                  <blockquote class="from-server">{words || '(no description)'}</blockquote>
                </dd>
              </div>
            );
          })}
        </dl>
      )}
    </div>
  );
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
                  {detail}
                </details>
              )}
            </li>
          );
        })}
      </ol>
    </section>
  );
}
