// A task's page: its status, phase and budgets, its plan, links to its PR and its run in Temporal
// UI, the secrets its repository's tasks get (by name), its live timeline and its diff, and the
// controls its caller may use (tasks:control: a message to the agent, approving its plan, pause,
// resume, cancel). Polled while it runs. A dependency bump's page lists its groups' tasks and PRs
// instead; a task started by a bump or a schedule links to it.
import { useEffect, useState } from 'preact/hooks';
import { call, may, type DependencyGroup, type TaskView, type Whoami } from './api.js';
import { Alert } from './fields.js';
import { Markdown } from './markdown.js';
import { RepoSecrets } from './repo-secrets.js';
import { RepoEnvironment } from './repo-environment.js';
import { TaskAttempts } from './task-attempts.js';
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
  // A dependency bump does no work of its own: its groups' tasks do (steps, diffs, timelines are theirs).
  const bump = task?.kind === 'dependency_bump';
  return (
    <main class="task">
      <p>
        <a href="#/">← Tasks</a>
      </p>
      <h1>
        {bump ? 'Dependency bump' : 'Task'} {id}
      </h1>
      <Alert text={problem} />
      {task && (
        <>
          {task.parent && (
            <p class="parent">
              {task.parent.kind === 'schedule' ? (
                <>
                  A run of schedule <a href={`#/schedules/${encodeURIComponent(task.parent.id)}`}>{task.parent.id}</a>
                </>
              ) : task.parent.kind === 'campaign' ? (
                <>
                  One repository of <a href={`#/campaigns/${encodeURIComponent(task.parent.id)}`}>campaign {task.parent.id}</a>
                </>
              ) : (
                <>
                  Part of <a href={`#/tasks/${encodeURIComponent(task.parent.id)}`}>task {task.parent.id}</a>
                </>
              )}
            </p>
          )}
          <dl class="facts">
            <dt>Status</dt>
            <dd class={`status ${task.status}`}>{task.status}</dd>
            <dt>Phase</dt>
            <dd>
              {task.phase}
              {task.queue && ` (#${task.queue.position} in queue: ${task.queue.waitingFor})`}
            </dd>
            {task.prompt && (
              <>
                <dt>Asked</dt>
                <dd class="prose prompt">{task.prompt}</dd>
              </>
            )}
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
          {!bump && (
            <section aria-label="Budgets" class="budgets">
              <Meter label="Steps" used={task.step ?? 0} max={task.budget?.maxSteps} />
              <Meter label="Tokens" used={(task.tokens?.prompt ?? 0) + (task.tokens?.completion ?? 0)} max={task.budget?.maxTokens} />
              <Meter label="Cost" unit="$" used={Number((task.costUsd ?? 0).toFixed(2))} max={task.budget?.maxCostUsd} />
              {task.elapsedMs !== undefined && <Meter label="Minutes" used={Math.floor(task.elapsedMs / 60_000)} max={task.budget?.maxWallClockMinutes} />}
            </section>
          )}
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
          {task.repo && <RepoSecrets repo={task.repo} />}
          {task.repo && <RepoEnvironment repo={task.repo} />}
          {task.plan && (
            <section aria-label="Plan">
              <h2>Plan</h2>
              <Markdown text={task.plan} />
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
              <Markdown text={task.summary} />
            </section>
          )}
          {bump ? (
            <DependencyGroups groups={task.dependencyGroups ?? []} running={running} />
          ) : (
            <>
              {task.attempts && <TaskAttempts task={task} me={me} />}
              <Timeline id={id} />
              <TaskDiff id={id} status={task.status} />
              <TaskRecords id={id} version={`${task.status}:${task.step ?? 0}`} />
            </>
          )}
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

/** A dependency bump's groups: each a task of its own, linked, with its pull request. */
function DependencyGroups({ groups, running }: { groups: DependencyGroup[]; running: boolean }) {
  return (
    <section aria-label="Groups">
      <h2>Groups</h2>
      {groups.length === 0 ? (
        <p class="empty">{running ? 'Looking for outdated dependencies…' : 'Nothing to update: no group, no pull request.'}</p>
      ) : (
        <table class="tasks">
          <thead>
            <tr>
              <th scope="col">Group</th>
              <th scope="col">Packages</th>
              <th scope="col">Status</th>
              <th scope="col">Task</th>
              <th scope="col">Pull request</th>
            </tr>
          </thead>
          <tbody>
            {groups.map((g) => (
              <tr data-group={g.name}>
                <td>{g.name}</td>
                <td>{g.packages}</td>
                <td class={`status ${g.status}`}>{g.status.replace(/_/g, ' ')}</td>
                <td>
                  <a href={`#/tasks/${encodeURIComponent(g.taskId)}`}>{g.taskId}</a>
                </td>
                <td>
                  {g.pr ? (
                    <a href={g.pr.url} rel="noopener noreferrer">
                      #{g.pr.number}
                      {g.pr.draft && ' (draft)'}
                    </a>
                  ) : (
                    (g.error ?? '—')
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
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
      // A task with attempts has no step of its own: it hands the message to its attempts (`attempts` names them).
      const accepted = await call<{ seq: number; beforeStep?: number; attempts?: number[] }>('POST', `/tasks/${encodeURIComponent(id)}/messages`, { text });
      setSaid(
        accepted.attempts
          ? `Message #${accepted.seq} taken; passed to attempts ${accepted.attempts.join(', ')} (each reads it before its next step).`
          : `Message #${accepted.seq} taken; the agent reads it before step ${accepted.beforeStep}.`,
      );
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
