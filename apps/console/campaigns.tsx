// Campaigns: the list, the form that starts one (tasks:write) with the API's messages beside the
// fields they name, and a campaign's page: a row per repository with its task, where it stands,
// its pull request and why it failed; pause, resume and cancel (tasks:control).
import { useLayoutEffect, useState } from 'preact/hooks';
import { call, may, type CampaignView, type Whoami } from './api.js';
import { Alert, Columns, SelectField, TextArea, TextField, useSubmit } from './fields.js';
import { paramsBody, PlaybookFields, usePlaybooks, type RawParams } from './playbook-fields.js';
import { useAction, usePolled } from './polled.js';
import { age } from './time.js';

const STATUS_WORDS: Record<string, string> = { pull_request: 'PR open', no_pull_request: 'no PR', skipped: 'not started' };
const words = (status: string) => STATUS_WORDS[status] ?? status;

export function CampaignList({ me }: { me: Whoami }) {
  const [creating, setCreating] = useState(false);
  const { data, problem } = usePolled<{ campaigns: CampaignView[] }>('/campaigns');
  const campaigns = data?.campaigns;
  return (
    <main>
      <div class="bar">
        <h1>Campaigns</h1>
        {may(me, 'tasks:write') && (
          <button type="button" onClick={() => setCreating(!creating)} aria-expanded={creating}>
            New campaign
          </button>
        )}
      </div>
      <p class="hint">
        One change across many repositories, a task each: here, <code>errand campaign start --repos … --prompt …</code> or <code>POST /campaigns</code>.
      </p>
      {creating && <NewCampaign onCreated={(id) => (location.hash = `#/campaigns/${id}`)} />}
      <Alert text={problem} />
      <table class="tasks" aria-label="Campaigns" aria-busy={campaigns === undefined}>
        <Columns names={['Campaign', 'Status', 'Requester', 'Started']} />
        <tbody>
          {campaigns?.map((c) => (
            <tr data-campaign={c.id}>
              <td>
                <a href={`#/campaigns/${encodeURIComponent(c.id)}`}>{c.id}</a>
              </td>
              <td class={`status ${c.status}`}>{c.status}</td>
              <td>{c.requester}</td>
              <td>{c.startedAt && `${age(c.startedAt)} ago`}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {campaigns && campaigns.length === 0 && <p class="empty">No campaigns yet.</p>}
    </main>
  );
}

/** The form's own fields; `repos.<n>` (one line of the repositories) and `params.<name>` are its too. */
const FIELDS = ['repos', 'reposMatching', 'baseBranch', 'prompt', 'playbook', 'concurrency', 'stopAfterFailures'];

function NewCampaign({ onCreated }: { onCreated: (id: string) => void }) {
  const [form, setForm] = useState({ by: 'list', repos: '', reposMatching: '', baseBranch: '', prompt: '', playbook: '', concurrency: '', stopAfterFailures: '' });
  const [params, setParams] = useState<RawParams>({});
  const listed = form.by === 'list';
  const repos = form.repos.split('\n').map((line) => line.trim()).filter(Boolean);
  // The playbooks offered are the first repository's (the API checks the one chosen on each); a
  // pattern names no repository until the server lists them, so with one the prompt says what to do.
  const catalog = usePlaybooks(listed ? (repos[0] ?? '') : '', form.baseBranch);
  useLayoutEffect(() => document.getElementById('camp-repos')?.focus(), []);
  const playbook = listed ? catalog.playbooks?.find((p) => p.name === form.playbook) : undefined;
  const set = (name: keyof typeof form) => (value: string | boolean) => setForm({ ...form, [name]: value });
  const { submit, busy, problem, issueOf } = useSubmit(
    (field) => FIELDS.includes(field) || /^(repos|params)\./.test(field),
    async () => {
      const body = {
        // Only one of the two: the API says which is missing, or wrong.
        ...(listed ? { repos } : { reposMatching: form.reposMatching }),
        ...(form.baseBranch && { baseBranch: form.baseBranch }),
        ...(form.prompt && { prompt: form.prompt }),
        ...(listed && form.playbook && { playbook: form.playbook, params: paramsBody(playbook, params) }),
        ...(form.concurrency && { concurrency: Number(form.concurrency) }),
        ...(form.stopAfterFailures && { stopAfterFailures: Number(form.stopAfterFailures) }),
      };
      onCreated((await call<CampaignView>('POST', '/campaigns', body)).id);
    },
  );
  // Each repository's issue names it: all of them beside the one field that lists them.
  const reposIssue = [issueOf('repos'), ...repos.map((_, i) => issueOf(`repos.${i}`))].filter(Boolean).join('; ') || undefined;
  // noValidate: the API is the one judge of input, its messages shown beside the fields.
  return (
    <form class="new-task" onSubmit={submit} aria-label="New campaign" noValidate>
      <SelectField id="camp-by" label="Which repositories" value={form.by} onValue={set('by')}>
        <option value="list">these, one per line</option>
        <option value="pattern">those the forge lists under a pattern</option>
      </SelectField>
      {listed ? (
        <TextArea id="camp-repos" label="Repositories" value={form.repos} onValue={set('repos')} issue={reposIssue} hint="one per line: a git URL or an absolute path" />
      ) : (
        <TextField id="camp-reposMatching" label="Pattern" value={form.reposMatching} onValue={set('reposMatching')} issue={issueOf('reposMatching')} placeholder="acme/* or /srv/git/*.git" />
      )}
      <TextField id="camp-baseBranch" label="Base branch" value={form.baseBranch} onValue={set('baseBranch')} issue={issueOf('baseBranch')} placeholder="each repository's default" />
      {listed && <PlaybookFields prefix="camp" catalog={catalog} required={false} name={form.playbook} params={params} onName={set('playbook')} onParams={setParams} issueOf={issueOf} />}
      {playbook?.runs !== 'dependency-bump' && (
        <TextArea id="camp-prompt" label={playbook ? 'Anything to add (optional)' : 'What to do'} value={form.prompt} onValue={set('prompt')} issue={issueOf('prompt')} />
      )}
      <fieldset class="budget">
        <legend>Pace (empty: the server's default)</legend>
        <TextField id="camp-concurrency" label="Tasks at once" value={form.concurrency} onValue={set('concurrency')} issue={issueOf('concurrency')} type="number" min={1} step={1} />
        <TextField id="camp-stopAfterFailures" label="Stop after failures" value={form.stopAfterFailures} onValue={set('stopAfterFailures')} issue={issueOf('stopAfterFailures')} type="number" min={1} step={1} hint="empty: go on whatever fails" />
      </fieldset>
      <Alert text={problem} />
      <button type="submit" disabled={busy}>
        Start campaign
      </button>
    </form>
  );
}

export function CampaignPage({ id, me }: { id: string; me: Whoami }) {
  const { version, said, problem, act } = useAction();
  const { data: c, problem: loadProblem } = usePolled<CampaignView>(`/campaigns/${encodeURIComponent(id)}`, version);
  const command = (action: 'pause' | 'resume' | 'cancel') =>
    act(async () => {
      await call('POST', `/campaigns/${encodeURIComponent(id)}/${action}`, me.name ? { by: me.name } : {});
      return action === 'pause' ? 'Paused: no more tasks start until it is resumed.' : action === 'resume' ? 'Resumed.' : 'Cancelling it and its running tasks.';
    });
  const running = c?.status === 'running';
  return (
    <main class="campaign">
      <p>
        <a href="#/campaigns">← Campaigns</a>
      </p>
      <h1>Campaign {id}</h1>
      <Alert text={problem ?? loadProblem} />
      {c && (
        <>
          <dl class="facts">
            <dt>State</dt>
            <dd class={`status ${c.phase === 'paused' ? 'cancelled' : c.status}`}>
              {c.phase ?? c.status}
              {c.paused && ` by ${c.paused.by ?? 'someone'}`}
              {c.cancelledBy && ` by ${c.cancelledBy}`}
            </dd>
            {c.summary && (
              <>
                <dt>Outcome</dt>
                <dd>{c.summary}</dd>
              </>
            )}
            {c.stoppedBecause && (
              <>
                <dt>Stopped</dt>
                <dd>{c.stoppedBecause}</dd>
              </>
            )}
            <dt>At once</dt>
            <dd>
              {c.concurrency} task{c.concurrency === 1 ? '' : 's'}
              {c.stopAfterFailures !== undefined && `; stops starting tasks after ${c.stopAfterFailures} failed (${c.failures ?? 0} so far)`}
            </dd>
            {c.requester && (
              <>
                <dt>Requester</dt>
                <dd>{c.requester}</dd>
              </>
            )}
          </dl>
          <p class="links">
            <a href={c.links.temporalUi} rel="noopener noreferrer">
              Campaign in Temporal UI
            </a>
          </p>
          <table class="tasks" aria-label="Repositories">
            <Columns names={['Repository', 'Task', 'Status', 'Pull request', 'Tests', 'Why']} />
            <tbody>
              {c.rows?.map((r) => (
                <tr data-row={r.taskId}>
                  <td>{r.repo}</td>
                  <td>{r.status === 'queued' || r.status === 'skipped' ? r.taskId : <a href={`#/tasks/${encodeURIComponent(r.taskId)}`}>{r.taskId}</a>}</td>
                  <td class={`status ${r.status === 'pull_request' ? 'completed' : r.status === 'skipped' ? 'cancelled' : r.status}`}>{words(r.status)}</td>
                  <td>
                    {r.pr && (
                      <a href={r.pr.url} rel="noopener noreferrer">
                        #{r.pr.number}
                        {r.pr.draft ? ' (draft)' : ''}
                      </a>
                    )}
                    {r.prState && r.prState !== 'open' && <span class={`badge ${r.prState}`}> {r.prState}</span>}
                  </td>
                  <td>{r.testsPassed === undefined ? '' : r.testsPassed ? 'pass' : 'fail'}</td>
                  <td>{r.error ?? r.note}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {running && may(me, 'tasks:control') && (
            <section aria-label="Control" class="message">
              <h2>Control</h2>
              <div class="controls">
                <button type="button" onClick={() => command(c.phase === 'paused' ? 'resume' : 'pause')}>
                  {c.phase === 'paused' ? 'Resume' : 'Pause'}
                </button>
                <button type="button" class="danger" onClick={() => confirm(`Cancel campaign ${id} and its running tasks?`) && command('cancel')}>
                  Cancel
                </button>
              </div>
              {said && <p role="status">{said}</p>}
            </section>
          )}
        </>
      )}
    </main>
  );
}
