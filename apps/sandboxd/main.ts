// Entry point of sandboxd. Configured only through its environment (never argv, which other
// users of the host can read): SANDBOXD_TOKEN, SANDBOXD_ROOT, optional SANDBOXD_HOST,
// SANDBOXD_PORT and SANDBOXD_PORT_FILE (where it writes the port it bound, for the provider).
import { writeFile, rename } from 'node:fs/promises';
import { startSandboxd } from './server.js';

const { SANDBOXD_TOKEN, SANDBOXD_ROOT, SANDBOXD_HOST, SANDBOXD_PORT, SANDBOXD_PORT_FILE } = process.env;
if (!SANDBOXD_TOKEN || !SANDBOXD_ROOT) {
  console.error('sandboxd: set SANDBOXD_TOKEN and SANDBOXD_ROOT');
  process.exit(2);
}

// Commands start from a small, known environment: nothing of the worker's (tokens, keys) leaks in.
const baseEnv: Record<string, string> = {
  PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
  HOME: process.env.HOME ?? SANDBOXD_ROOT,
  LANG: 'C.UTF-8',
  TERM: 'dumb',
  CI: 'true',
  GIT_TERMINAL_PROMPT: '0',
};
delete process.env.SANDBOXD_TOKEN;

const sandboxd = await startSandboxd({
  root: SANDBOXD_ROOT,
  token: SANDBOXD_TOKEN,
  host: SANDBOXD_HOST ?? '127.0.0.1',
  port: SANDBOXD_PORT ? Number(SANDBOXD_PORT) : 0,
  baseEnv,
});
if (SANDBOXD_PORT_FILE) {
  await writeFile(`${SANDBOXD_PORT_FILE}.tmp`, String(sandboxd.port));
  await rename(`${SANDBOXD_PORT_FILE}.tmp`, SANDBOXD_PORT_FILE);
}
console.log(JSON.stringify({ msg: 'sandboxd listening', port: sandboxd.port, root: SANDBOXD_ROOT }));
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.once(sig, () => void sandboxd.close().then(() => process.exit(0)));
}
