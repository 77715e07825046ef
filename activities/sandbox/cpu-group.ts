// CPU cgroups for the local sandboxes: one per sandbox, inside one for them all, so a sandbox
// gets its share of the CPU however many processes and sessions it starts, and cannot crowd out
// the worker, Temporal, the API or the other sandboxes. Nice alone does not do it: with the
// kernel's autogroup scheduling (on by default in most distributions) each session is scheduled
// as one unit and nice only orders processes within it, and sandboxd and every command it runs
// start sessions of their own (detached, bubblewrap's --new-session). Measured: four busy
// commands of one sandbox, each `setsid`, took four times the CPU of two busy processes in the
// worker's session. A cgroup holds every descendant, whatever sessions it makes, and a sandbox
// user cannot write to it.
import { mkdir, readdir, readFile, rmdir, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { readMounts } from './mounts.js';

export const SANDBOX_CPU_GROUP = 'errand-sandboxes';

/**
 * The sandboxes' group: weighted as one process per CPU (cgroup v1's cpu.shares and v2's
 * cpu.weight defaults are 1024 and 100), so on a busy machine all sandboxes together get about
 * as much as the worker and Temporal together; within it, a group per sandbox of equal weight.
 * Weighted lower (a tenth of one process), 200 sandboxes starting at once were starved past
 * sandboxd's start deadline while the worker kept busy with the other tasks' steps.
 */
export class SandboxCpuGroups {
  /** `dir`: the sandboxes' group, e.g. /sys/fs/cgroup/cpu/errand-sandboxes. */
  constructor(readonly dir: string) {}

  /** Makes the sandbox's own group: the cgroup.procs file its first process is written to. */
  async enter(sandboxId: string): Promise<string> {
    const group = path.join(this.dir, sandboxId);
    await mkdir(group, { recursive: true });
    return path.join(group, 'cgroup.procs');
  }

  /**
   * Kills what is left in the sandbox's group (a process that made a session and a process
   * group of its own outlives the signal to sandboxd's group) and removes the group.
   */
  async remove(sandboxId: string): Promise<void> {
    const group = path.join(this.dir, sandboxId);
    for (let i = 0; i < 20; i++) {
      try {
        await rmdir(group);
        return;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') return;
        if (code !== 'EBUSY') throw err;
      }
      const pids = (await readFile(path.join(group, 'cgroup.procs'), 'utf8').catch(() => '')).split('\n').filter(Boolean);
      for (const pid of pids) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
      await sleep(50);
    }
  }

  /**
   * Removes the empty groups of sandboxes a crashed worker never destroyed. Only those a minute
   * old: another worker on this host may have just made one for a sandbox it is starting. A group
   * with a process in it is refused by the kernel (EBUSY) and stays.
   */
  async prune(olderThanMs = 60_000): Promise<void> {
    const entries = await readdir(this.dir, { withFileTypes: true });
    for (const entry of entries.filter((e) => e.isDirectory())) {
      const group = path.join(this.dir, entry.name);
      // Date.now() is whole milliseconds and mtimeMs is not: a group made in this same
      // millisecond looks younger than 0 ms.
      const { mtimeMs } = await stat(group);
      if (olderThanMs <= 0 || Date.now() - mtimeMs >= olderThanMs) await rmdir(group).catch(() => undefined);
    }
  }

  /** Makes (or finds) the sandboxes' group `name` beside this process's own CPU cgroup, or says why there is none. */
  static async create(name = SANDBOX_CPU_GROUP, cpus = os.availableParallelism()): Promise<SandboxCpuGroups | { reason: string }> {
    try {
      const own = parseCgroups(await readFile('/proc/self/cgroup', 'utf8'));
      const mounts = await readMounts();
      const v1 = own.find((c) => c.controllers.includes('cpu'));
      if (v1) {
        const mount = mounts.find((m) => m.type === 'cgroup' && m.options.includes('cpu'));
        if (!mount) return { reason: 'the cgroup v1 cpu controller is not mounted' };
        const dir = path.join(mount.point, path.relative(mount.root, v1.path), name);
        await mkdir(dir, { recursive: true });
        await writeFile(path.join(dir, 'cpu.shares'), String(1024 * cpus));
        return new SandboxCpuGroups(dir);
      }
      const v2 = own.find((c) => c.id === '0');
      const mount = mounts.find((m) => m.type === 'cgroup2');
      if (!v2 || !mount) return { reason: 'no cgroup has a cpu controller here' };
      const parent = path.join(mount.point, path.relative(mount.root, v2.path));
      if (!(await readFile(path.join(parent, 'cgroup.controllers'), 'utf8')).split(/\s+/).includes('cpu')) {
        return { reason: `the cpu controller is not available in ${parent}` };
      }
      // Fails (EBUSY) where the parent holds processes and is not the root: not delegated here.
      await enableCpu(parent);
      const dir = path.join(parent, name);
      await mkdir(dir, { recursive: true });
      await writeFile(path.join(dir, 'cpu.weight'), String(Math.min(10_000, 100 * cpus)));
      // Its children (one per sandbox) share it by weight too.
      await enableCpu(dir);
      return new SandboxCpuGroups(dir);
    } catch (err) {
      return { reason: (err as Error).message };
    }
  }
}

async function enableCpu(dir: string): Promise<void> {
  if (!(await readFile(path.join(dir, 'cgroup.subtree_control'), 'utf8')).split(/\s+/).includes('cpu')) {
    await writeFile(path.join(dir, 'cgroup.subtree_control'), '+cpu');
  }
}

function parseCgroups(text: string): { id: string; controllers: string[]; path: string }[] {
  return text
    .trim()
    .split('\n')
    .map((line) => {
      const [id, controllers, ...rest] = line.split(':');
      return { id: id!, controllers: controllers!.split(','), path: rest.join(':') };
    });
}
