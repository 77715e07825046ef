// A tokens file (ERRAND_API_TOKENS_FILE) for a test's Errand, as an operator writes one: each
// token made here, written hashed under its name, and handed back in plain for the test to send.
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { hashToken, newToken, type Scope } from '../../apps/api/auth/api-tokens.js';

export interface TokenEntry {
  name: string;
  scopes: Scope[];
  /** The repository allowlist (globs). */
  repos?: string[];
}

export function writeTokensFile<K extends string>(entries: Record<K, TokenEntry>): { file: string; tokens: Record<K, string> } {
  const tokens = Object.fromEntries(Object.keys(entries).map((key) => [key, newToken()])) as Record<K, string>;
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'errand-tokens-')), 'tokens.yaml');
  writeFileSync(file, stringify({ tokens: (Object.entries(entries) as [K, TokenEntry][]).map(([key, entry]) => ({ ...entry, sha256: hashToken(tokens[key]) })) }));
  return { file, tokens };
}
