// What the console lane needs (`npm run setup:console`): Debian's Chromium, which playwright-core
// drives (playwright's own browser download cannot be fetched here). Installed with apt-get
// when we are root and it is missing; otherwise the lane's tests say what to install.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { findExecutable } from '../../activities/sandbox/sandboxd/find-executable.js';

const run = promisify(execFile);

/** The Chromium the console tests drive, or undefined when it is not installed. */
export const chromiumPath = (): string | undefined => process.env.ERRAND_CHROMIUM ?? findExecutable('chromium');

export async function ensureChromium(log: (line: string) => void = console.log): Promise<void> {
  const aptGet = findExecutable('apt-get');
  if (!chromiumPath() && process.getuid?.() === 0 && aptGet) {
    log('installing chromium from Debian packages...');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    await run(aptGet, ['update', '-qq'], { env, maxBuffer: 16 * 1024 * 1024 });
    await run(aptGet, ['install', '-y', '-qq', '--no-install-recommends', 'chromium'], { env, maxBuffer: 16 * 1024 * 1024 });
  }
  log(`chromium: ${chromiumPath() ?? 'missing: install the chromium package (or set ERRAND_CHROMIUM)'}`);
}

if (import.meta.url === `file://${process.argv[1]}`) await ensureChromium();
