// The environment a task's repository keeps after setup (GET /repos/{repo}/environment): each
// snapshot's age, size, last use and what it was made from, with hits and misses; and a button
// that removes them (DELETE), so the next task runs its setup and keeps a new one. Nothing is
// shown when the cache is off, or the caller may not see it (403) or the API has no such route.
import { useEffect, useState } from 'preact/hooks';
import { ApiError, call, type RepoEnvironment as Environment } from './api.js';
import { fromNow } from './time.js';

/** A size as people read it. */
export const size = (bytes: number) => (bytes < 2 ** 20 ? `${Math.ceil(bytes / 1024)} KB` : `${(bytes / 2 ** 20).toFixed(1)} MB`);

export function RepoEnvironment({ repo }: { repo: string }) {
  const [environment, setEnvironment] = useState<Environment | undefined>();
  const [note, setNote] = useState<string | undefined>();
  const [loads, setLoads] = useState(0);
  const route = `/repos/${encodeURIComponent(repo)}/environment`;
  useEffect(() => {
    let stopped = false;
    call<Environment>('GET', route).then(
      (e) => !stopped && setEnvironment(e),
      (err: unknown) => !stopped && !(err instanceof ApiError && (err.status === 403 || err.status === 404)) && setNote((err as Error).message),
    );
    return () => {
      stopped = true;
    };
  }, [route, loads]);
  if (!environment?.enabled && !note) return null;
  const remove = async () => {
    if (!confirm(`Remove the environments kept for ${repo}? The next task runs its setup again.`)) return;
    try {
      const { removed } = await call<{ removed: number }>('DELETE', route);
      setNote(`Removed ${removed}. The next task runs its setup and keeps a new one.`);
      setLoads((n) => n + 1);
    } catch (err) {
      setNote((err as Error).message);
    }
  };
  return (
    <section aria-label="Environment" class="environment">
      <h2>Environment</h2>
      {environment && (
        <>
          <p class="hint">
            Kept after setup, so tasks start without running it: {environment.hits} hit{environment.hits === 1 ? '' : 's'}, {environment.misses} miss{environment.misses === 1 ? '' : 'es'}.
          </p>
          {environment.snapshots.length === 0 ? (
            <p class="empty">None kept yet: the next task runs its setup and keeps one.</p>
          ) : (
            <ul>
              {environment.snapshots.map((s) => (
                <li data-key={s.key}>
                  <code>{s.key.slice(0, 12)}</code> {size(s.bytes)}, made {fromNow(s.createdAt)} on {s.baseBranch} at <code>{s.baseSha.slice(0, 8)}</code>, last used {fromNow(s.lastUsedAt)}; from{' '}
                  {s.inputs.files.map((f) => f.path).join(', ') || 'the setup command alone'}
                </li>
              ))}
            </ul>
          )}
          {environment.snapshots.length > 0 && (
            <button type="button" class="danger" onClick={() => void remove()}>
              Remove kept environment
            </button>
          )}
        </>
      )}
      {note && <p class="note">{note}</p>}
    </section>
  );
}
