// One header of a request as a string (Node gives repeated ones as an array): what the webhook
// receivers (GitHub, Slack, Linear) read their signatures and ids from.
export function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}
