// The process that starts Errand's child processes (git, sandboxd) for the worker and the API.
// Starting a process forks its parent, and a fork costs the parent's memory size: ~4 ms per 100
// MB, the event loop stopped meanwhile (a worker at 1 GB spent 40 ms per git command). This
// helper stays small, so its forks stay cheap. Plain JavaScript started with plain node: no
// TypeScript loader, ~40 MB. It exits when its parent goes (the IPC channel closes).
import { execFile, spawn } from 'node:child_process';
import { openSync, closeSync, writeFileSync } from 'node:fs';
import { setPriority } from 'node:os';

process.on('disconnect', () => process.exit(0));
process.on('message', (req) => {
  // Arguments come from task input and repositories: one that Node refuses (a NUL byte, say)
  // fails its own request, never this process and the commands it runs for other tasks.
  try {
    handle(req);
  } catch (err) {
    process.send({ id: req.id, error: { message: err.message, code: err.code } });
  }
});

function handle(req) {
  if (req.kind === 'exec') {
    const { input, ...options } = req.options;
    const child = execFile(req.file, req.args, { ...options, encoding: 'utf8' }, (err, stdout, stderr) => {
      const error = err && { message: err.message, code: err.code, signal: err.signal, killed: err.killed };
      process.send({ id: req.id, error, stdout, stderr });
    });
    // A command that exits without reading all of it must not take this process down.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(input ?? '');
  } else if (req.kind === 'detached') {
    let log;
    try {
      log = openSync(req.logFile, 'a');
      const child = spawn(req.file, req.args, { cwd: req.cwd, env: req.env, detached: true, stdio: ['ignore', log, log] });
      child.on('error', () => undefined);
      // Before it has started anything: what it starts inherits the priority and the cgroup.
      if (child.pid && req.nice) setPriority(child.pid, req.nice);
      if (child.pid && req.cpuGroup) {
        try {
          writeFileSync(req.cpuGroup, String(child.pid));
        } catch (err) {
          child.kill('SIGKILL');
          throw new Error(`could not move ${req.file} into ${req.cpuGroup}: ${err.message}`);
        }
      }
      // Reaped here when it ends; the caller watches it by pid.
      child.unref();
      process.send({ id: req.id, pid: child.pid, error: child.pid ? undefined : { message: `could not start ${req.file}` } });
    } catch (err) {
      process.send({ id: req.id, error: { message: err.message, code: err.code } });
    } finally {
      if (log !== undefined) closeSync(log);
    }
  }
}
