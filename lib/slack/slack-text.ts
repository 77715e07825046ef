// What a person typed in Slack, from Slack's markup: mentions, channels and links as they read,
// Slack's three escapes undone, and the repository a request names first. Pure.

/**
 * Slack's markup as the plain text a person typed: the app's own mention gone, other mentions
 * and channels as @id and #name, links as their text and URL, its three escapes undone.
 */
export function plainText(text: string, botUserId?: string): string {
  return unescapeMrkdwn(
    text
      .replace(new RegExp(`<@${botUserId ?? '\\0'}(\\|[^>]*)?>`, 'g'), '')
      .replace(/<@([A-Z0-9]+)(?:\|([^>]*))?>/g, (_m, id: string, name?: string) => `@${name ?? id}`)
      .replace(/<#([A-Z0-9]+)(?:\|([^>]*))?>/g, (_m, id: string, name?: string) => `#${name || id}`)
      .replace(/<!([a-z]+)(?:\|[^>]*)?>/g, '@$1')
      .replace(/<([^>|]+)\|([^>]+)>/g, '$2 ($1)')
      .replace(/<([^>]+)>/g, '$1'),
  ).trim();
}

export function unescapeMrkdwn(text: string): string {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/** The first word when it names a repository (owner/name, a git URL, an absolute path), and the rest. */
export function splitRepository(text: string): { repo?: string; rest: string } {
  const match = /^\s*(\S+)\s*([\s\S]*)$/.exec(text);
  const [first, rest] = [match?.[1] ?? '', match?.[2] ?? ''];
  // A link pasted in Slack arrives as `url (url)` from plainText: the URL alone is the repository.
  const word = first.replace(/[.,:;]$/, '');
  const looksLikeRepo = /^[A-Za-z0-9][A-Za-z0-9-]*\/[A-Za-z0-9._-]+$/.test(word) || /^(https?|ssh|git|file):\/\/\S+$/.test(word) || /^\//.test(word);
  return looksLikeRepo ? { repo: word, rest: rest.replace(/^\(\S+\)\s*/, '') } : { rest: text };
}

