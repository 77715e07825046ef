// Schedules: the list (what runs when, its next and last run, paused or not and why), the form
// that schedules a playbook (schedules:write), and a schedule's page: its next runs, its recent
// runs with their tasks and pull requests, and pause or unpause with a note, run now, delete.
import { useLayoutEffect, useState } from 'preact/hooks';
import { call, may, type ScheduleView, type Whoami } from './api.js';
import { Alert, CheckField, Columns, SelectField, TextArea, TextField, useSubmit } from './fields.js';
import { paramsBody, PlaybookFields, usePlaybooks, type RawParams } from './playbook-fields.js';
import { useAction, usePolled } from './polled.js';
import { age, fromNow } from './time.js';

const OVERLAP = [
  ['skip', 'skip a run while the last one still runs'],
  ['buffer_one', 'run it after the last one ends (one at most waits)'],
  ['allow_all', 'run them side by side'],
] as const;

const when = (s: ScheduleView) => [s.cron ? `cron ${s.cron}` : s.interval && `every ${s.interval}`, s.timezone && s.timezone !== 'UTC' && `(${s.timezone})`].filter(Boolean).join(' ');

const paramsText = (params: Record<string, unknown>) =>
  Object.entries(params)
    .map(([name, value]) => `${name}=${Array.isArray(value) ? value.join(',') : String(value)}`)
    .join(', ');

function At({ iso }: { iso?: string }) {
  if (!iso) return null;
  return (
    <time dateTime={iso} title={new Date(iso).toLocaleString()}>
      {fromNow(iso)}
    </time>
  );
}

