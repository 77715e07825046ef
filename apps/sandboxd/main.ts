// Entry point of sandboxd. Configured only through its environment (never argv, which other
// users of the host can read): SANDBOXD_TOKEN, SANDBOXD_ROOT, optional SANDBOXD_HOST,
// SANDBOXD_PORT, SANDBOXD_PORT_FILE (where it writes the port it bound, for the provider),
// SANDBOXD_ENV (JSON: variables every command gets besides the fixed base) and SANDBOXD_CONFINE
// (JSON: run every command inside bubblewrap, see bubblewrap.ts, with the egress proxy when it
// names one).
import { existsSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { z } from 'zod';
import { Confinement } from '../../activities/sandbox/sandboxd/bubblewrap.js';
import { startEgressProxy } from '../../activities/sandbox/sandboxd/egress-proxy.js';
import { startSandboxd } from '../../activities/sandbox/sandboxd/server.js';

const { SANDBOXD_TOKEN, SANDBOXD_ROOT, SANDBOXD_HOST, SANDBOXD_PORT, SANDBOXD_PORT_FILE, SANDBOXD_ENV, SANDBOXD_CONFINE } = process.env;
if (!SANDBOXD_TOKEN || !SANDBOXD_ROOT) {
  console.error('sandboxd: set SANDBOXD_TOKEN and SANDBOXD_ROOT');
  process.exit(2);
}

function parseJsonEnv<T extends z.ZodType>(name: string, value: string | undefined, schema: T): z.output<T> | undefined {
  if (!value) return undefined;
  try {
    return schema.parse(JSON.parse(value));
  } catch (err) {
    console.error(`sandboxd: ${name} is not valid: ${err instanceof z.ZodError ? z.prettifyError(err) : (err as Error).message}`);
    process.exit(2);
  }
}

// Commands start from a small, known environment: nothing of the worker's (tokens, keys) leaks
// in, only what the operator allowlisted (SANDBOXD_ENV).
const baseEnv: Record<string, string> = {
  ...parseJsonEnv('SANDBOXD_ENV', SANDBOXD_ENV, z.record(z.string(), z.string())),
  PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
  HOME: process.env.HOME ?? SANDBOXD_ROOT,
  LANG: 'C.UTF-8',
  TERM: 'dumb',
  CI: 'true',
  GIT_TERMINAL_PROMPT: '0',
};
delete process.env.SANDBOXD_TOKEN;

// Created by sandboxd itself where the image leaves it to us (a pod's emptyDir is owned by root;
// a repository root owned by someone else is one git refuses to work in).
await mkdir(SANDBOXD_ROOT, { recursive: true });
const confine = parseJsonEnv('SANDBOXD_CONFINE', SANDBOXD_CONFINE, Confinement);
// A path that does not exist has nothing to hide, and bubblewrap cannot mount over it.
if (confine) confine.hide = confine.hide.filter((p) => existsSync(p));

const egress = confine?.egress ? await startEgressProxy(confine.egress, (fields) => console.log(JSON.stringify(fields))) : undefined;
const sandboxd = await startSandboxd({
  root: SANDBOXD_ROOT,
  token: SANDBOXD_TOKEN,
  host: SANDBOXD_HOST ?? '127.0.0.1',
  port: SANDBOXD_PORT ? Number(SANDBOXD_PORT) : 0,
  baseEnv,
  confine,
});
if (SANDBOXD_PORT_FILE) {
  await writeFile(`${SANDBOXD_PORT_FILE}.tmp`, String(sandboxd.port));
  await rename(`${SANDBOXD_PORT_FILE}.tmp`, SANDBOXD_PORT_FILE);
}
console.log(JSON.stringify({ msg: 'sandboxd listening', port: sandboxd.port, root: SANDBOXD_ROOT, confined: Boolean(SANDBOXD_CONFINE) }));
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.once(sig, () => void Promise.all([sandboxd.close(), egress?.close()]).then(() => process.exit(0)));
}
// A sandbox whose directory was removed (by an operator, a cleanup, a test) is gone: stop,
// with the commands, rather than linger on a port nobody will call again.
setInterval(() => {
  if (existsSync(SANDBOXD_ROOT)) return;
  console.log(JSON.stringify({ msg: 'sandboxd root is gone; exiting', root: SANDBOXD_ROOT }));
  void sandboxd.close().then(() => process.exit(0));
}, 2_000).unref();
