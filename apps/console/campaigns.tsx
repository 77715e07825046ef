// Campaigns: the list, and a campaign's page: a row per repository with its task, where it
// stands, its pull request and why it failed; pause, resume and cancel (tasks:control). Started
// through the API or `errand campaign start`.
import { useState } from 'preact/hooks';
import { call, may, type CampaignView, type Whoami } from './api.js';
import { Alert, Columns } from './fields.js';
import { usePolled } from './polled.js';
import { age } from './time.js';

const STATUS_WORDS: Record<string, string> = { pull_request: 'PR open', no_pull_request: 'no PR', skipped: 'not started' };
const words = (status: string) => STATUS_WORDS[status] ?? status;

export function CampaignList() {
  const { data, problem } = usePolled<{ campaigns: CampaignView[] }>('/campaigns');
  const campaigns = data?.campaigns;
  return (
    <main>
      <div class="bar">
        <h1>Campaigns</h1>
      </div>
      <p class="hint">
        One change across many repositories, a task each: <code>errand campaign start --repos … --prompt …</code> or <code>POST /campaigns</code>.
      </p>
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

export function CampaignPage({ id, me }: { id: string; me: Whoami }) {
  const [version, setVersion] = useState(0);
  const { data: c, problem: loadProblem } = usePolled<CampaignView>(`/campaigns/${encodeURIComponent(id)}`, version);
  const [said, setSaid] = useState<string | undefined>();
  const [problem, setProblem] = useState<string | undefined>();
  const act = async (action: 'pause' | 'resume' | 'cancel') => {
    setSaid(undefined);
    setProblem(undefined);
    try {
      await call('POST', `/campaigns/${encodeURIComponent(id)}/${action}`, me.name ? { by: me.name } : {});
      setSaid(action === 'pause' ? 'Paused: no more tasks start until it is resumed.' : action === 'resume' ? 'Resumed.' : 'Cancelling it and its running tasks.');
      setVersion(version + 1);
    } catch (err) {
      setProblem((err as Error).message);
    }
  };
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
                <button type="button" onClick={() => act(c.phase === 'paused' ? 'resume' : 'pause')}>
                  {c.phase === 'paused' ? 'Resume' : 'Pause'}
                </button>
                <button type="button" class="danger" onClick={() => confirm(`Cancel campaign ${id} and its running tasks?`) && act('cancel')}>
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
