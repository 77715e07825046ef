// Environments restored without creating a file, for the local sandbox when Errand runs as root:
// a snapshot is unpacked once per host (inside a sandbox, as its user, like any restore), kept
// as a layer named by the archive's digest, and mounted copy-on-write (overlayfs) under every
// sandbox restored from it. The sandbox's own workspace (with its checkout) and home are the
// upper layers, so whatever its commands change is copied up into them and the layer never
// changes: the next sandbox starts from the layer as the setup left it. Layers live in the
// sandboxes directory, which every confined command has hidden; one is removed when no sandbox
// has it mounted and it has not been used for a day, or more than LAYERS_KEPT are kept.
import { randomBytes } from 'node:crypto';
import { chmod, chown, lstat, mkdir, readdir, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execFile } from '../../lib/process/exec-file.js';
import { readMounts } from './mounts.js';

/** Layers kept that no sandbox has mounted (the most recently used). */
const LAYERS_KEPT = 10;
const LAYER_UNUSED_MS = 24 * 60 * 60_000;
/** Where a sandbox unpacks a layer before it is taken out: inside its .git, which no snapshot or change includes. */
const UNPACKED = /^\.git\/errand-layer-[0-9a-f]{12}$/;

export class EnvironmentLayers {
  private probed?: Promise<string | undefined>;

  /** `sandboxes`: the sandboxes directory; `discard` takes a directory away and removes it in the background. */
  constructor(
    private readonly sandboxes: string,
    private readonly discard: (dir: string) => Promise<void>,
  ) {}

  private get dir(): string {
    return path.join(this.sandboxes, '.layers');
  }

  /** Why layers cannot be used here (undefined: they can), found once by mounting one. */
  unusable(): Promise<string | undefined> {
    this.probed ??= this.probe();
    return this.probed;
  }

  /** Whether the layer for the archive `sha256` is on this host; marks it used. */
  async has(sha256: string): Promise<boolean> {
    const layer = this.layer(sha256);
    const now = new Date();
    return utimes(layer, now, now).then(
      () => true,
      () => false,
    );
  }

  /**
   * Takes `rel` in a sandbox's workspace (a directory holding `workspace/` and `home/`, just
   * unpacked by the sandbox user, before any of the repository's commands ran) as the layer for
   * `sha256`. Another sandbox may have made it meanwhile: then this one's copy is dropped.
   */
  async adopt(workspace: string, rel: string, sha256: string): Promise<void> {
    if (!UNPACKED.test(rel)) throw new Error(`${rel} is not a directory a layer is unpacked into`);
    // No link on the way: .git and the unpacked directory are what they say.
    for (const p of [path.join(workspace, '.git'), path.join(workspace, rel)]) {
      if (!(await lstat(p)).isDirectory()) throw new Error(`${p} is not a directory`);
    }
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const layer = this.layer(sha256);
    const taken = await rename(path.join(workspace, rel), layer).then(
      () => true,
      (err: NodeJS.ErrnoException) => {
        if (err.code === 'EEXIST' || err.code === 'ENOTEMPTY') return false;
        throw err;
      },
    );
    if (!taken) {
      await this.discard(path.join(workspace, rel));
      return;
    }
    // Root's from its top: whatever a sandbox user might still hold, the layer's name and place are not its to change.
    await chown(layer, 0, 0);
    await chmod(layer, 0o755);
    for (const part of ['workspace', 'home']) {
      if (!(await lstat(path.join(layer, part))).isDirectory()) {
        await this.discard(layer);
        throw new Error(`the unpacked environment's ${part} is not a directory`);
      }
    }
  }

  /** Mounts the layer for `sha256` under the sandbox at `sandboxDir`: its workspace and home, or neither. */
  async mount(sandboxDir: string, sha256: string): Promise<void> {
    const layer = this.layer(sha256);
    const mounted: string[] = [];
    try {
      for (const part of ['workspace', 'home']) {
        const target = path.join(sandboxDir, part);
        await overlay(path.join(layer, part), target, path.join(sandboxDir, '.overlay', part));
        mounted.push(target);
      }
    } catch (err) {
      for (const m of mounted) await execFile('umount', ['-l', m]).catch(() => undefined);
      throw err;
    }
  }

