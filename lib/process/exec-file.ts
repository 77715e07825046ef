// Every child process the worker and the API start (git, sandboxd) is started by one small helper
// process (exec-helper.mjs) instead of by themselves: a fork costs the forking process's memory
// size, ~4 ms per 100 MB with its event loop stopped, and a busy worker is large. Same contract
// as Node's promisified execFile; the helper is started on first use and again if it dies.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface ExecFileOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  maxBuffer?: number;
  timeout?: number;
  /** Written to its stdin (none: stdin is empty). */
  input?: string;
}

/** A failed command, as Node's execFile reports it: exit code (or errno string), signal, output. */
export interface ExecFileError extends Error {
  code?: number | string;
  signal?: string;
  killed?: boolean;
  stdout: string;
  stderr: string;
}

interface Reply {
  id: number;
  error?: { message: string; code?: number | string; signal?: string; killed?: boolean };
  stdout?: string;
  stderr?: string;
  pid?: number;
}

const HELPER = fileURLToPath(new URL('./exec-helper.mjs', import.meta.url));

let helper: ChildProcess | undefined;
let nextId = 0;
const pending = new Map<number, (reply: Reply) => void>();

function started(): ChildProcess {
  if (helper?.connected) return helper;
  // Plain node, no loader flags of ours: the helper is plain JavaScript and stays small.
  const child = fork(HELPER, [], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' });
  child.on('message', (reply: Reply) => {
    pending.get(reply.id)?.(reply);
    pending.delete(reply.id);
  });
  // Gone (killed, crashed): what it was running fails, and the next call starts another.
  child.on('exit', () => {
    if (helper === child) helper = undefined;
    for (const [id, settle] of pending) {
      settle({ id, error: { message: 'the process that starts commands exited; try again' } });
    }
    pending.clear();
  });
  // It must not keep a finished worker or API process alive.
  child.unref();
  child.channel?.unref();
  helper = child;
  return child;
}

function ask(request: Record<string, unknown>): Promise<Reply> {
  const id = nextId++;
  return new Promise((resolve) => {
    const child = started();
    pending.set(id, resolve);
    // Only a request in flight keeps the process alive: idle, the channel lets it exit.
    child.channel?.ref();
    const failed = (err: Error) => {
      pending.delete(id);
      resolve({ id, error: { message: `could not reach the process that starts commands: ${err.message}` } });
    };
    try {
      child.send({ ...request, id }, (err) => err && failed(err));
    } catch (err) {
      failed(err as Error);
    }
  }).finally(() => {
    if (pending.size === 0) helper?.channel?.unref();
  }) as Promise<Reply>;
}

/** Runs `file` with `args` to its end: its stdout and stderr, or an ExecFileError. */
export async function execFile(file: string, args: string[], options: ExecFileOptions = {}): Promise<{ stdout: string; stderr: string }> {
  const reply = await ask({ kind: 'exec', file, args, options: { ...options, env: plain(options.env ?? process.env) } });
  const stdout = reply.stdout ?? '';
  const stderr = reply.stderr ?? '';
  if (reply.error) throw Object.assign(new Error(reply.error.message), { ...reply.error, stdout, stderr }) as ExecFileError;
  return { stdout, stderr };
}

/**
 * Starts `file` in a session of its own, its output appended to `logFile`, not waited for: its
 * pid. `nice` (1-19) lowers its CPU priority and that of everything it starts; `cpuGroup`, a
 * cgroup's cgroup.procs file, puts it and everything it starts in that cgroup.
 */
export async function spawnDetached(
  file: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; logFile: string; nice?: number; cpuGroup?: string },
): Promise<number> {
  const reply = await ask({ kind: 'detached', file, args, ...options, env: plain(options.env) });
  if (reply.error || !reply.pid) throw new Error(`could not start ${file}: ${reply.error?.message ?? 'no pid'}`);
  return reply.pid;
}

/** An environment as plain strings (process.env may be an exotic object that cannot be sent). */
function plain(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => typeof e[1] === 'string'));
}
