// A task's page: its status, phase and budgets, links to its PR and its run in Temporal UI, and
// the controls its caller may use (pause, resume, cancel: tasks:control). Polled while it runs.
import { useEffect, useState } from 'preact/hooks';
import { call, may, type TaskView, type Whoami } from './api.js';
import { TaskDiff } from './task-diff.js';
import { Timeline } from './timeline.js';
import { age } from './task-list.js';

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

  const act = async (action: 'pause' | 'resume' | 'cancel') => {
    try {
      await call('POST', `/tasks/${encodeURIComponent(id)}/${action}`, {});
      setTick(tick + 1);
    } catch (err) {
      setProblem((err as Error).message);
    }
  };
  const running = task?.status === 'running';
  return (
    <main class="task">
      <p>
        <a href="#/">← Tasks</a>
      </p>
      <h1>Task {id}</h1>
      {problem && (
        <p role="alert" class="error">
          {problem}
        </p>
      )}
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
          </section>
          <p class="links">
            {task.pr && (
              <a href={task.pr.url} rel="noopener noreferrer">
                Pull request #{task.pr.number}
                {task.pr.draft && ' (draft)'}
              </a>
            )}
            <a href={task.links.temporalUi} rel="noopener noreferrer">
              Run in Temporal UI
            </a>
          </p>
          {task.summary && (
            <section aria-label="Summary">
              <h2>Summary</h2>
              <p class="prose">{task.summary}</p>
            </section>
          )}
          <Timeline id={id} />
          <TaskDiff id={id} status={task.status} />
          {running && may(me, 'tasks:control') && (
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
