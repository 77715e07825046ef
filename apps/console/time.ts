// Times as the console shows them: how long ago, or how soon, in the largest whole unit.

function span(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

/** How long ago `since` was ('' when unknown). */
export function age(since?: string): string {
  return since ? span(Date.now() - Date.parse(since)) : '';
}

/** When `at` is, from now: "in 5m", or "5m ago". */
export function fromNow(at: string): string {
  const ms = Date.parse(at) - Date.now();
  return ms >= 0 ? `in ${span(ms)}` : `${span(-ms)} ago`;
}