  /** Removes layers no sandbox has mounted that were not used for a day, or beyond the LAYERS_KEPT most recent. */
  async sweep(): Promise<void> {
    const names = (await readdir(this.dir).catch(() => [] as string[])).filter((n) => /^[0-9a-f]{64}$/.test(n));
    if (!names.length) return;
    const inUse = new Set(
      (await readMounts())
        .filter((m) => m.type === 'overlay')
        .flatMap((m) => m.options.filter((o) => o.startsWith('lowerdir=')).map((o) => path.dirname(o.slice('lowerdir='.length)))),
    );
    const layers = await Promise.all(names.map(async (name) => ({ dir: this.layer(name), usedMs: (await stat(this.layer(name)).catch(() => undefined))?.mtimeMs ?? 0 })));
    const idle = layers.filter((l) => !inUse.has(l.dir)).sort((a, b) => b.usedMs - a.usedMs);
    for (const [i, l] of idle.entries()) {
      if (i >= LAYERS_KEPT || Date.now() - l.usedMs > LAYER_UNUSED_MS) await this.discard(l.dir);
    }
  }

  private layer(sha256: string): string {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error(`invalid layer digest ${JSON.stringify(sha256)}`);
    return path.join(this.dir, sha256);
  }

  private async probe(): Promise<string | undefined> {
    if (process.getuid?.() !== 0) return 'Errand is not running as root, which mounting an overlay needs';
    if (/[,:\\]/.test(this.sandboxes)) return `the sandboxes directory ${this.sandboxes} has a comma, colon or backslash, which overlay mount options cannot hold`;
    const dir = path.join(this.sandboxes, `.overlay-probe-${randomBytes(4).toString('hex')}`);
    try {
      await mkdir(path.join(dir, 'lower', 'sub'), { recursive: true });
      await mkdir(path.join(dir, 'upper'), { recursive: true });
      await writeFile(path.join(dir, 'lower', 'sub', 'file'), 'lower');
      await overlay(path.join(dir, 'lower'), path.join(dir, 'upper'), path.join(dir, 'work'));
      try {
        // What npm does to a directory it replaces: a lower directory renamed (redirect_dir), a file changed.
        await rename(path.join(dir, 'upper', 'sub'), path.join(dir, 'upper', 'moved'));
        await writeFile(path.join(dir, 'upper', 'moved', 'file'), 'upper');
      } finally {
        await execFile('umount', ['-l', path.join(dir, 'upper')]);
      }
      return undefined;
    } catch (err) {
      return `an overlay cannot be mounted in ${this.sandboxes}: ${(err as Error).message.trim().slice(0, 300)}`;
    } finally {
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    }
  }
}

/** An overlay of `lower` under `upper`, mounted on `upper` itself; `work` is overlayfs's scratch directory beside it. */
async function overlay(lower: string, upper: string, work: string): Promise<void> {
  await mkdir(work, { recursive: true, mode: 0o700 });
  // redirect_dir: a directory of the layer can be renamed (npm replaces packages that way), not refused with EXDEV.
  await execFile('mount', ['-t', 'overlay', 'errand-environment', '-o', `lowerdir=${lower},upperdir=${upper},workdir=${work},redirect_dir=on`, upper]);
}

/** Unmounts whatever is mounted under `dir` (deepest first); a sandbox's workspace and home before it is removed. */
export async function unmountUnder(dir: string): Promise<void> {
  const points = (await readMounts()).map((m) => m.point).filter((p) => p.startsWith(`${dir}/`));
  for (const p of points.sort((a, b) => b.length - a.length)) await execFile('umount', ['-l', p]);
}
