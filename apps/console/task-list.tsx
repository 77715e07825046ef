// The task list: live (polled), filtered by repository, status and requester, searchable; and
// the form that starts a task, for callers who may (tasks:write), with the API's own validation
// messages next to the fields they name.
import { useEffect, useState } from 'preact/hooks';
import { ApiError, call, may, type Issue, type TaskSummary, type TaskView, type Whoami } from './api.js';

const STATUSES = ['running', 'completed', 'failed', 'cancelled', 'terminated', 'timed_out'];
const REFRESH_MS = 3_000;

export function age(since?: string): string {
  if (!since) return '';
  const s = Math.max(0, Math.round((Date.now() - Date.parse(since)) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

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

  const shown = (tasks ?? []).filter((t) => !search || [t.id, t.repo, t.requester, t.phase].some((v) => v?.toLowerCase().includes(search.toLowerCase())));
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
      {problem && (
        <p role="alert" class="error">
          {problem}
        </p>
      )}
      <table class="tasks" aria-label="Tasks" aria-busy={tasks === undefined}>
        <thead>
          <tr>
            <th scope="col">Task</th>
            <th scope="col">Status</th>
            <th scope="col">Phase</th>
            <th scope="col">Repository</th>
            <th scope="col">Requester</th>
            <th scope="col">Age</th>
          </tr>
        </thead>
        <tbody>
          {shown.map((t) => (
            <tr data-task={t.id}>
              <td>
                <a href={`#/tasks/${encodeURIComponent(t.id)}`}>{t.id}</a>
              </td>
              <td class={`status ${t.status}`}>{t.status}</td>
              <td>
                {t.phase}
                {t.queue && ` (#${t.queue.position} in queue)`}
              </td>
              <td>{t.repo}</td>
              <td>{t.requester}</td>
              <td>
                <time dateTime={t.startedAt}>{age(t.startedAt)}</time>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {tasks && shown.length === 0 && <p class="empty">No tasks{search || Object.values(filters).some(Boolean) ? ' match' : ' yet'}.</p>}
    </main>
  );
}

const FIELDS = ['repo', 'baseBranch', 'prompt', 'maxSteps', 'requirePlanApproval'] as const;

function NewTask({ onCreated }: { onCreated: (id: string) => void }) {
  const [form, setForm] = useState({ repo: '', baseBranch: '', prompt: '', maxSteps: '', requirePlanApproval: false });
  const [issues, setIssues] = useState<Issue[]>([]);
  const [problem, setProblem] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setIssues([]);
    setProblem(undefined);
    try {
      const body = {
        repo: form.repo,
        prompt: form.prompt,
        ...(form.baseBranch && { baseBranch: form.baseBranch }),
        ...(form.maxSteps && { maxSteps: Number(form.maxSteps) }),
        ...(form.requirePlanApproval && { requirePlanApproval: true }),
      };
      onCreated((await call<TaskView>('POST', '/tasks', body)).id);
    } catch (err) {
      // Issues the form has a field for are shown beside it; the rest above the button.
      const all = err instanceof ApiError ? err.issues : [];
      setIssues(all);
      const elsewhere = all.filter((i) => !(FIELDS as readonly string[]).includes(i.field));
      setProblem(all.length && !elsewhere.length ? undefined : elsewhere.length ? elsewhere.map((i) => `${i.field}: ${i.message}`).join('; ') : (err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  const issueOf = (name: string) => issues.find((i) => i.field === name)?.message;
  const text = (name: 'repo' | 'baseBranch' | 'maxSteps', label: string, attrs: Record<string, unknown> = {}) => (
    <div class="field">
      <label for={`new-${name}`}>{label}</label>
      <input id={`new-${name}`} name={name} value={form[name]} onInput={(e) => setForm({ ...form, [name]: e.currentTarget.value })} aria-invalid={Boolean(issueOf(name))} aria-describedby={`new-${name}-issue`} {...attrs} />
      <span id={`new-${name}-issue`} class="issue">
        {issueOf(name)}
      </span>
    </div>
  );
  return (
    <form class="new-task" onSubmit={submit} aria-label="New task">
      {text('repo', 'Repository', { required: true, placeholder: 'owner/name or a git URL' })}
      {text('baseBranch', 'Base branch', { placeholder: "the repository's default" })}
      <div class="field">
        <label for="new-prompt">What to do</label>
        <textarea id="new-prompt" name="prompt" rows={4} value={form.prompt} onInput={(e) => setForm({ ...form, prompt: e.currentTarget.value })} aria-invalid={Boolean(issueOf('prompt'))} aria-describedby="new-prompt-issue" />
        <span id="new-prompt-issue" class="issue">
          {issueOf('prompt')}
        </span>
      </div>
      {text('maxSteps', 'Most steps', { type: 'number', min: 1 })}
      <div class="field checkbox">
        <input id="new-plan" type="checkbox" name="requirePlanApproval" checked={form.requirePlanApproval} onChange={(e) => setForm({ ...form, requirePlanApproval: e.currentTarget.checked })} />
        <label for="new-plan">Approve its plan before it changes anything</label>
      </div>
      {problem && (
        <p role="alert" class="error">
          {problem}
        </p>
      )}
      <button type="submit" disabled={busy}>
        Start task
      </button>
    </form>
  );
}
