// Quoting for the commands Errand builds for a sandbox's bash (`exec` runs `bash -c`).

/** `s` as one bash word, whatever it holds. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
