// The secrets a task's repository gets (GET /repos/{repo}/secrets): names and where each goes (the
// setup script, one MCP server), never a value. Nothing is shown when there are none, or when the
// caller may not see them (403) or the API has no such route (404).
import { useEffect, useState } from 'preact/hooks';
import { ApiError, call, type RepoSecrets as Listing } from './api.js';

/** `setup` → "setup", `mcp:docs` → "MCP server docs". */
const scopeName = (scope: string) => (scope.startsWith('mcp:') ? `MCP server ${scope.slice(4)}` : scope);

export function RepoSecrets({ repo }: { repo: string }) {
  const [listing, setListing] = useState<Listing | undefined>();
  const [problem, setProblem] = useState<string | undefined>();
  useEffect(() => {
    let stopped = false;
    setListing(undefined);
    setProblem(undefined);
    call<Listing>('GET', `/repos/${encodeURIComponent(repo)}/secrets`).then(
      (l) => !stopped && setListing(l),
      (err: unknown) => !stopped && !(err instanceof ApiError && (err.status === 403 || err.status === 404)) && setProblem((err as Error).message),
    );
    return () => {
      stopped = true;
    };
  }, [repo]);
  if (!problem && !listing?.secrets.length) return null;
  return (
    <section aria-label="Secrets" class="secrets">
      <h2>Secrets</h2>
      {problem ? (
        <p class="empty">Could not list them: {problem}</p>
      ) : (
        <>
          <p class="hint">What this repository's tasks are given, by name: the values stay with Errand, out of the agent's reach.</p>
          <ul>
            {listing!.secrets.map((s) => (
              <li data-secret={s.name}>
                <code>{s.name}</code> — {s.scopes.map(scopeName).join(', ')}
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}
