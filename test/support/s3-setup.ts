// `npm run setup:s3`: versitygw (Apache-2.0), the real S3 server the storage tests run the S3
// store against, `go install`ed at a pinned version into .tools/bin (git-ignored). A binary
// already there is kept when `go version -m` says it was built from that version, so a second run
// takes a second; a first build takes about a minute.
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { promisify } from 'node:util';
import path from 'node:path';
import { findExecutable } from '../../activities/sandbox/sandboxd/find-executable.js';
import { PROJECT_ROOT, TOOLS_BIN } from '../../apps/cli/temporal-cli.js';

const run = promisify(execFile);

export const VERSITYGW_VERSION = 'v1.8.0';
export const VERSITYGW = path.join(TOOLS_BIN, 'versitygw');
const MODULE = 'github.com/versity/versitygw';

/** The versitygw version `binary` was built from, as Go recorded it; undefined when there is none. */
async function builtVersion(goBin: string, binary: string): Promise<string | undefined> {
  const info = await run(goBin, ['version', '-m', binary]).catch(() => undefined);
  return info?.stdout.match(new RegExp(`^\\s*mod\\s+${MODULE.replace(/\./g, '\\.')}\\s+(\\S+)`, 'm'))?.[1];
}

export async function setupVersitygw(log: (msg: string) => void = console.error): Promise<void> {
  const goBin = findExecutable('go');
  if (!goBin) throw new Error(`Go is not installed; the S3 storage tests build versitygw ${VERSITYGW_VERSION} with it (install Go 1.25+)`);
  if ((await builtVersion(goBin, VERSITYGW)) !== VERSITYGW_VERSION) {
    log(`building versitygw ${VERSITYGW_VERSION} with go install (once; about a minute)...`);
    await mkdir(TOOLS_BIN, { recursive: true });
    await run(goBin, ['install', `${MODULE}/cmd/versitygw@${VERSITYGW_VERSION}`], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, GOBIN: TOOLS_BIN, GOFLAGS: '-buildvcs=false' },
      maxBuffer: 64 * 1024 * 1024,
    });
  }
  log(`versitygw ${VERSITYGW_VERSION}: ${VERSITYGW}`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  setupVersitygw().catch((err: Error) => {
    console.error(`setup:s3 failed: ${err.message}`);
    process.exit(1);
  });
}
