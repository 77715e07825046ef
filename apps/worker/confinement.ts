// Decides, once at start-up, whether the local sandbox confines its commands with bubblewrap:
// `auto` uses it when it works here and otherwise warns once, saying what is given up;
// `bubblewrap` refuses to start without it; `none` runs commands unconfined on purpose.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { bubblewrapArgv, type RunAs } from '../../activities/sandbox/bubblewrap.js';
import type { Config } from '../config.js';
import { findExecutable } from '../find-executable.js';
import type { Logger } from '../logger.js';

const run = promisify(execFile);

export const UNCONFINED_CONSEQUENCES =
  'sandbox commands run as the worker user: they can read and write whatever it can outside the workspace, ' +
  "reach the network whatever the task's network policy says, and see the host's /tmp";
const INSTALL_HINT = 'install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap; `npm run setup` does it when run as root)';

export interface Confining {
  bwrap: string;
  /** Set when Errand runs as root: the unprivileged host user commands run as. */
  runAs?: RunAs;
}

/**
 * Why bubblewrap cannot confine commands here, or how it does: as root, it builds the sandbox
 * and util-linux's setpriv drops every command to `user`, which the probe checks it really is;
 * otherwise through a user namespace.
 */
export async function probeBubblewrap(user: { uid: number; gid: number } = { uid: 65534, gid: 65534 }): Promise<Confining | { reason: string }> {
  const bwrap = findExecutable('bwrap');
  if (!bwrap) return { reason: 'bwrap is not on PATH' };
  let runAs: RunAs | undefined;
  if (process.getuid?.() === 0) {
    const setpriv = findExecutable('setpriv');
    if (!setpriv) return { reason: 'setpriv is not on PATH (Debian/Ubuntu: apt-get install util-linux), and without it commands would run as root' };
    runAs = { ...user, setpriv };
  }
  const argv = bubblewrapArgv({ bwrap, network: false, writable: [], hide: [], runAs }, { argv: ['/bin/sh', '-c', 'id -u'], cwd: '/', env: { PATH: '/usr/bin:/bin' }, writable: [] });
  try {
    const { stdout } = await run(argv[0]!, argv.slice(1), { timeout: 10_000 });
    if (runAs && stdout.trim() !== String(runAs.uid)) return { reason: `a confined command ran as uid ${stdout.trim()}, not ${runAs.uid}` };
    return { bwrap, ...(runAs && { runAs }) };
  } catch (err) {
    const stderr = ((err as { stderr?: string }).stderr ?? (err as Error).message).trim();
    return { reason: `${bwrap} cannot create a sandbox here (${stderr || 'no message'}); unprivileged user namespaces may be disabled` };
  }
}

export async function chooseConfinement(config: Config, log: Logger): Promise<Confining | undefined> {
  const mode = config.sandbox.confinement;
  if (mode === 'none') {
    log.warn({ consequences: UNCONFINED_CONSEQUENCES }, 'ERRAND_SANDBOX_CONFINEMENT=none: sandbox commands are not confined');
    return undefined;
  }
  const probe = await probeBubblewrap(config.sandbox.user);
  if ('bwrap' in probe) {
    log.info({ bwrap: probe.bwrap, hostUid: probe.runAs?.uid ?? process.getuid?.() }, 'sandbox commands are confined with bubblewrap');
    return probe;
  }
  if (mode === 'bubblewrap') {
    throw new Error(`ERRAND_SANDBOX_CONFINEMENT=bubblewrap, but ${probe.reason}; ${INSTALL_HINT}`);
  }
  log.warn({ reason: probe.reason, consequences: UNCONFINED_CONSEQUENCES, fix: INSTALL_HINT }, `bubblewrap is not available, so ${UNCONFINED_CONSEQUENCES}`);
  return undefined;
}
