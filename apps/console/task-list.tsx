// The task list: live (polled), filtered by repository, status and requester, searchable; and
// the form that starts a task, for callers who may (tasks:write), with the API's own validation
// messages next to the fields they name.
import { useEffect, useLayoutEffect, useState } from 'preact/hooks';
import { call, may, type TaskSummary, type TaskView, type Whoami } from './api.js';
import { Alert, CheckField, Columns, SelectField, TextArea, TextField, useSubmit } from './fields.js';
import { age } from './time.js';
import { paramsBody, PlaybookFields, usePlaybooks, type RawParams } from './playbook-fields.js';

const STATUSES = ['running', 'completed', 'failed', 'cancelled', 'terminated', 'timed_out'];
const REFRESH_MS = 3_000;

export function TaskList({ me }: { me: Whoami }) {
  const [filters, setFilters] = useState({ repo: '', status: '', requester: '' });
  const [search, setSearch] = useState('');
  const [tasks, setTasks] = useState<TaskSummary[] | undefined>();
  const [problem, setProblem] = useState<string | undefined>();
  const [creating, setCreating] = useState(false);

  useEffect(() => {
    let stopped = false;
    const query = new URLSearchParams(Object.entries(filters).filter(([, v]) => v));
    const load = () =>
      call<{ tasks: TaskSummary[] }>('GET', `/tasks?${query}`).then(
        (r) => !stopped && (setTasks(r.tasks), setProblem(undefined)),
        (err: Error) => !stopped && setProblem(err.message),
      );
    void load();
    const timer = setInterval(load, REFRESH_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [filters.repo, filters.status, filters.requester]);

  const shown = (tasks ?? []).filter((t) => !search || [t.id, t.title, t.repo, t.requester, t.phase].some((v) => v?.toLowerCase().includes(search.toLowerCase())));
  const field = (name: keyof typeof filters, label: string) => (
    <label>
      {label}
      <input name={name} value={filters[name]} onChange={(e) => setFilters({ ...filters, [name]: e.currentTarget.value.trim() })} />
    </label>
  );
  return (
    <main>
      <div class="bar">
        <h1>Tasks</h1>
        {may(me, 'tasks:write') && (
          <button type="button" onClick={() => setCreating(!creating)} aria-expanded={creating}>
            New task
          </button>
        )}
      </div>
      {creating && <NewTask onCreated={(id) => (location.hash = `#/tasks/${id}`)} />}
      <form class="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        {field('repo', 'Repository')}
        <label>
          Status
          <select name="status" value={filters.status} onChange={(e) => setFilters({ ...filters, status: e.currentTarget.value })}>
            <option value="">any</option>
            {STATUSES.map((s) => (
              <option value={s}>{s}</option>
            ))}
          </select>
        </label>
        {field('requester', 'Requester')}
        <label>
          Search
          <input name="search" type="search" value={search} onInput={(e) => setSearch(e.currentTarget.value)} />
        </label>
      </form>
      <Alert text={problem} />
      <table class="tasks" aria-label="Tasks" aria-busy={tasks === undefined}>
        <Columns names={['Task', 'Status', 'Phase', 'Repository', 'Requester', 'Age', 'Cost', 'Pull request']} />
        <tbody>
          {shown.map((t) => (
            <tr data-task={t.id}>
              <td class="what">
                <a href={`#/tasks/${encodeURIComponent(t.id)}`}>{t.kind === 'dependency_bump' ? 'Dependency bump' : (t.title ?? t.id)}</a>
                <span class="id">{t.id}</span>
              </td>
              <td class={`status short ${t.status}`}>{t.status.replace(/_/g, ' ')}</td>
              <td>
                {t.phase}
                {t.queue && ` (#${t.queue.position} in queue)`}
              </td>
              <td>{t.repo}</td>
              <td>
                {t.requester}
                {t.via && t.via !== 'api' && <span class="via"> via {VIA[t.via] ?? t.via}</span>}
              </td>
              <td class="short">
                <time dateTime={t.startedAt}>{age(t.startedAt)}</time>
              </td>
              <td class="number short">{t.costUsd !== undefined && `$${t.costUsd.toFixed(2)}`}</td>
              <td>
                {t.pr && (
                  <a href={t.pr.url} rel="noopener noreferrer" title={t.pr.title}>
                    #{t.pr.number}
                    {t.pr.draft && ' (draft)'}
                  </a>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {tasks && shown.length === 0 && <p class="empty">No tasks{search || Object.values(filters).some(Boolean) ? ' match' : ' yet'}.</p>}
    </main>
  );
}

/** Budgets the form offers, as the API names them. */
/** Where a task was asked for, when not through the API (the console's own tasks are the API's). */
const VIA: Record<string, string> = { github: 'GitHub', slack: 'Slack', linear: 'Linear' };

const BUDGETS = [
  ['maxSteps', 'Most steps'],
  ['maxTokens', 'Most tokens'],
  ['maxCostUsd', 'Most dollars'],
  ['maxWallClockMinutes', 'Most minutes'],
] as const;
const FIELDS = ['repo', 'baseBranch', 'prompt', 'playbook', 'requirePlanApproval', 'attempts', 'attemptBudgets', ...BUDGETS.map(([name]) => name)];

function NewTask({ onCreated }: { onCreated: (id: string) => void }) {
  const [form, setForm] = useState({ repo: '', baseBranch: '', prompt: '', playbook: '', requirePlanApproval: false, attempts: '', attemptBudgets: 'each', maxSteps: '', maxTokens: '', maxCostUsd: '', maxWallClockMinutes: '' });
  const [params, setParams] = useState<RawParams>({});
  const catalog = usePlaybooks(form.repo, form.baseBranch);
  useLayoutEffect(() => document.getElementById('new-repo')?.focus(), []);
  const playbook = catalog.playbooks?.find((p) => p.name === form.playbook);
  const set = (name: keyof typeof form) => (value: string | boolean) => setForm({ ...form, [name]: value });
  const several = Number(form.attempts) >= 2;
  const { submit, busy, problem, issueOf } = useSubmit(
    (field) => FIELDS.includes(field) || field.startsWith('params.'),
    async () => {
      const body = {
        repo: form.repo,
        ...(form.prompt && { prompt: form.prompt }),
        ...(form.baseBranch && { baseBranch: form.baseBranch }),
        ...(form.playbook && { playbook: form.playbook, params: paramsBody(playbook, params) }),
        ...Object.fromEntries(BUDGETS.filter(([name]) => form[name]).map(([name]) => [name, Number(form[name])])),
        ...(form.attempts && { attempts: Number(form.attempts) }),
        ...(several && { attemptBudgets: form.attemptBudgets }),
        ...(form.requirePlanApproval && { requirePlanApproval: true }),
      };
      onCreated((await call<TaskView>('POST', '/tasks', body)).id);
    },
  );
  // noValidate: the API is the one judge of input, its messages shown beside the fields.
  return (
    <form class="new-task" onSubmit={submit} aria-label="New task" noValidate>
      <TextField id="new-repo" label="Repository" value={form.repo} onValue={set('repo')} issue={issueOf('repo')} required placeholder="owner/name or a git URL" />
      <TextField id="new-baseBranch" label="Base branch" value={form.baseBranch} onValue={set('baseBranch')} issue={issueOf('baseBranch')} placeholder="the repository's default" />
      <PlaybookFields prefix="new" catalog={catalog} required={false} name={form.playbook} params={params} onName={set('playbook')} onParams={setParams} issueOf={issueOf} />
      {playbook?.runs !== 'dependency-bump' && (
        <TextArea id="new-prompt" label={playbook ? 'Anything to add (optional)' : 'What to do'} value={form.prompt} onValue={set('prompt')} issue={issueOf('prompt')} />
      )}
      <fieldset class="budget">
        <legend>Budget (empty: the server's default)</legend>
        {BUDGETS.map(([name, label]) => (
          <TextField id={`new-${name}`} label={label} value={form[name]} onValue={set(name)} issue={issueOf(name)} type="number" min={name === 'maxCostUsd' ? 0.01 : 1} step={name === 'maxCostUsd' ? 0.01 : 1} />
        ))}
      </fieldset>
      <fieldset class="budget">
        <legend>Tried several ways at once, the best kept</legend>
        <TextField id="new-attempts" label="Attempts" value={form.attempts} onValue={set('attempts')} issue={issueOf('attempts')} type="number" min={1} step={1} hint="empty: one" />
        {several && (
          <SelectField id="new-attemptBudgets" label="Their budget" value={form.attemptBudgets} onValue={set('attemptBudgets')} issue={issueOf('attemptBudgets')}>
            <option value="each">the whole of it for each</option>
            <option value="shared">split among them</option>
          </SelectField>
        )}
      </fieldset>
      <CheckField id="new-plan" label="Approve its plan before it changes anything" checked={form.requirePlanApproval} onValue={set('requirePlanApproval')} issue={issueOf('requirePlanApproval')} />
      <Alert text={problem} />
      <button type="submit" disabled={busy}>
        Start task
      </button>
    </form>
  );
}
