// The file operations sandboxd does for a task (read, write, list, and the paths it hands to
// commands), none of which may ever touch anything outside the workspace. sandboxd runs
// outside the confinement that wraps commands (as root, when Errand runs as root), and
// everything inside the workspace is the agent's to shape: symlinks (dangling or not, to `/`,
// to `/proc/self/root`), hard links, FIFOs, and directories swapped for links while a call
// runs. So a path is never handed to the kernel whole: it is walked one component at a time
// from a handle on the workspace, each step opened relative to the directory handle before it
// (`/proc/self/fd/<fd>/<name>` with O_NOFOLLOW: openat() by another name), and a symlink is
// followed only by reading it and walking its target the same way, from the workspace root,
// refused the moment it would leave. A write never goes through an existing file: it creates a
// new one beside it and renames it into place, so neither a link nor a hard link is written
// through.
import { randomBytes } from 'node:crypto';
import { constants, realpathSync, type Stats } from 'node:fs';
import { lstat, mkdir, open, readdir, readlink, rename, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_DIRECTORY, O_NOFOLLOW, O_NONBLOCK } = constants;
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

interface Dir {
  handle: FileHandle;
  /** Its path below the workspace root, as components (no links, no `..`). */
  parts: string[];
}

interface Walked {
  /** The directory the target is in (or the target itself, when `name` is undefined). */
  dir: Dir;
  /** The last component; undefined when the path names the workspace root or a walked directory. */
  name?: string;
  /** lstat of the target; undefined when it does not exist. */
  stat?: Stats;
  close(): Promise<void>;
}

export interface ListEntry {
  name: string;
  type: 'file' | 'dir' | 'symlink' | 'other';
  size: number;
}

/** `/proc/self/fd/<fd>/<name>`: `name` looked up in the directory the handle holds. */
function at(dir: Dir, name?: string): string {
  return name === undefined ? `/proc/self/fd/${dir.handle.fd}` : `/proc/self/fd/${dir.handle.fd}/${name}`;
}

const code = (e: unknown) => (e as NodeJS.ErrnoException).code;

export class WorkspaceFiles {
  private constructor(
    /** The workspace's real path. */
    readonly root: string,
    private readonly rootDir: Dir,
    private readonly owner?: FileOwner,
  ) {}

  /** `owner`: who files and directories sandboxd creates belong to (the sandbox user, when sandboxd runs as root). */
  static async open(root: string, owner?: FileOwner): Promise<WorkspaceFiles> {
    const real = realpathSync(root);
    return new WorkspaceFiles(real, { handle: await open(real, O_RDONLY | O_DIRECTORY), parts: [] }, owner);
  }

  async close(): Promise<void> {
    await this.rootDir.handle.close();
  }

  async readFile(rel: string, offset: number, maxBytes: number): Promise<{ content: Buffer; size: number }> {
    const w = await this.walk(rel, { followLast: true });
    try {
      if (w.name === undefined || !w.stat) throw w.name === undefined ? invalid(rel, 'a directory, not a file') : notFound(rel, 'no such file');
      // O_NONBLOCK: opening a FIFO the agent made must not hang sandboxd; it is refused below.
      const handle = await open(at(w.dir, w.name), O_RDONLY | O_NOFOLLOW | O_NONBLOCK).catch((e: unknown) => {
        throw code(e) === 'ENOENT' ? notFound(rel, 'no such file') : code(e) === 'ELOOP' ? changed(rel) : e;
      });
      try {
        const info = await handle.stat();
        if (!info.isFile()) throw invalid(rel, 'not a file');
        const content = Buffer.alloc(Math.max(0, Math.min(maxBytes, info.size - offset)));
        if (content.length) await handle.read(content, 0, content.length, offset);
        return { content, size: info.size };
      } finally {
        await handle.close();
      }
    } finally {
      await w.close();
    }
  }

