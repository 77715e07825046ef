// Finds the Temporal CLI: $TEMPORAL_CLI, else `temporal` on PATH, else the copy the project's
// setup built into .tools/bin with `go install` (pinned). Errors say exactly what to install.
import { execFile } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { findExecutable } from '../../activities/sandbox/sandboxd/find-executable.js';

const run = promisify(execFile);

/** The newest CLI tag whose go.mod has no replace directive, so `go install` builds it. */
export const TEMPORAL_CLI_VERSION = 'v1.5.1';
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const TOOLS_BIN = path.join(PROJECT_ROOT, '.tools', 'bin');

const INSTALL_HINT =
  `Install the Temporal CLI and put it on PATH (or set TEMPORAL_CLI to its path), ` +
  `or install Go 1.24+ so that \`npm run setup\` can build it with ` +
  `\`go install github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_VERSION}\`.`;

async function isExecutable(file: string): Promise<boolean> {
  return access(file, constants.X_OK).then(
    () => true,
    () => false,
  );
}

/** The CLI to use, or undefined when setup has not built one yet. */
export async function findTemporalCli(explicit = process.env.TEMPORAL_CLI): Promise<string | undefined> {
  if (explicit) {
    if (await isExecutable(explicit)) return explicit;
    throw new Error(`TEMPORAL_CLI=${explicit} is not an executable file. ${INSTALL_HINT}`);
  }
  return findExecutable('temporal') ?? ((await isExecutable(path.join(TOOLS_BIN, 'temporal'))) ? path.join(TOOLS_BIN, 'temporal') : undefined);
}

export async function requireTemporalCli(): Promise<string> {
  const cli = await findTemporalCli();
  if (!cli) throw new Error(`the Temporal CLI was not found. ${INSTALL_HINT}`);
  return cli;
}

/** Builds the pinned CLI into .tools/bin when none is found; prints progress, since it takes minutes. */
export async function ensureTemporalCli(log: (msg: string) => void = console.error): Promise<string> {
  const found = await findTemporalCli();
  if (found) return found;
  const go = findExecutable('go');
  if (!go) throw new Error(`the Temporal CLI was not found and Go is not installed. ${INSTALL_HINT}`);
  log(`building the Temporal CLI ${TEMPORAL_CLI_VERSION} with go install into ${TOOLS_BIN} (once; takes several minutes)...`);
  await run(go, ['install', `github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_VERSION}`], {
    env: { ...process.env, GOBIN: TOOLS_BIN, GOFLAGS: '-buildvcs=false' },
    cwd: PROJECT_ROOT,
    maxBuffer: 64 * 1024 * 1024,
  }).catch((err: Error & { stderr?: string }) => {
    throw new Error(`go install of the Temporal CLI failed:\n${err.stderr ?? err.message}\n${INSTALL_HINT}`);
  });
  log(`built ${path.join(TOOLS_BIN, 'temporal')}`);
  return path.join(TOOLS_BIN, 'temporal');
}
