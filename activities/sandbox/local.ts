// The embedded default sandbox: a per-task directory on this host with sandboxd running as a
// detached child process on loopback. Detached so a crashed or redeployed worker does not take
// the sandbox (and the command running in it) down with it; a new worker finds it by its id.
import { randomBytes } from 'node:crypto';
import { chown, mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { unreachableAncestor, type Confinement, type RunAs } from './sandboxd/bubblewrap.js';
import type { EgressPolicy } from './sandboxd/egress.js';
import { taskWorkflowId } from '../../workflows/names.js';
import { ownerWorkflow, sandboxGone, type SandboxEndpoint, type SandboxLayers, type SandboxProvider, type SandboxSpec } from './provider.js';
import { EnvironmentLayers, unmountUnder } from './environment-layers.js';
import { spawnDetached } from '../../lib/process/exec-file.js';
import type { SandboxCpuGroups } from './cpu-group.js';

export interface LocalSandboxOptions {
  /** Parent directory of all sandboxes (one subdirectory each). */
  dir: string;
  /** argv that starts sandboxd, e.g. [node, --import, tsx, apps/sandboxd/main.ts]. */
  sandboxdCommand: string[];
  startTimeoutMs?: number;
  /**
   * Confine every command with bubblewrap (see bubblewrap.ts); omitted means unconfined.
   * `runAs`: the unprivileged host user commands run as, when Errand runs as root.
   */
  confinement?: {
    bwrap: string;
    hide: string[];
    runAs?: RunAs;
    /** The egress policy and relay for commands allowed the network; without it they get none. */
    egress?: Omit<EgressPolicy, 'socket'> & { relay: string };
  };
  /** Variables every command gets (the operator's allowlist, e.g. proxies); never secrets. */
  env?: Record<string, string>;
  /** The sandboxes' CPU cgroups (cpu-group.ts): each sandbox starts in one of its own. */
  cpuGroups?: SandboxCpuGroups;
}

interface SandboxMeta {
  pid: number;
  port: number;
  token: string;
  taskId?: string;
  /** Whose it is, for the reaper (absent in sandboxes from before: the task's). */
  workflowId?: string;
}

/**
 * The CPU priority of sandboxd and every command of the agent's (nice 10): when the machine is
 * short of CPU, the worker, Temporal and the API go first, so tasks slow down evenly instead of
 * workflow tasks timing out and GET /tasks/:id waiting seconds behind `npm test`. It holds only
 * where the kernel does not schedule by session (autogroup); the CPU groups hold everywhere.
 */
const SANDBOX_NICE = 10;

export class LocalSandboxProvider implements SandboxProvider {
  readonly name = 'local';
  /**
   * Copy-on-write environments, where commands are confined as a user of their own: the layers
   * are hidden from every command like the rest of the sandboxes directory.
   */
  readonly layers?: SandboxLayers;
  private readonly overlays?: EnvironmentLayers;

  constructor(private readonly opts: LocalSandboxOptions) {
    if (opts.confinement?.runAs) {
      const overlays = new EnvironmentLayers(opts.dir, (dir) => this.discardDir(dir));
      this.overlays = overlays;
      this.layers = {
        unusable: () => overlays.unusable(),
        has: (sha256) => overlays.has(sha256),
        adopt: (sandboxId, rel, sha256) => overlays.adopt(this.workspaceDir(sandboxId), rel, sha256),
        mount: (sandboxId, sha256) => overlays.mount(this.sandboxDir(sandboxId), sha256),
      };
    }
  }

  /** The host's own tools: its platform and Node (an image, when a task names one, means nothing here). */
  platformOf(): string {
    return `local ${process.platform}-${process.arch} node ${process.version}`;
  }

  /** The sandbox's workspace on this host (tests and the restore path look at it). */
  workspaceDir(sandboxId: string): string {
    return path.join(this.sandboxDir(sandboxId), 'workspace');
  }

  async provision(spec: SandboxSpec): Promise<{ sandboxId: string }> {
    const { sandboxId } = spec;
    if ((await this.status(sandboxId)) === 'running') return { sandboxId };
    const dir = this.sandboxDir(sandboxId);
    await this.discard(sandboxId);
    const workspace = this.workspaceDir(sandboxId);
    const home = path.join(dir, 'home');
    await mkdir(workspace, { recursive: true });
    await mkdir(home, { recursive: true });
    const confinement = this.opts.confinement;
    const runAs = confinement?.runAs;
    if (runAs) {
      // The sandbox user's own: everything else on the host stays root's.
      for (const d of [workspace, home]) await chown(d, runAs.uid, runAs.gid);
    }
    const token = randomBytes(32).toString('hex');
    const portFile = path.join(dir, 'port');
    const [cmd, ...args] = this.opts.sandboxdCommand;
    const pid = await spawnDetached(cmd!, args, {
      cwd: workspace,
      logFile: path.join(dir, 'sandboxd.log'),
      nice: SANDBOX_NICE,
      cpuGroup: await this.opts.cpuGroups?.enter(sandboxId),
      // A cleared environment: the worker's secrets (model key, forge token) stay out.
      env: {
        PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
        HOME: home,
        SANDBOXD_TOKEN: token,
        SANDBOXD_ROOT: workspace,
        SANDBOXD_PORT_FILE: portFile,
        SANDBOXD_ENV: JSON.stringify(this.opts.env ?? {}),
        // The whole sandboxes directory is hidden (other tasks' workspaces and tokens), then this
        // sandbox's workspace and home are bound back in, writable.
        ...(confinement && {
          SANDBOXD_CONFINE: JSON.stringify({
            bwrap: confinement.bwrap,
            network: spec.allowNetwork,
            writable: [home],
            hide: [...new Set([...confinement.hide, this.opts.dir, ...(runAs ? [unreachableAncestor(this.opts.dir)].filter((p) => p !== undefined) : [])])],
            ...(runAs && { runAs }),
            ...(confinement.egress && { egress: { ...confinement.egress, socket: egressSocket(dir) } }),
          } satisfies Confinement),
        }),
      },
    });
    const deadline = Date.now() + (this.opts.startTimeoutMs ?? 20_000);
    for (;;) {
      const port = await readFile(portFile, 'utf8').catch(() => undefined);
      if (port) {
        await writeFile(this.metaFile(sandboxId), JSON.stringify({ pid, port: Number(port), token, taskId: spec.taskId, workflowId: ownerWorkflow(spec) } satisfies SandboxMeta), { mode: 0o600 });
        return { sandboxId };
      }
      if (!isAlive(pid) || Date.now() > deadline) {
        const tail = (await readFile(path.join(dir, 'sandboxd.log'), 'utf8').catch(() => '')).slice(-2000);
        await this.destroy(sandboxId);
        throw new Error(`sandboxd did not start within the deadline; its log ends with:\n${tail}`);
      }
      await sleep(50);
    }
  }

  async endpoint(sandboxId: string): Promise<SandboxEndpoint> {
    const meta = await this.meta(sandboxId);
    if (!meta) throw sandboxGone(sandboxId, `${this.sandboxDir(sandboxId)} no longer exists`);
    if (!isAlive(meta.pid)) throw sandboxGone(sandboxId, `sandboxd (pid ${meta.pid}) is not running`);
    return { url: `http://127.0.0.1:${meta.port}`, token: meta.token };
  }

  async status(sandboxId: string): Promise<'running' | 'gone'> {
    const meta = await this.meta(sandboxId);
    return meta && isAlive(meta.pid) ? 'running' : 'gone';
  }

  async destroy(sandboxId: string): Promise<void> {
    const meta = await this.meta(sandboxId);
    if (meta && isAlive(meta.pid)) {
      // sandboxd kills the commands it runs on SIGTERM; SIGKILL of its group follows if it lingers.
      signalGroup(meta.pid, 'SIGTERM');
      for (let i = 0; i < 40 && isAlive(meta.pid); i++) await sleep(50);
      signalGroup(meta.pid, 'SIGKILL');
    }
    await this.opts.cpuGroups?.remove(sandboxId);
    await this.discard(sandboxId);
  }

  /**
   * Takes a sandbox's directory away at once (a rename) and removes it in the background, by
   * `rm -rf` in a process of its own: a workspace may hold a million files, or directories
   * deeper than a path can name, and walking it inside the worker costs memory and time in
   * proportion (Node's recursive rm grew a worker by 2 GB, then failed).
   */
  private async discard(sandboxId: string): Promise<void> {
    // An environment mounted under it first: what is removed is the sandbox's own, never a layer.
    await unmountUnder(this.sandboxDir(sandboxId));
    await this.discardDir(this.sandboxDir(sandboxId));
  }

  private async discardDir(dir: string): Promise<void> {
    const trash = path.join(this.opts.dir, TRASH);
    await mkdir(trash, { recursive: true });
    const doomed = path.join(trash, `${path.basename(dir)}.${randomBytes(4).toString('hex')}`);
    const moved = await rename(dir, doomed).then(
      () => true,
      (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return false;
        throw err;
      },
    );
    if (moved) await removeInBackground(doomed);
  }

  /** Sandboxes on this host, for the reaper; it also sweeps what a crashed worker left in the trash, and layers long unused. */
  async list(): Promise<{ sandboxId: string; workflowId?: string }[]> {
    await this.sweepTrash();
    await this.overlays?.sweep();
    const ids = await readdir(this.opts.dir).catch(() => [] as string[]);
    const out: { sandboxId: string; workflowId?: string }[] = [];
    for (const sandboxId of ids.filter((id) => /^[A-Za-z0-9_-]+$/.test(id))) {
      const meta = await this.meta(sandboxId).catch(() => undefined);
      out.push({ sandboxId, workflowId: meta?.workflowId ?? (meta?.taskId ? taskWorkflowId(meta.taskId) : undefined) });
    }
    return out;
  }

  /** Removes what is left in the trash after ten minutes (a removal a crashed worker started, or one that failed). */
  private async sweepTrash(): Promise<void> {
    const trash = path.join(this.opts.dir, TRASH);
    for (const entry of await readdir(trash).catch(() => [] as string[])) {
      const doomed = path.join(trash, entry);
      const { mtimeMs } = await stat(doomed).catch(() => ({ mtimeMs: Date.now() }));
      if (Date.now() - mtimeMs > 10 * 60_000) await removeInBackground(doomed);
    }
  }

  private sandboxDir(sandboxId: string): string {
    if (!/^[A-Za-z0-9_-]+$/.test(sandboxId)) throw new Error(`invalid sandbox id ${JSON.stringify(sandboxId)}`);
    return path.join(this.opts.dir, sandboxId);
  }

  private metaFile(sandboxId: string): string {
    return path.join(this.sandboxDir(sandboxId), 'sandbox.json');
  }

  private async meta(sandboxId: string): Promise<SandboxMeta | undefined> {
    const raw = await readFile(this.metaFile(sandboxId), 'utf8').catch(() => undefined);
    return raw ? (JSON.parse(raw) as SandboxMeta) : undefined;
  }
}

/** Sandboxes on their way out, inside the sandboxes directory (a rename never crosses file systems); not a sandbox id. */
const TRASH = '.trash';

async function removeInBackground(dir: string): Promise<void> {
  await spawnDetached('rm', ['-rf', '--one-file-system', dir], { cwd: path.dirname(dir), env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, logFile: '/dev/null' });
}

/** Where a sandbox's egress proxy listens: in its own directory, never in the workspace. */
function egressSocket(sandboxDir: string): string {
  const socket = path.join(sandboxDir, 'egress.sock');
  // The kernel's limit for a socket's path (sun_path) is 108 bytes.
  if (Buffer.byteLength(socket) > 107) throw new Error(`${socket} is too long for a socket path; set ERRAND_STATE_DIR to a shorter directory`);
  return socket;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}
