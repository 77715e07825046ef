// What a page shows that changes on its own (a schedule's runs, a campaign's rows): loaded now,
// every few seconds, and again when the page says it changed something: its buttons' actions,
// which say what happened or what went wrong, and ask for that reload.
import { useEffect, useState } from 'preact/hooks';
import { call } from './api.js';

const REFRESH_MS = 5_000;

/** Loads `path` now and every few seconds, and again when `version` changes. */
export function usePolled<T>(path: string, version = 0): { data?: T; problem?: string } {
  const [state, setState] = useState<{ data?: T; problem?: string }>({});
  useEffect(() => {
    let stopped = false;
    const load = () =>
      call<T>('GET', path).then(
        (data) => !stopped && setState({ data }),
        (err: Error) => !stopped && setState((s) => ({ ...s, problem: err.message })),
      );
    void load();
    const timer = setInterval(load, REFRESH_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [path, version]);
  return state;
}

/**
 * A page's actions (pause, cancel, run now): `act(run)` clears what the last one said, runs it,
 * and shows what it says happened (`said`) and bumps `version` (for usePolled) so the page
 * reloads; or shows why it failed (`problem`). `run` resolving to undefined has nothing to say
 * and nothing to reload (it went elsewhere).
 */
export function useAction() {
  const [version, setVersion] = useState(0);
  const [said, setSaid] = useState<string | undefined>();
  const [problem, setProblem] = useState<string | undefined>();
  const act = async (run: () => Promise<string | undefined>) => {
    setSaid(undefined);
    setProblem(undefined);
    try {
      const happened = await run();
      if (happened === undefined) return;
      setSaid(happened);
      setVersion((v) => v + 1);
    } catch (err) {
      setProblem((err as Error).message);
    }
  };
  return { version, said, problem, act };
}
