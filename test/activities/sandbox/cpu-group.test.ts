// A sandbox gets its share of the CPU however many processes and sessions it starts: it cannot
// crowd out the worker's side or another sandbox (the kernel's autogroup scheduling gives each
// session an equal share, so with nice alone a command that forked sixteen `setsid` loops took
// sixteen shares). Measured as CPU time each side received while all wanted every CPU: ratios
// of CPU times, not timings.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { rmdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, it } from '@jest/globals';
import { SandboxCpuGroups } from '../../../activities/sandbox/cpu-group.js';
import { LocalSandboxProvider } from '../../../activities/sandbox/local.js';
import { SandboxdClient } from '../../../activities/sandbox/sandboxd-client.js';
import { probeBubblewrap } from '../../../apps/worker/confinement.js';
import { bundleSandboxd } from '../../../apps/worker/sandboxd-bundle.js';
import { describeWithPart } from '../../support/required-part.js';

const run = promisify(execFile);
const bubblewrap = await probeBubblewrap();
// A group of the test's own: pruning here must not touch the sandboxes of Errands other tests run.
const groups = await SandboxCpuGroups.create(`errand-sandboxes-test${process.pid}`);
afterAll(async () => {
  if (groups instanceof SandboxCpuGroups) await rmdir(groups.dir);
});
/** Busy from `start` (ms since the epoch) for 3 s, then prints the CPU microseconds it got meanwhile. */
const burn = (start: number) =>
  `setTimeout(() => { const u0 = process.cpuUsage(); while (Date.now() < ${start + 3000}); const u = process.cpuUsage(u0); console.log(u.user + u.system) }, ${start} - Date.now())`;
/** Running (a zombie waiting for its reaper is not). */
const alive = (pid: number) => {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};
const total = (printed: string) => printed.trim().split('\n').map(Number).reduce((a, b) => a + b, 0);

