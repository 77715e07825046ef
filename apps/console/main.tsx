// Errand's web console: sign in with an API token, see tasks live, start one, open one and
// control it. Served by the API (apps/api/console); built by esbuild. Everything shown came from
// a model, a repository or a person: it is only ever rendered as text (Preact escapes it), never
// as HTML (but the diff, which diff2html renders from escaped text: task-diff.tsx), and the page
// runs under a strict Content-Security-Policy besides.
import { render } from 'preact';
import { useEffect, useLayoutEffect, useState } from 'preact/hooks';
import { ApiError, call, session, type Whoami } from './api.js';
import { Alert } from './fields.js';
import { CampaignList, CampaignPage } from './campaigns.js';
import { ScheduleList, SchedulePage } from './schedules.js';
import { TaskList } from './task-list.js';
import { TaskPage } from './task-page.js';
import './console.css';

/** The page to show, from the location's hash: `#/tasks/<id>`, `#/schedules`, `#/schedules/<id>`, `#/campaigns`, `#/campaigns/<id>`, or the task list. */
function useRoute(): string {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const changed = () => setHash(location.hash);
    addEventListener('hashchange', changed);
    return () => removeEventListener('hashchange', changed);
  }, []);
  return hash;
}

function SignIn({ onSignedIn, error }: { onSignedIn: (me: Whoami) => void; error?: string }) {
  const [token, setToken] = useState('');
  const [problem, setProblem] = useState(error);
  useLayoutEffect(() => document.getElementById('token')?.focus(), []);
  const submit = async (e: Event) => {
    e.preventDefault();
    try {
      const me = await call<Whoami>('GET', '/whoami', undefined, token.trim());
      session.token = token.trim();
      onSignedIn(me);
    } catch (err) {
      setProblem(err instanceof ApiError && err.status === 401 ? 'That token is not known to this server.' : (err as Error).message);
    }
  };
  return (
    <main class="sign-in">
      <h1>Errand</h1>
      <form onSubmit={submit}>
        <label for="token">API token</label>
        <input id="token" name="token" type="password" autocomplete="off" required value={token} onInput={(e) => setToken(e.currentTarget.value)} />
        <button type="submit">Sign in</button>
        <Alert text={problem} />
      </form>
      <p class="hint">Kept for this browser tab only. An operator makes tokens with <code>errand token create</code>.</p>
    </main>
  );
}

function App() {
  const [me, setMe] = useState<Whoami | undefined>();
  const [problem, setProblem] = useState<string | undefined>();
  const route = useRoute();
  // Layout, not passive: focus moves as the page changes, before anyone can press a key.
  useLayoutEffect(() => {
    // After navigation, keyboard and screen-reader users start at the new page's heading.
    if (!me) return;
    const heading = document.querySelector<HTMLElement>('main h1');
    if (!heading) return;
    heading.tabIndex = -1;
    heading.focus();
  }, [route, me]);
  useEffect(() => {
    // A server without tokens answers anyone; with tokens, the session's token is tried.
    call<Whoami>('GET', '/whoami').then(setMe, (err: unknown) => {
      if (err instanceof ApiError && err.status === 401) {
        if (session.token) setProblem('Your token is no longer accepted; sign in again.');
        session.token = undefined;
      } else setProblem((err as Error).message);
    });
  }, []);
  if (!me) return <SignIn onSignedIn={setMe} error={problem} />;
  const signOut = () => {
    session.token = undefined;
    setMe(undefined);
  };
  const taskId = /^#\/tasks\/([a-z0-9-]{1,64})$/.exec(route)?.[1];
  const scheduleId = /^#\/schedules\/([a-z0-9-]{1,64})$/.exec(route)?.[1];
  const campaignId = /^#\/campaigns\/([a-z0-9-]{1,56})$/.exec(route)?.[1];
  const schedules = route.startsWith('#/schedules');
  const campaigns = route.startsWith('#/campaigns');
  const page = taskId ? (
    <TaskPage id={taskId} me={me} />
  ) : scheduleId ? (
    <SchedulePage id={scheduleId} me={me} />
  ) : schedules ? (
    <ScheduleList me={me} />
  ) : campaignId ? (
    <CampaignPage id={campaignId} me={me} />
  ) : campaigns ? (
    <CampaignList me={me} />
  ) : (
    <TaskList me={me} />
  );
  return (
    <>
      <header class="top">
        <a href="#/" class="brand">
          Errand
        </a>
        <nav aria-label="Sections">
          <a href="#/" aria-current={schedules || campaigns ? undefined : 'page'}>
            Tasks
          </a>
          <a href="#/campaigns" aria-current={campaigns ? 'page' : undefined}>
            Campaigns
          </a>
          <a href="#/schedules" aria-current={schedules ? 'page' : undefined}>
            Schedules
          </a>
        </nav>
        <span class="who">
          {me.name ?? 'open server'} · {me.scopes.join(', ')}
          {me.repos && ` · ${me.repos.join(', ')}`}
        </span>
        {me.tokens && (
          <button type="button" onClick={signOut}>
            Sign out
          </button>
        )}
      </header>
      {page}
    </>
  );
}

render(<App />, document.getElementById('app')!);
