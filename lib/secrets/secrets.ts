// Secrets the operator gives Errand (a file, or files Kubernetes mounts from Secrets; never the
// repository), each scoped to where it may go: the setup script's environment (`setup`), one MCP
// server's environment or headers (`mcp:<server>`), for the repositories its `repos` patterns
// match. Nowhere else: never the agent's commands, never the API (names and scopes only).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import picomatch from 'picomatch';
import { z } from 'zod';

const NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const Scope = z.string().regex(/^(setup|mcp:[A-Za-z0-9_-]{1,64})$/, 'a scope is `setup` or `mcp:<server>`');

const SecretEntry = z
  .strictObject({
    /** The value itself (fine in a file only the worker reads), or where to read it from. */
    value: z.string().min(1).optional(),
    /** A file holding the value (a Kubernetes Secret mounted as a volume); trailing newline dropped. */
    file: z.string().min(1).optional(),
    /** A variable of the worker's own environment. */
    env: z.string().regex(NAME).optional(),
    scopes: z.array(Scope).min(1),
    /** Repository patterns (`acme/*`); absent: every repository. */
    repos: z.array(z.string().min(1)).optional(),
  })
  .refine((s) => [s.value, s.file, s.env].filter((v) => v !== undefined).length === 1, 'give exactly one of value, file or env');

export const SecretsFile = z.strictObject({
  secrets: z.record(z.string().regex(NAME, 'a secret name is a variable name: letters, digits and _'), SecretEntry),
});

export interface Secret {
  name: string;
  value: string;
  scopes: string[];
  repos?: string[];
}

/** What anyone may know of a secret: its name, where it goes and for which repositories. */
export type SecretListing = Omit<Secret, 'value'>;

/** The secrets `repo` may use in `scope` (`setup`, `mcp:<server>`), by name. */
export function secretsFor(all: readonly Secret[], repo: string, scope: string): Record<string, string> {
  return Object.fromEntries(all.filter((s) => s.scopes.includes(scope) && appliesTo(s, repo)).map((s) => [s.name, s.value]));
}

/** Names and scopes of the secrets `repo` may use; never a value. */
export function secretListing(all: readonly Secret[], repo: string): SecretListing[] {
  return all.filter((s) => appliesTo(s, repo)).map(({ name, scopes, repos }) => ({ name, scopes, ...(repos && { repos }) }));
}

const appliesTo = (s: Secret, repo: string) => !s.repos || picomatch.isMatch(repo, s.repos, { nocase: true });

/**
 * Reads the operator's secrets file; every problem names what to fix. Plain data (the API runs
 * in a thread of its own and gets the configuration as a copy).
 */
export function loadSecrets(file: string, env: NodeJS.ProcessEnv = process.env): Secret[] {
  const parsed = SecretsFile.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!parsed.success) throw new Error(z.prettifyError(parsed.error));
  const base = path.dirname(file);
  return Object.entries(parsed.data.secrets).map(([name, s]) => {
    const value = s.value ?? (s.file ? readFileSync(path.resolve(base, s.file), 'utf8').replace(/\r?\n$/, '') : env[s.env!]);
    if (!value) throw new Error(`secret ${name}: ${s.file ? `${s.file} is empty` : `the worker's environment has no ${s.env}`}`);
    return { name, value, scopes: s.scopes, ...(s.repos && { repos: s.repos }) };
  });
}

/** `${NAME}` in `text` replaced with the secret of that name; a name not in `secrets` is an error. */
export function withSecrets(text: string, secrets: Record<string, string>, where: string): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
    const value = secrets[name];
    if (value === undefined) throw new Error(`${where} names the secret ${name}, which is not scoped to it (or not defined)`);
    return value;
  });
}
