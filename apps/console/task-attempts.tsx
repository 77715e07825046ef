// A task run as several attempts (POST /tasks with `attempts`): the attempts side by side, a
// column each with its tests, review, size, cost and change, the choice Errand made and the rules
// that made it, and for an attempt it did not choose, a button to open that attempt's PR anyway.
import { useEffect, useState } from 'preact/hooks';
import { ApiError, call, callText, may, type AttemptView, type TaskView, type Whoami } from './api.js';
import { Alert } from './fields.js';

export function TaskAttempts({ task, me }: { task: TaskView; me: Whoami }) {
  const { attempts = [], choice } = task;
  const running = task.status === 'running';
  return (
    <section aria-label="Attempts" class="attempts">
      <h2>Attempts</h2>
      <p class="hint">
        {attempts.length} attempts at once, {task.attemptBudgets === 'shared' ? 'sharing the task’s budget' : 'each with the task’s whole budget'}.
      </p>
      {choice ? (
        <div class="choice">
          <p>{choice.n === undefined ? 'Errand chose no attempt:' : `Errand chose attempt ${choice.n} because:`}</p>
          <ol>
            {choice.reasons.map((reason) => (
              <li>
                <Reason text={reason} />
              </li>
            ))}
          </ol>
        </div>
      ) : (
        running && <p class="empty">Choosing once all attempts have ended.</p>
      )}
      <div class="attempt-columns">
        {attempts.map((a) => (
          <Attempt id={task.id} attempt={a} chosen={a.n === choice?.n} promotable={!running && a.n !== choice?.n && may(me, 'tasks:control')} by={me.name} />
        ))}
      </div>
    </section>
  );
}

/** A rule in words; what it quotes in backticks (a test command) shown as code. */
const Reason = ({ text }: { text: string }) => <>{text.split('`').map((part, i) => (i % 2 ? <code>{part}</code> : part))}</>;

function Attempt({ id, attempt: a, chosen, promotable, by }: { id: string; attempt: AttemptView; chosen: boolean; promotable: boolean; by?: string }) {
  const [promoted, setPromoted] = useState<AttemptView['promotedPr']>();
  const [problem, setProblem] = useState<string | undefined>();
  const pr = a.promotedPr ?? promoted;
  const promote = async () => {
    setProblem(undefined);
    try {
      setPromoted((await call<{ pr: NonNullable<AttemptView['promotedPr']> }>('POST', `/tasks/${encodeURIComponent(id)}/attempts/${a.n}/promote`, by ? { by } : {})).pr);
    } catch (err) {
      setProblem((err as Error).message);
    }
  };
  return (
    <section aria-label={`Attempt ${a.n}`} class={`attempt${chosen ? ' chosen' : ''}`} data-attempt={a.n}>
      <h3>
        Attempt {a.n} {chosen && <span class="badge">chosen</span>}
      </h3>
      <p class="attempt-id">
        <a href={`#/tasks/${encodeURIComponent(a.taskId)}`}>{a.taskId}</a> <code>{a.branch}</code>
      </p>
      <dl class="facts">
        <dt>Status</dt>
        <dd class={`status ${a.status === 'finished' ? 'completed' : a.status}`}>{a.status}</dd>
        {a.test && (
          <>
            <dt>Tests</dt>
            <dd class={a.test.passed ? 'status completed' : 'status failed'}>{a.test.passed ? 'passed' : `failed (exit ${a.test.exitCode})`}</dd>
          </>
        )}
        {a.review && (
          <>
            <dt>Review</dt>
            <dd>{a.review.verdict.replace(/_/g, ' ')}</dd>
          </>
        )}
        {a.size && (
          <>
            <dt>Size</dt>
            <dd>
              {a.size.lines} line{a.size.lines === 1 ? '' : 's'}, {a.size.files} file{a.size.files === 1 ? '' : 's'}
            </dd>
          </>
        )}
        {a.costUsd !== undefined && (
          <>
            <dt>Cost</dt>
            <dd>${a.costUsd.toFixed(2)}</dd>
          </>
        )}
      </dl>
      {a.error ? <p class="error">{a.error}</p> : a.summary && <p class="prose">{a.summary}</p>}
      {pr ? (
        <p>
          <a href={pr.url} rel="noopener noreferrer">
            Pull request #{pr.number}
            {pr.draft && ' (draft)'}
          </a>
        </p>
      ) : (
        promotable &&
        a.status === 'finished' &&
        a.proposal && (
          <button type="button" onClick={promote}>
            Open a PR from this attempt
          </button>
        )
      )}
      <Alert text={problem} />
      {a.proposal && <AttemptDiff id={id} n={a.n} head={a.proposal.headSha} />}
    </section>
  );
}

/** The attempt's change as text, its added and removed lines coloured; fetched again only when its head moves. */
function AttemptDiff({ id, n, head }: { id: string; n: number; head: string }) {
  const [diff, setDiff] = useState<string | undefined>();
  const [problem, setProblem] = useState<string | undefined>();
  useEffect(() => {
    callText('GET', `/tasks/${encodeURIComponent(id)}/attempts/${n}/diff`).then(
      (text) => (setDiff(text), setProblem(undefined)),
      (err: unknown) => setProblem(err instanceof ApiError && err.status === 404 ? 'No change published.' : (err as Error).message),
    );
  }, [id, n, head]);
  const kind = (line: string) => (/^(\+\+\+|---) /.test(line) ? undefined : line[0] === '+' ? 'add' : line[0] === '-' ? 'del' : undefined);
  return problem ? (
    <p class="empty">{problem}</p>
  ) : (
    diff !== undefined && (
      <pre class="attempt-diff">
        {diff.replace(/\n$/, '').split('\n').map((line) => (
          <span class={kind(line)}>{`${line}\n`}</span>
        ))}
      </pre>
    )
  );
}
