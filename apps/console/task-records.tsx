// A task's records, each read when it is opened: the whole transcript (the agent's conversation,
// redacted by the API) and the full setup and test logs. Text only, like everything else here.
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { ApiError, call, callText } from './api.js';

interface TranscriptMessage {
  step: number;
  role: string;
  content?: string | { type: string; text?: string }[] | null;
  tool_calls?: { id: string; function: { name: string; arguments: string } }[];
}

const textOf = (content: TranscriptMessage['content']) => (typeof content === 'string' ? content : (content ?? []).map((p) => p.text ?? '').join(''));

/** A <details> whose body is fetched the first time it opens (and again when the task has moved on). */
function Lazy({ title, load, render, version }: { title: string; load: () => Promise<string>; render: (text: string) => ComponentChildren; version: string }) {
  const [body, setBody] = useState<{ version: string; text?: string; problem?: string } | undefined>();
  const toggled = (e: Event) => {
    if (!(e.currentTarget as HTMLDetailsElement).open || body?.version === version) return;
    load().then(
      (text) => setBody({ version, text }),
      (err: unknown) => setBody({ version, problem: err instanceof ApiError && err.status === 404 ? err.detail : (err as Error).message }),
    );
  };
  return (
    <details class="record" onToggle={toggled}>
      <summary>{title}</summary>
      {body?.problem && <p class="empty">{body.problem}</p>}
      {body?.text !== undefined && render(body.text)}
    </details>
  );
}

export function TaskRecords({ id, version }: { id: string; version: string }) {
  const path = `/tasks/${encodeURIComponent(id)}`;
  return (
    <section aria-label="Records" class="records">
      <Lazy
        title="Transcript"
        version={version}
        load={async () => JSON.stringify(await call<{ messages: TranscriptMessage[] }>('GET', `${path}/transcript`))}
        render={(text) => (
          <ol class="transcript">
            {(JSON.parse(text) as { messages: TranscriptMessage[] }).messages.map((m) => (
              <li class={`role-${m.role}`}>
                <span class="who">
                  {m.role} · step {m.step}
                </span>
                {textOf(m.content) && <pre>{textOf(m.content)}</pre>}
                {m.tool_calls?.map((c) => (
                  <pre class="call">
                    {c.function.name}({c.function.arguments})
                  </pre>
                ))}
              </li>
            ))}
          </ol>
        )}
      />
      {(['test', 'setup'] as const).map((name) => (
        <Lazy title={`${name === 'test' ? 'Test' : 'Setup'} log`} version={version} load={() => callText('GET', `${path}/logs/${name}`)} render={(text) => <pre class="log">{text}</pre>} />
      ))}
    </section>
  );
}