export function ScheduleList({ me }: { me: Whoami }) {
  const [creating, setCreating] = useState(false);
  const { data, problem } = usePolled<{ schedules: ScheduleView[] }>('/schedules');
  const schedules = data?.schedules;
  return (
    <main>
      <div class="bar">
        <h1>Schedules</h1>
        {may(me, 'schedules:write') && (
          <button type="button" onClick={() => setCreating(!creating)} aria-expanded={creating}>
            New schedule
          </button>
        )}
      </div>
      {creating && <NewSchedule onCreated={(id) => (location.hash = `#/schedules/${id}`)} />}
      <Alert text={problem} />
      <table class="tasks" aria-label="Schedules" aria-busy={schedules === undefined}>
        <Columns names={['Schedule', 'Runs', 'Repository', 'When', 'Next run', 'Last run', 'State']} />
        <tbody>
          {schedules?.map((s) => {
            const last = s.recentRuns[0];
            return (
              <tr data-schedule={s.id}>
                <td>
                  <a href={`#/schedules/${encodeURIComponent(s.id)}`}>{s.id}</a>
                </td>
                <td>{s.system ? s.description?.split(':')[0] : s.playbook}</td>
                <td>{s.repo}</td>
                <td>{when(s)}</td>
                <td>{s.paused ? '' : <At iso={s.nextRuns[0]} />}</td>
                <td>{last && <span class={`status ${last.status}`}>{last.status}</span>} <At iso={last?.startedAt} /></td>
                <td>{s.paused ? `paused${s.note ? `: ${s.note}` : ''}` : 'active'}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {schedules && schedules.length === 0 && <p class="empty">No schedules yet.</p>}
    </main>
  );
}

const FIELDS = ['id', 'repo', 'baseBranch', 'playbook', 'cron', 'interval', 'timezone', 'overlap', 'note'];

function NewSchedule({ onCreated }: { onCreated: (id: string) => void }) {
  const [form, setForm] = useState({ id: '', repo: '', baseBranch: '', playbook: '', cron: '', interval: '', timezone: '', overlap: '', note: '', paused: false });
  const [params, setParams] = useState<RawParams>({});
  const catalog = usePlaybooks(form.repo, form.baseBranch);
  useLayoutEffect(() => document.getElementById('sched-id')?.focus(), []);
  const set = (name: keyof typeof form) => (value: string | boolean) => setForm({ ...form, [name]: value });
  const { submit, busy, problem, issueOf } = useSubmit(
    (field) => FIELDS.includes(field) || field.startsWith('params.'),
    async () => {
      // Only what was given: the API's defaults and its messages hold for the rest.
      const given = Object.fromEntries(Object.entries(form).filter(([, v]) => v !== '' && v !== false));
      const body = { ...given, params: paramsBody(catalog.playbooks?.find((p) => p.name === form.playbook), params) };
      onCreated((await call<ScheduleView>('POST', '/schedules', body)).id);
    },
  );
  return (
    <form class="new-task" onSubmit={submit} aria-label="New schedule" noValidate>
      <TextField id="sched-id" label="Name" value={form.id} onValue={set('id')} issue={issueOf('id')} placeholder="weekly-deps" hint="lower-case letters, digits and dashes; empty: one is made up" />
      <TextField id="sched-repo" label="Repository" value={form.repo} onValue={set('repo')} issue={issueOf('repo')} required placeholder="owner/name or a git URL" />
      <TextField id="sched-baseBranch" label="Base branch" value={form.baseBranch} onValue={set('baseBranch')} issue={issueOf('baseBranch')} placeholder="the repository's default" />
      <PlaybookFields prefix="sched" catalog={catalog} required name={form.playbook} params={params} onName={set('playbook')} onParams={setParams} issueOf={issueOf} />
      <fieldset class="budget">
        <legend>When (a cron or an interval)</legend>
        <TextField id="sched-cron" label="Cron" value={form.cron} onValue={set('cron')} issue={issueOf('cron')} placeholder="0 6 * * MON" />
        <TextField id="sched-interval" label="Interval" value={form.interval} onValue={set('interval')} issue={issueOf('interval')} placeholder="1 day" />
        <TextField id="sched-timezone" label="Time zone" value={form.timezone} onValue={set('timezone')} issue={issueOf('timezone')} placeholder="UTC" />
        <SelectField id="sched-overlap" label="While a run still runs" value={form.overlap} onValue={set('overlap')} issue={issueOf('overlap')}>
          <option value="">(default: skip)</option>
          {OVERLAP.map(([value, label]) => (
            <option value={value}>{label}</option>
          ))}
        </SelectField>
      </fieldset>
      <CheckField id="sched-paused" label="Create it paused" checked={form.paused} onValue={set('paused')} issue={issueOf('paused')} />
      <TextField id="sched-note" label="Note" value={form.note} onValue={set('note')} issue={issueOf('note')} hint="why it exists, for whoever finds it later" />
      <Alert text={problem} />
      <button type="submit" disabled={busy}>
        Create schedule
      </button>
    </form>
  );
}

export function SchedulePage({ id, me }: { id: string; me: Whoami }) {
  const { version, said, problem, act } = useAction();
  const { data: s, problem: loadProblem } = usePolled<ScheduleView>(`/schedules/${encodeURIComponent(id)}`, version);
  const [note, setNote] = useState('');
  const command = (action: 'pause' | 'unpause' | 'trigger' | 'delete') =>
    act(async () => {
      if (action === 'delete') {
        await call('DELETE', `/schedules/${encodeURIComponent(id)}`);
        location.hash = '#/schedules';
        return undefined;
      }
      await call('POST', `/schedules/${encodeURIComponent(id)}/${action}`, action === 'trigger' ? {} : { ...(note.trim() && { note: note.trim() }), ...(me.name && { by: me.name }) });
      setNote('');
      return action === 'trigger' ? 'Started a run; it shows below in a moment.' : `Schedule ${action}d.`;
    });
  const control = may(me, 'schedules:write');
  return (
    <main class="schedule">
      <p>
        <a href="#/schedules">← Schedules</a>
      </p>
      <h1>Schedule {id}</h1>
      <Alert text={problem ?? loadProblem} />
      {s && (
        <>
          <dl class="facts">
            <dt>State</dt>
            <dd class={s.paused ? 'status cancelled' : 'status running'}>{s.paused ? 'paused' : 'active'}</dd>
            {s.description && (
              <>
                <dt>Why</dt>
                <dd class="prose">{s.description}</dd>
              </>
            )}
            {s.note && s.note !== s.description && (
              <>
                <dt>Note</dt>
                <dd class="prose">{s.note}</dd>
              </>
            )}
            <dt>Runs</dt>
            <dd>{s.system ? s.description?.split(':')[0] : `${s.playbook}${s.params && Object.keys(s.params).length ? ` (${paramsText(s.params)})` : ''}`}</dd>
            {s.repo && (
              <>
                <dt>Repository</dt>
                <dd>
                  {s.repo} {s.baseBranch && `@ ${s.baseBranch}`}
                </dd>
              </>
            )}
            <dt>When</dt>
            <dd>
              {when(s)}
              {s.jitter && !/^0\b/.test(s.jitter) && `, up to ${s.jitter} late`}
              {s.overlap && `; while a run still runs: ${s.overlap}`}
            </dd>
            {s.maxFailures !== undefined && (
              <>
                <dt>Failures</dt>
                <dd>
                  {s.failuresInARow ?? 0} in a row; it pauses itself at {s.maxFailures}
                </dd>
              </>
            )}
          </dl>
          <p class="links">
            <a href={s.links.temporalUi} rel="noopener noreferrer">
              Schedule in Temporal UI
            </a>
          </p>
          <section aria-label="Next runs">
            <h2>Next runs</h2>
            {s.paused ? (
              <p class="empty">None while it is paused.</p>
            ) : (
              <ol>
                {s.nextRuns.map((at) => (
                  <li>
                    <time dateTime={at}>{new Date(at).toLocaleString()}</time> ({fromNow(at)})
                  </li>
                ))}
              </ol>
            )}
          </section>
          <section aria-label="Recent runs">
            <h2>Recent runs</h2>
            {s.recentRuns.length === 0 ? (
              <p class="empty">It has not run yet.</p>
            ) : (
              <table class="tasks">
                <Columns names={['Started', 'Status', 'Task', 'Outcome']} />
                <tbody>
                  {s.recentRuns.map((run) => (
                    <tr data-run={run.workflowId}>
                      <td>
                        <time dateTime={run.startedAt} title={new Date(run.startedAt).toLocaleString()}>
                          {age(run.startedAt)} ago
                        </time>
                      </td>
                      <td class={`status ${run.status}`}>{run.status}</td>
                      <td>{run.result?.taskId && <a href={`#/tasks/${encodeURIComponent(run.result.taskId)}`}>{run.result.taskId}</a>}</td>
                      <td>
                        {run.result?.pr && (
                          <a href={run.result.pr.url} rel="noopener noreferrer">
                            Pull request #{run.result.pr.number}
                          </a>
                        )}
                        {run.result?.groups?.map((g) => (
                          <>
                            {' '}
                            {g.pr ? (
                              <a href={g.pr.url} rel="noopener noreferrer">
                                {g.name}: #{g.pr.number}
                              </a>
                            ) : (
                              <a href={`#/tasks/${encodeURIComponent(g.taskId)}`}>{g.name}</a>
                            )}
                          </>
                        ))}{' '}
                        {run.error ?? (run.result?.groups?.length ? undefined : run.result?.summary)}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </section>
          {control && (
            <section aria-label="Control" class="message">
              <h2>Control</h2>
              <TextArea id="sched-action-note" label={s.paused ? 'Why unpause it (optional)' : 'Why pause it (optional)'} value={note} onValue={setNote} rows={2} />
              <div class="controls">
                <button type="button" onClick={() => command(s.paused ? 'unpause' : 'pause')}>
                  {s.paused ? 'Unpause' : 'Pause'}
                </button>
                <button type="button" onClick={() => command('trigger')}>
                  Run now
                </button>
                {!s.system && (
                  <button type="button" class="danger" onClick={() => confirm(`Delete schedule ${id}? Its runs so far stay.`) && command('delete')}>
                    Delete
                  </button>
                )}
              </div>
              {said && <p role="status">{said}</p>}
            </section>
          )}
        </>
      )}
    </main>
  );
}