describeWithPart(
  {
    name: 'bubblewrap and a writable cpu cgroup',
    missing: 'reason' in bubblewrap ? bubblewrap.reason : groups instanceof SandboxCpuGroups ? undefined : groups.reason,
    install: 'run the tests as root (`npm run setup` installs bubblewrap)',
  },
  'the sandboxes’ CPU cgroups',
  () => {
    it('hold a sandbox that forks busy sessions to its share, beside the worker’s side and another sandbox', async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'errand-cpu-'));
      const cpuGroups = groups instanceof SandboxCpuGroups ? groups : undefined;
      const sandboxes = new LocalSandboxProvider({
        dir: path.join(dir, 'sandboxes'),
        sandboxdCommand: await bundleSandboxd(path.join(dir, 'sandboxd')),
        confinement: 'bwrap' in bubblewrap ? { ...bubblewrap, hide: [dir] } : undefined,
        cpuGroups,
      });
      const ids = [`greedy${process.pid}`, `modest${process.pid}`];
      try {
        const [greedy, modest] = await Promise.all(
          ids.map(async (sandboxId) => {
            await sandboxes.provision({ taskId: sandboxId, sandboxId, allowNetwork: false });
            return new SandboxdClient(sandboxId, await sandboxes.endpoint(sandboxId));
          }),
        );
        const cpus = os.cpus().length;
        // All busy over the same 3 s, once every process has started: one sandbox with eight busy
        // sessions per CPU, another with one process, and the worker's side (one session, as the
        // worker is) with one per CPU.
        const start = Date.now() + 2000;
        const [greedyRun, modestRun, ...host] = await Promise.all([
          greedy!.exec({ cmd: `for i in $(seq ${8 * cpus}); do setsid node -e '${burn(start)}' & done; wait`, timeoutMs: 60_000 }),
          modest!.exec({ cmd: `node -e '${burn(start)}'`, timeoutMs: 60_000 }),
          ...Array.from({ length: cpus }, () => run(process.execPath, ['-e', burn(start)])),
        ]);
        const greedyCpu = total(greedyRun.stdout);
        const modestCpu = total(modestRun.stdout);
        const hostCpu = host.reduce((sum, r) => sum + total(r.stdout), 0);
        // With a group each, the two sandboxes get about the same, and the worker's side about
        // as much (all sandboxes together weigh one process per CPU); with a share per session,
        // the greedy sandbox got about eight times either.
        // A third, not a half: beside the rest of a full parallel test run (other files' sandboxes
        // in the same parent group), the modest one once got 1 / 2.35 of the greedy one's.
        expect(modestCpu).toBeGreaterThan(greedyCpu / 3);
        expect(hostCpu).toBeGreaterThan(greedyCpu / 3);
      } finally {
        await Promise.all(ids.map((id) => sandboxes.destroy(id)));
        rmSync(dir, { recursive: true, force: true });
      }
      // Each sandbox's group goes with it.
      for (const id of ids) expect(existsSync(path.join(cpuGroups!.dir, id))).toBe(false);
    });

    it('cannot be left or reweighted from inside a confined sandbox', async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'errand-cpu-'));
      const cpuGroups = groups as SandboxCpuGroups;
      const sandboxes = new LocalSandboxProvider({
        dir: path.join(dir, 'sandboxes'),
        sandboxdCommand: await bundleSandboxd(path.join(dir, 'sandboxd')),
        confinement: 'bwrap' in bubblewrap ? { ...bubblewrap, hide: [dir] } : undefined,
        cpuGroups,
      });
      const sandboxId = `attacker${process.pid}`;
      const own = path.join(cpuGroups.dir, sandboxId);
      try {
        await sandboxes.provision({ taskId: sandboxId, sandboxId, allowNetwork: false });
        const sandbox = new SandboxdClient(sandboxId, await sandboxes.endpoint(sandboxId));
        const weights = [path.join(cpuGroups.dir, 'cpu.shares'), path.join(own, 'cpu.shares')].filter((f) => existsSync(f));
        const before = weights.map((f) => readFileSync(f, 'utf8'));
        // As the attacker: move itself to the root group, the parent group or a group it makes;
        // raise its own group's weight and its parent's.
        const targets = [path.join(path.dirname(cpuGroups.dir), 'cgroup.procs'), path.join(cpuGroups.dir, 'cgroup.procs'), ...weights];
        const r = await sandbox.exec({
          cmd: `${targets.map((f) => `(echo $$ > ${f}) 2>/dev/null && echo "wrote ${f}"; (echo 262144 > ${f}) 2>/dev/null && echo "wrote ${f}";`).join(' ')} mkdir ${path.join(cpuGroups.dir, 'evil')} 2>/dev/null && echo made; echo tried`,
        });
        expect(r.stdout).toBe('tried\n');
        expect(weights.map((f) => readFileSync(f, 'utf8'))).toEqual(before);
        expect(existsSync(path.join(cpuGroups.dir, 'evil'))).toBe(false);
        // sandboxd is still where it was put.
        expect(readFileSync(path.join(own, 'cgroup.procs'), 'utf8').trim()).not.toBe('');
      } finally {
        await sandboxes.destroy(sandboxId);
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('go with their sandbox, and so does a process that left sandboxd’s process group; leftovers are pruned', async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'errand-cpu-'));
      const cpuGroups = groups as SandboxCpuGroups;
      // Unconfined: no pid namespace ends what a command leaves behind; only the group holds it.
      const sandboxes = new LocalSandboxProvider({ dir: path.join(dir, 'sandboxes'), sandboxdCommand: await bundleSandboxd(path.join(dir, 'sandboxd')), cpuGroups });
      const sandboxId = `escape${process.pid}`;
      try {
        await sandboxes.provision({ taskId: sandboxId, sandboxId, allowNetwork: false });
        const sandbox = new SandboxdClient(sandboxId, await sandboxes.endpoint(sandboxId));
        const r = await sandbox.exec({ cmd: `setsid sh -c 'echo $$ > escaped.pid; exec sleep 300' > /dev/null 2>&1 & while [ ! -s escaped.pid ]; do sleep 0.05; done; cat escaped.pid` });
        const escaped = Number(r.stdout.trim());
        expect(alive(escaped)).toBe(true);
        // A crashed worker's leftovers are pruned at start: an empty group goes, a busy one stays.
        await cpuGroups.enter(`left${process.pid}`);
        await cpuGroups.prune(0);
        expect(existsSync(path.join(cpuGroups.dir, `left${process.pid}`))).toBe(false);
        expect(existsSync(path.join(cpuGroups.dir, sandboxId))).toBe(true);
        await sandboxes.destroy(sandboxId);
        expect(alive(escaped)).toBe(false);
        expect(existsSync(path.join(cpuGroups.dir, sandboxId))).toBe(false);
      } finally {
        await sandboxes.destroy(sandboxId);
        rmSync(dir, { recursive: true, force: true });
      }
    });
  },
);
