// `npm run setup:fuzz`: schemathesis for the fuzz lane, from PyPI into a virtual environment
// under .tools/schemathesis/<hash of test/fuzz/requirements.txt> (git-ignored), exactly the
// versions that file pins; a second run finds it there and takes no time.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access, constants, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { findExecutable } from '../../activities/sandbox/sandboxd/find-executable.js';
import { PROJECT_ROOT } from '../../apps/cli/temporal-cli.js';

const run = promisify(execFile);
const REQUIREMENTS = path.join(PROJECT_ROOT, 'test', 'fuzz', 'requirements.txt');

/** Where the pinned schemathesis lives (its `st` command), whether installed yet or not. */
export async function schemathesisCommand(): Promise<string> {
  const pins = createHash('sha256').update(await readFile(REQUIREMENTS)).digest('hex').slice(0, 12);
  return path.join(PROJECT_ROOT, '.tools', 'schemathesis', pins, 'bin', 'st');
}

export async function ensureSchemathesis(): Promise<string> {
  const st = await schemathesisCommand();
  if (await access(st, constants.X_OK).then(() => true, () => false)) return st;
  const python = findExecutable('python3');
  if (!python) throw new Error('the fuzz lane needs Python 3.9+ with venv (python3): install it (apt-get install python3-venv) and run again');
  const venv = path.dirname(path.dirname(st));
  console.error(`installing schemathesis into ${path.relative(PROJECT_ROOT, venv)} (once)`);
  try {
    await run(python, ['-m', 'venv', venv]);
    await run(path.join(venv, 'bin', 'pip'), ['install', '--quiet', '--disable-pip-version-check', '--no-deps', '-r', REQUIREMENTS], { maxBuffer: 16 * 1024 * 1024 });
  } catch (err) {
    // A half-made environment would pass the check above next time.
    await rm(venv, { recursive: true, force: true });
    throw err;
  }
  return st;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  ensureSchemathesis().then(
    (st) => console.error(`schemathesis: ${st}`),
    (err: Error) => {
      console.error(`errand: ${err.message}`);
      process.exit(1);
    },
  );
}
