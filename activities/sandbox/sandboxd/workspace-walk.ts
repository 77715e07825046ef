// How sandboxd finds a path beneath the workspace without ever leaving it. A path is never
// handed to the kernel whole: it is walked one component at a time from a handle on the
// workspace, each step opened relative to the directory handle before it
// (`/proc/self/fd/<fd>/<name>` with O_NOFOLLOW: openat() by another name), and a symlink is
// followed only by reading it and walking its target the same way, from the workspace root,
// refused the moment it would leave. workspace-files.ts does the operations on what it finds.
import { constants, realpathSync, type Stats } from 'node:fs';
import { lstat, mkdir, open, readlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';

export const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_DIRECTORY, O_NOFOLLOW, O_NONBLOCK } = constants;
/** As the kernel: more links than this in one path is a loop. */
const MAX_LINKS = 40;
/** A component that keeps changing under the walk (an attacker racing it) is given up on. */
const MAX_RETRIES = 100;

export class WorkspacePathError extends Error {
  constructor(
    readonly kind: 'outside' | 'not_found' | 'invalid',
    message: string,
  ) {
    super(message);
  }
}

export interface FileOwner {
  uid: number;
  gid: number;
}

export interface Dir {
  handle: FileHandle;
  /** Its path below the workspace root, as components (no links, no `..`). */
  parts: string[];
}

export interface Walked {
  /** The directory the target is in (or the target itself, when `name` is undefined). */
  dir: Dir;
  /** The last component; undefined when the path names the workspace root or a walked directory. */
  name?: string;
  /** lstat of the target; undefined when it does not exist. */
  stat?: Stats;
  close(): Promise<void>;
}

/** `/proc/self/fd/<fd>/<name>`: `name` looked up in the directory the handle holds. */
export function at(dir: Dir, name?: string): string {
  return name === undefined ? `/proc/self/fd/${dir.handle.fd}` : `/proc/self/fd/${dir.handle.fd}/${name}`;
}

export const code = (e: unknown) => (e as NodeJS.ErrnoException).code;

export class WorkspaceWalk {
  /** Handles on what was the workspace before something was mounted over it (walks may still hold them). */
  private readonly earlier: Dir[] = [];

  private constructor(
    /** The workspace's real path. */
    readonly root: string,
    private rootDir: Dir,
    private readonly owner?: FileOwner,
  ) {}

  /** `owner`: who directories the walk creates belong to (the sandbox user, when sandboxd runs as root). */
  static async open(root: string, owner?: FileOwner): Promise<WorkspaceWalk> {
    const real = realpathSync(root);
    return new WorkspaceWalk(real, { handle: await open(real, O_RDONLY | O_DIRECTORY), parts: [] }, owner);
  }

  async close(): Promise<void> {
    for (const d of [this.rootDir, ...this.earlier]) await d.handle.close();
  }

  /**
   * The workspace as its path shows it now: the worker mounts a kept environment over it
   * (copy-on-write, environment-layers.ts) after sandboxd opened it, and a handle on the
   * directory beneath would miss what the mount shows. The path is the host's, in a directory
   * no command can reach, so only the worker changes what it names.
   */
  private async currentRoot(): Promise<Dir> {
    const [now, held] = await Promise.all([lstat(this.root).catch(() => undefined), this.rootDir.handle.stat()]);
    if (now?.isDirectory() && (now.dev !== held.dev || now.ino !== held.ino)) {
      this.earlier.push(this.rootDir);
      this.rootDir = { handle: await open(this.root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW), parts: [] };
    }
    return this.rootDir;
  }

