// Installs bubblewrap, which confines the local sandbox's commands, from Debian's packages when
// it is missing and we may (root with apt-get). Otherwise it says what to do; Errand still runs
// without it, warning at start-up about what it gives up.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { findExecutable } from '../find-executable.js';

const run = promisify(execFile);

export async function ensureBubblewrap(log: (msg: string) => void = console.error): Promise<string | undefined> {
  const found = findExecutable('bwrap');
  if (found) return found;
  const aptGet = findExecutable('apt-get');
  if (process.getuid?.() !== 0 || !aptGet) {
    log('bubblewrap is not installed, so sandbox commands will not be confined; install the bubblewrap package (e.g. sudo apt-get install bubblewrap)');
    return undefined;
  }
  log('installing bubblewrap from Debian packages (apt-get install bubblewrap)...');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  try {
    await run(aptGet, ['update', '-qq'], { env, maxBuffer: 16 * 1024 * 1024 });
    await run(aptGet, ['install', '-y', '-qq', '--no-install-recommends', 'bubblewrap'], { env, maxBuffer: 16 * 1024 * 1024 });
  } catch (err) {
    log(`could not install bubblewrap: ${((err as { stderr?: string }).stderr ?? (err as Error).message).trim().slice(-1000)}`);
    return undefined;
  }
  return findExecutable('bwrap');
}