  /** Creates or replaces the file (and the directories it needs); returns the bytes written. */
  async writeFile(rel: string, data: Buffer): Promise<number> {
    const w = await this.walk(rel, { followLast: true, createDirs: true });
    try {
      if (w.name === undefined || w.stat?.isDirectory()) throw invalid(rel, 'is a directory');
      const temp = `.errand-write-${randomBytes(6).toString('hex')}`;
      const handle = await open(at(w.dir, temp), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
      try {
        await handle.writeFile(data);
        // An existing file keeps its mode (an executable script stays executable).
        await handle.chmod(w.stat ? w.stat.mode & 0o7777 : 0o644);
        if (this.owner) await handle.chown(this.owner.uid, this.owner.gid);
      } catch (e) {
        await handle.close();
        await unlink(at(w.dir, temp)).catch(() => undefined);
        throw e;
      }
      await handle.close();
      // rename replaces the directory entry itself: whatever sat there (a file, a link that
      // appeared meanwhile) is replaced, and nothing is written through it.
      await rename(at(w.dir, temp), at(w.dir, w.name)).catch(async (e: unknown) => {
        await unlink(at(w.dir, temp)).catch(() => undefined);
        throw code(e) === 'EISDIR' || code(e) === 'ENOTEMPTY' ? invalid(rel, 'is a directory') : e;
      });
      return data.length;
    } finally {
      await w.close();
    }
  }

  async list(rel: string): Promise<ListEntry[]> {
    const dir = await this.openDir(rel);
    try {
      const names = (await readdir(at(dir))).sort();
      return await Promise.all(
        names.map(async (name) => {
          const info = await lstat(at(dir, name)).catch(() => undefined);
          const type = !info ? 'other' : info.isSymbolicLink() ? 'symlink' : info.isDirectory() ? 'dir' : info.isFile() ? 'file' : 'other';
          return { name, type, size: info?.size ?? 0 } as const;
        }),
      );
    } finally {
      await dir.handle.close();
    }
  }

  /**
   * The path of an existing file or directory below the root with every link resolved, for a
   * command (a search, a working directory) that then runs under the sandbox's confinement.
   */
  async resolve(rel: string, want: 'any' | 'dir' = 'any'): Promise<string[]> {
    const w = await this.walk(rel, { followLast: true });
    try {
      if (w.name === undefined) return w.dir.parts;
      if (!w.stat) throw notFound(rel, want === 'dir' ? 'no such directory' : 'no such file or directory');
      if (want === 'dir' && !w.stat.isDirectory()) throw invalid(rel, 'not a directory');
      return [...w.dir.parts, w.name];
    } finally {
      await w.close();
    }
  }

  private async openDir(rel: string): Promise<Dir> {
    const w = await this.walk(rel, { followLast: true });
    try {
      // The path named a directory already walked: a handle of its own, since the walk's close.
      if (w.name === undefined) return { handle: await open(at(w.dir), O_RDONLY | O_DIRECTORY), parts: w.dir.parts };
      if (!w.stat) throw notFound(rel, 'no such directory');
      if (!w.stat.isDirectory()) throw invalid(rel, 'not a directory');
      const handle = await open(at(w.dir, w.name), O_RDONLY | O_DIRECTORY | O_NOFOLLOW).catch((e: unknown) => {
        throw code(e) === 'ELOOP' || code(e) === 'ENOTDIR' ? changed(rel) : e;
      });
      return { handle, parts: [...w.dir.parts, w.name] };
    } finally {
      await w.close();
    }
  }

  /**
   * Walks `rel` from the root. Links are followed (the last component's only with
   * `followLast`) by walking their target; `..` goes to the directory actually walked through.
   * With `createDirs`, missing directories on the way are made.
   */
  private async walk(rel: string, opts: { followLast: boolean; createDirs?: boolean }): Promise<Walked> {
    const queue = this.components(rel);
    const stack: Dir[] = [this.rootDir];
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

function outside(rel: string): WorkspacePathError {
  return new WorkspacePathError('outside', `${rel}: outside the workspace; use a path inside it`);
}
function notFound(rel: string, what: string): WorkspacePathError {
  return new WorkspacePathError('not_found', `${rel}: ${what}`);
}
function invalid(rel: string, what: string): WorkspacePathError {
  return new WorkspacePathError('invalid', `${rel}: ${what}`);
}
function changed(rel: string): WorkspacePathError {
  return new WorkspacePathError('invalid', `${rel}: changed while it was being opened; try again`);
}