  /**
   * Walks `rel` from the root. Links are followed (the last component's only with
   * `followLast`) by walking their target; `..` goes to the directory actually walked through.
   * With `createDirs`, missing directories on the way are made.
   */
  async walk(rel: string, opts: { followLast: boolean; createDirs?: boolean }): Promise<Walked> {
    const queue = this.components(rel);
    const stack: Dir[] = [await this.currentRoot()];
    const closeAbove = async (depth: number) => {
      while (stack.length > depth) await stack.pop()!.handle.close();
    };
    let links = 0;
    let retries = 0;
    const retry = (c: string) => {
      if (++retries > MAX_RETRIES) throw changed(rel);
      queue.unshift(c);
    };
    try {
      while (queue.length) {
        const c = queue.shift()!;
        if (c === '' || c === '.') continue;
        const top = stack[stack.length - 1]!;
        if (c === '..') {
          if (stack.length === 1) throw outside(rel);
          await closeAbove(stack.length - 1);
          continue;
        }
        const last = queue.every((q) => q === '' || q === '.');
        const stat = await lstat(at(top, c)).catch((e: unknown) => {
          if (code(e) === 'ENOENT') return undefined;
          if (code(e) === 'ENOTDIR') throw invalid(rel, 'a part of the path is not a directory');
          throw e;
        });
        if (!stat) {
          if (last) return this.walked(stack, c, undefined);
          if (!opts.createDirs) throw notFound(rel, 'no such file or directory');
          await mkdir(at(top, c), { mode: 0o755 }).catch((e: unknown) => {
            if (code(e) !== 'EEXIST') throw e;
          });
          const made = await this.openChild(top, c);
          if (!made) {
            retry(c);
            continue;
          }
          if (this.owner) await made.handle.chown(this.owner.uid, this.owner.gid);
          stack.push(made);
          continue;
        }
        if (stat.isSymbolicLink()) {
          if (last && !opts.followLast) return this.walked(stack, c, stat);
          if (++links > MAX_LINKS) throw invalid(rel, 'too many levels of symbolic links');
          const target = await readlink(at(top, c)).catch((e: unknown) => {
            if (code(e) === 'ENOENT' || code(e) === 'EINVAL') return undefined; // changed meanwhile
            throw e;
          });
          if (target === undefined) {
            retry(c);
            continue;
          }
          if (path.isAbsolute(target)) {
            // Absolute: only a link to somewhere in this workspace, walked again from its root.
            const inside = target === this.root ? '' : target.startsWith(`${this.root}/`) ? target.slice(this.root.length + 1) : undefined;
            if (inside === undefined) throw outside(rel);
            await closeAbove(1);
            queue.unshift(...inside.split('/'));
          } else {
            queue.unshift(...target.split('/'));
          }
          continue;
        }
        if (last) return this.walked(stack, c, stat);
        if (!stat.isDirectory()) throw invalid(rel, 'a part of the path is not a directory');
        const child = await this.openChild(top, c);
        if (child) stack.push(child);
        else retry(c);
      }
      return this.walked(stack, undefined, undefined);
    } catch (e) {
      await closeAbove(1);
      throw e;
    }
  }

  /** The directory `name` in `dir`, or undefined when it is no longer a directory (a race). */
  private async openChild(dir: Dir, name: string): Promise<Dir | undefined> {
    const handle = await open(at(dir, name), O_RDONLY | O_DIRECTORY | O_NOFOLLOW).catch((e: unknown) => {
      if (['ELOOP', 'ENOTDIR', 'ENOENT'].includes(code(e) ?? '')) return undefined;
      throw e;
    });
    return handle && { handle, parts: [...dir.parts, name] };
  }

  private walked(stack: Dir[], name: string | undefined, stat: Stats | undefined): Walked {
    const opened = stack.slice(1);
    return {
      dir: stack[stack.length - 1]!,
      name,
      stat,
      close: async () => {
        for (const d of opened.reverse()) await d.handle.close();
      },
    };
  }

  private components(rel: string): string[] {
    if (rel.includes('\0')) throw invalid(rel, 'a path cannot contain a NUL byte');
    if (!path.isAbsolute(rel)) return rel.split('/');
    if (rel === this.root || rel.startsWith(`${this.root}/`)) return rel.slice(this.root.length).split('/');
    throw outside(rel);
  }
}

export function outside(rel: string): WorkspacePathError {
  return new WorkspacePathError('outside', `${rel}: outside the workspace; use a path inside it`);
}
export function notFound(rel: string, what: string): WorkspacePathError {
  return new WorkspacePathError('not_found', `${rel}: ${what}`);
}
export function invalid(rel: string, what: string): WorkspacePathError {
  return new WorkspacePathError('invalid', `${rel}: ${what}`);
}
export function changed(rel: string): WorkspacePathError {
  return new WorkspacePathError('invalid', `${rel}: changed while it was being opened; try again`);
}
