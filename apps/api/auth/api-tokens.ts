// API tokens with names and scopes, kept hashed in a file (ERRAND_API_TOKENS_FILE; in Kubernetes
// a Secret the chart mounts): the file never holds a token, only its SHA-256. Tokens are 32
// random bytes, so a plain hash is enough (no guessing to slow down, unlike a password).
// `errand token create` makes one and prints the file's entry. A token's name is who Errand
// records for what it does (requester, who paused, who cancelled).
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { z } from 'zod';

/** What a token may do; `admin` may do all of it. */
export const SCOPES = ['tasks:read', 'tasks:write', 'tasks:control', 'schedules:write', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

const TokenEntry = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$/, 'a name of letters, digits and . _ @ - (it is recorded as who acted)'),
  sha256: z.string().regex(/^[a-f0-9]{64}$/, 'the hex SHA-256 of the token (errand token create prints it)'),
  scopes: z.array(z.enum(SCOPES, { error: `scopes are ${SCOPES.join(', ')}` })).min(1),
});
const TokensFile = z.strictObject({ tokens: z.array(TokenEntry) });
export type ApiToken = z.infer<typeof TokenEntry>;

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** A new token: `errand_` and 32 random bytes, base64url. */
export function newToken(): string {
  return `errand_${randomBytes(32).toString('base64url')}`;
}

/** The tokens in `file`; throws with what to fix (the file, the entry, the field). */
export function loadApiTokens(file: string): ApiToken[] {
  let raw: unknown;
  try {
    raw = parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read ${file}: ${(err as Error).message}`);
  }
  const parsed = TokensFile.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`${file}: ${issue.path.join('.') || 'the file'}: ${issue.message} (expected tokens: [{name, sha256, scopes}])`);
  }
  const names = new Set<string>();
  for (const t of parsed.data.tokens) {
    if (names.has(t.name)) throw new Error(`${file}: two tokens are named ${t.name}; names say who acted, so each is one`);
    names.add(t.name);
  }
  return parsed.data.tokens;
}

/** Whether a token's scopes allow `needed`. */
export function allows(token: Pick<ApiToken, 'scopes'>, needed: Scope): boolean {
  return token.scopes.includes('admin') || token.scopes.includes(needed);
}
