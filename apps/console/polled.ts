// What a page shows that changes on its own (a schedule's runs, a campaign's rows): loaded now,
// every few seconds, and again when the page says it changed something.
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
