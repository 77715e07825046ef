// API tokens with names and scopes, kept hashed in a file (ERRAND_API_TOKENS_FILE; in Kubernetes
// a Secret the chart mounts): the file never holds a token, only its SHA-256. Tokens are 32
// random bytes, so a plain hash is enough (no guessing to slow down, unlike a password).
// `errand token create` makes one and prints the file's entry. A token's name is who Errand
// records for what it does (requester, who paused, who cancelled). A token may be limited to
// repositories by globs (`repos`); api-token.guard.ts enforces it, on each repository as the forge
// names it: owner/name on GitHub; with the local forge, a repository on this host by the real
// path of the git directory git reaches (links, a `.git` gitfile followed), so `/srv/git/*.git`
// for bare repositories and `/home/dev/src/*/.git` for working copies.
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import picomatch from 'picomatch';
import { parse } from 'yaml';
import { z } from 'zod';

/** What a token may do; `admin` may do all of it. */
export const SCOPES = ['tasks:read', 'tasks:write', 'tasks:control', 'schedules:write', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

const TokenEntry = z
  .strictObject({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$/, 'a name of letters, digits and . _ @ - (it is recorded as who acted)'),
    sha256: z.string().regex(/^[a-f0-9]{64}$/, 'the hex SHA-256 of the token (errand token create prints it)'),
    scopes: z.array(z.enum(SCOPES, { error: `scopes are ${SCOPES.join(', ')}` })).min(1),
    /** Globs of the repositories it may act on, as the forge names them (acme/*; /srv/git/*.git, real paths); none: all. */
    repos: z.array(z.string().trim().min(1).max(500)).min(1, 'at least one glob, or leave repos out for every repository').optional(),
  })
  .refine((t) => !(t.repos && t.scopes.includes('admin')), { path: ['repos'], message: 'admin may do anything anywhere (the audit log, metrics of every repository); give a limited token the scopes it needs instead' });
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

/**
 * Whether a token may act on `repo` (as the forge resolved it). Matched as written, case and
 * all; a name with `.` or `..` segments is refused rather than resolved, so `allowed/../other`
 * never passes for `allowed/*`.
 */
export function repoAllowed(token: Pick<ApiToken, 'repos'>, repo: string): boolean {
  if (!token.repos) return true;
  if (repo.split('/').some((segment) => segment === '.' || segment === '..') || repo.includes('\0')) return false;
  return picomatch.isMatch(repo, token.repos);
}

/** Whether a token's scopes allow `needed` (`any`: every known token does). */
export function allows(token: Pick<ApiToken, 'scopes'>, needed: Scope | 'any'): boolean {
  return needed === 'any' || token.scopes.includes('admin') || token.scopes.includes(needed);
}
