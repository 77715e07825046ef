// A task's page: its status, phase and budgets, its plan, links to its PR and its run in Temporal
// UI, its live timeline and its diff, and the controls its caller may use (tasks:control: a
// message to the agent, approving its plan, pause, resume, cancel). Polled while it runs.
import { useEffect, useState } from 'preact/hooks';
import { call, may, type TaskView, type Whoami } from './api.js';
import { Alert } from './fields.js';
import { TaskDiff } from './task-diff.js';
import { TaskRecords } from './task-records.js';
import { Timeline } from './timeline.js';
import { age } from './time.js';

const REFRESH_MS = 2_000;

function Meter({ label, used, max, unit = '' }: { label: string; used: number; max?: number; unit?: string }) {
  return (
    <div class="meter">
      <span>
        {label}: {unit}
        {used.toLocaleString()}
        {max !== undefined && ` of ${unit}${max.toLocaleString()}`}
      </span>
      {max !== undefined && <progress value={Math.min(used, max)} max={max} aria-label={label} />}
    </div>
  );
}

export function TaskPage({ id, me }: { id: string; me: Whoami }) {
  const [task, setTask] = useState<TaskView | undefined>();
  const [problem, setProblem] = useState<string | undefined>();
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let stopped = false;
    const load = () =>
      call<TaskView>('GET', `/tasks/${encodeURIComponent(id)}`).then(
        (t) => !stopped && (setTask(t), setProblem(undefined)),
        (err: Error) => !stopped && setProblem(err.message),
      );
    void load();
    const timer = setInterval(() => task?.status === 'running' || !task ? load() : undefined, REFRESH_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [id, tick, task?.status]);

  const act = async (action: 'pause' | 'resume' | 'cancel' | 'approve') => {
    try {
      await call('POST', `/tasks/${encodeURIComponent(id)}/${action}`, {});
      setTick(tick + 1);
    } catch (err) {
      setProblem((err as Error).message);
    }
  };
  const running = task?.status === 'running';
  const control = running && may(me, 'tasks:control');
  return (
    <main class="task">
      <p>
        <a href="#/">← Tasks</a>
      </p>
      <h1>Task {id}</h1>
      <Alert text={problem} />
      {task && (
        <>
          <dl class="facts">
            <dt>Status</dt>
            <dd class={`status ${task.status}`}>{task.status}</dd>
            <dt>Phase</dt>
            <dd>
              {task.phase}
              {task.queue && ` (#${task.queue.position} in queue: ${task.queue.waitingFor})`}
            </dd>
            <dt>Repository</dt>
            <dd>
              {task.repo} {task.baseBranch && `@ ${task.baseBranch}`}
            </dd>
            <dt>Started</dt>
            <dd>{task.startedAt && `${age(task.startedAt)} ago`}</dd>
            {task.lastAction && (
              <>
                <dt>Last</dt>
                <dd>{task.lastAction}</dd>
              </>
            )}
            {task.error && (
              <>
                <dt>Error</dt>
                <dd class="error">{task.error}</dd>
              </>
            )}
          </dl>
          <section aria-label="Budgets" class="budgets">
            <Meter label="Steps" used={task.step ?? 0} max={task.budget?.maxSteps} />
            <Meter label="Tokens" used={(task.tokens?.prompt ?? 0) + (task.tokens?.completion ?? 0)} max={task.budget?.maxTokens} />
            <Meter label="Cost" unit="$" used={Number((task.costUsd ?? 0).toFixed(2))} max={task.budget?.maxCostUsd} />
            {task.elapsedMs !== undefined && <Meter label="Minutes" used={Math.floor(task.elapsedMs / 60_000)} max={task.budget?.maxWallClockMinutes} />}
          </section>
          <p class="links">
            {task.pr && (
              <a href={task.pr.url} rel="noopener noreferrer">
                Pull request #{task.pr.number}
                {task.pr.draft && ' (draft)'}: {task.pr.title}
              </a>
            )}
            <a href={task.links.temporalUi} rel="noopener noreferrer">
              Run in Temporal UI
            </a>
          </p>
          {task.plan && (
            <section aria-label="Plan">
              <h2>Plan</h2>
              <p class="prose">{task.plan}</p>
              {task.planApprovedBy && <p>Approved by {task.planApprovedBy}.</p>}
              {control && task.phase === 'awaiting_approval' && (
                <button type="button" onClick={() => act('approve')}>
                  Approve plan
                </button>
              )}
            </section>
          )}
          {control && <MessageBox id={id} />}
          {task.summary && (
            <section aria-label="Summary">
              <h2>Summary</h2>
              <p class="prose">{task.summary}</p>
            </section>
          )}
          <Timeline id={id} />
          <TaskDiff id={id} status={task.status} />
          <TaskRecords id={id} version={`${task.status}:${task.step ?? 0}`} />
          {control && (
            <div class="controls" role="group" aria-label="Control">
              {task.paused ? (
                <button type="button" onClick={() => act('resume')}>
                  Resume
                </button>
              ) : (
                <button type="button" onClick={() => act('pause')}>
                  Pause
                </button>
              )}
              <button type="button" class="danger" onClick={() => confirm('Cancel this task? Its work so far stays on its branch.') && act('cancel')}>
                Cancel
              </button>
            </div>
          )}
        </>
      )}
    </main>
  );
}

/** A message the agent reads before its next model call (a Temporal update: answered once the task took it). */
function MessageBox({ id }: { id: string }) {
  const [text, setText] = useState('');
  const [said, setSaid] = useState<string | undefined>();
  const [problem, setProblem] = useState<string | undefined>();
  const send = async (e: Event) => {
    e.preventDefault();
    setSaid(undefined);
    setProblem(undefined);
    try {
      const accepted = await call<{ seq: number; beforeStep: number }>('POST', `/tasks/${encodeURIComponent(id)}/messages`, { text });
      setSaid(`Message #${accepted.seq} taken; the agent reads it before step ${accepted.beforeStep}.`);
      setText('');
    } catch (err) {
      setProblem((err as Error).message);
    }
  };
  return (
    <form class="message" onSubmit={send} aria-label="Steer">
      <label for="message">Message to the agent</label>
      <textarea id="message" name="text" rows={2} required value={text} onInput={(e) => setText(e.currentTarget.value)} />
      <button type="submit">Send</button>
      {said && <p role="status">{said}</p>}
      <Alert text={problem} />
    </form>
  );
}
