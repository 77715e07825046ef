// Installs what the local sandbox needs from Debian's packages when it is missing and we may
// (root with apt-get): bubblewrap, which confines commands, and socat, which serves the egress
// proxy inside a sandbox whose task allows the network. Otherwise it says what to do; Errand
// still runs without them, warning at start-up about what it gives up.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { findExecutable } from '../../activities/sandbox/sandboxd/find-executable.js';

const run = promisify(execFile);

/** The program each package provides. */
const PACKAGES: Record<string, string> = { bubblewrap: 'bwrap', socat: 'socat' };

/** Returns each package's program path, or undefined for one that is missing and could not be installed. */
export async function ensureSandboxPackages(log: (msg: string) => void = console.error): Promise<Record<string, string | undefined>> {
  const missing = Object.keys(PACKAGES).filter((pkg) => !findExecutable(PACKAGES[pkg]!));
  const aptGet = findExecutable('apt-get');
  if (missing.length && (process.getuid?.() !== 0 || !aptGet)) {
    log(`${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not installed, so sandbox commands will not be confined or get no network; install ${missing.length > 1 ? 'the packages' : 'the package'} (e.g. sudo apt-get install ${missing.join(' ')})`);
  } else if (missing.length) {
    log(`installing ${missing.join(' and ')} from Debian packages (apt-get install ${missing.join(' ')})...`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    try {
      await run(aptGet!, ['update', '-qq'], { env, maxBuffer: 16 * 1024 * 1024 });
      await run(aptGet!, ['install', '-y', '-qq', '--no-install-recommends', ...missing], { env, maxBuffer: 16 * 1024 * 1024 });
    } catch (err) {
      log(`could not install ${missing.join(' ')}: ${((err as { stderr?: string }).stderr ?? (err as Error).message).trim().slice(-1000)}`);
    }
  }
  return Object.fromEntries(Object.entries(PACKAGES).map(([pkg, program]) => [pkg, findExecutable(program)]));
}
