// The file operations sandboxd does for a task (read, write, list, and the paths it hands to
// commands), none of which may ever touch anything outside the workspace. sandboxd runs
// outside the confinement that wraps commands (as root, when Errand runs as root), and
// everything inside the workspace is the agent's to shape: symlinks (dangling or not, to `/`,
// to `/proc/self/root`), hard links, FIFOs, and directories swapped for links while a call
// runs. Every path is found by workspace-walk.ts; a write never goes through an existing file:
// it creates a new one beside it and renames it into place, so neither a link nor a hard link
// is written through.
import { randomBytes } from 'node:crypto';
import { open, readdir, lstat, rename, unlink } from 'node:fs/promises';
import { at, changed, code, invalid, notFound, O_CREAT, O_DIRECTORY, O_EXCL, O_NOFOLLOW, O_NONBLOCK, O_RDONLY, O_WRONLY, WorkspaceWalk, type Dir, type FileOwner } from './workspace-walk.js';

export { WorkspacePathError, type FileOwner } from './workspace-walk.js';

export interface ListEntry {
  name: string;
  type: 'file' | 'dir' | 'symlink' | 'other';
  size: number;
}

export class WorkspaceFiles {
  private constructor(
    private readonly paths: WorkspaceWalk,
    private readonly owner?: FileOwner,
  ) {}

  /** `owner`: who files and directories sandboxd creates belong to (the sandbox user, when sandboxd runs as root). */
  static async open(root: string, owner?: FileOwner): Promise<WorkspaceFiles> {
    return new WorkspaceFiles(await WorkspaceWalk.open(root, owner), owner);
  }

  /** The workspace's real path. */
  get root(): string {
    return this.paths.root;
  }

  async close(): Promise<void> {
    await this.paths.close();
  }

  async readFile(rel: string, offset: number, maxBytes: number): Promise<{ content: Buffer; size: number }> {
    const w = await this.paths.walk(rel, { followLast: true });
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
    const w = await this.paths.walk(rel, { followLast: true, createDirs: true });
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
    const w = await this.paths.walk(rel, { followLast: true });
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
    const w = await this.paths.walk(rel, { followLast: true });
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
}
