// Decides, once at start-up, whether the local sandbox confines its commands with bubblewrap:
// `auto` uses it when it works here and otherwise warns once, saying what is given up;
// `bubblewrap` refuses to start without it; `none` runs commands unconfined on purpose.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { bubblewrapArgv } from '../../activities/sandbox/bubblewrap.js';
import type { Config } from '../config.js';
import { findExecutable } from '../find-executable.js';
import type { Logger } from '../logger.js';

const run = promisify(execFile);

export const UNCONFINED_CONSEQUENCES =
  'sandbox commands run as the worker user: they can read and write whatever it can outside the workspace, ' +
  "reach the network whatever the task's network policy says, and see the host's /tmp";
const INSTALL_HINT = 'install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap; `npm run setup` does it when run as root)';

/** Why bubblewrap cannot confine commands here, or undefined when it can (with its path). */
export async function probeBubblewrap(): Promise<{ bwrap: string } | { reason: string }> {
  const bwrap = findExecutable('bwrap');
  if (!bwrap) return { reason: 'bwrap is not on PATH' };
  const argv = bubblewrapArgv({ bwrap, network: false, writable: [], hide: [] }, { argv: ['true'], cwd: '/', env: { PATH: '/usr/bin:/bin' }, writable: [] });
  try {
    await run(argv[0]!, argv.slice(1), { timeout: 10_000 });
    return { bwrap };
  } catch (err) {
    const stderr = ((err as { stderr?: string }).stderr ?? (err as Error).message).trim();
    return { reason: `${bwrap} cannot create a sandbox here (${stderr || 'no message'}); unprivileged user namespaces may be disabled` };
  }
}

export async function chooseConfinement(config: Config, log: Logger): Promise<{ bwrap: string } | undefined> {
  const mode = config.sandbox.confinement;
  if (mode === 'none') {
    log.warn({ consequences: UNCONFINED_CONSEQUENCES }, 'ERRAND_SANDBOX_CONFINEMENT=none: sandbox commands are not confined');
    return undefined;
  }
  const probe = await probeBubblewrap();
  if ('bwrap' in probe) {
    log.info({ bwrap: probe.bwrap }, 'sandbox commands are confined with bubblewrap');
    return probe;
  }
  if (mode === 'bubblewrap') {
    throw new Error(`ERRAND_SANDBOX_CONFINEMENT=bubblewrap, but ${probe.reason}; ${INSTALL_HINT}`);
  }
  log.warn({ reason: probe.reason, consequences: UNCONFINED_CONSEQUENCES, fix: INSTALL_HINT }, `bubblewrap is not available, so ${UNCONFINED_CONSEQUENCES}`);
  return undefined;
}
