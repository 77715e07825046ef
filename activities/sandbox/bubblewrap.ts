// Confinement of every command sandboxd runs, with bubblewrap: the host read-only, only the
// workspace (and the sandbox's own home) writable, a private /tmp, Errand's state hidden, no
// network of the host's (only loopback of its own, and the egress proxy when the policy allows
// the network), a cleared environment, no capabilities, and a pid namespace, so a command killed
// on timeout takes every descendant with it.
// The user a command runs as is never root on the host. When sandboxd runs as root (as in CI
// and most containers), bubblewrap builds the sandbox with root's privileges and setpriv then
// drops to an unprivileged host uid (`runAs`) before the command starts, so /etc/shadow, /root
// and every file only root may read stay closed. Otherwise a user namespace maps the sandbox
// user onto sandboxd's own, already unprivileged, uid.
// Pure: it builds the argv; sandboxd spawns it, and the worker probes it at start-up.
import { statSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

export const RunAs = z.strictObject({
  uid: z.number().int().positive(),
  gid: z.number().int().positive(),
  /** Path of util-linux's setpriv, which drops to uid:gid inside the sandbox. */
  setpriv: z.string().min(1),
});
export type RunAs = z.output<typeof RunAs>;

export const Confinement = z.strictObject({
  /** Path of the bwrap binary. */
  bwrap: z.string().min(1),
  /** The sandbox's default; a single command may override it (the setup script's may). */
  network: z.boolean(),
  /** Writable besides the workspace, e.g. the sandbox's HOME. */
  writable: z.array(z.string()).default([]),
  /** Hidden behind an empty tmpfs (other sandboxes, artifacts, Errand's database). */
  hide: z.array(z.string()).default([]),
  /** Set when sandboxd runs as root: the host user commands run as. */
  runAs: RunAs.optional(),
});
export type Confinement = z.output<typeof Confinement>;

/** The uid and gid commands run as inside a user namespace (mapped to sandboxd's own outside). */
export const SANDBOX_UID = 1000;

export interface ConfinedRun {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  /** Writable paths: the workspace. */
  writable: string[];
  network?: boolean;
  /** Bound read-write at the same path, e.g. the egress proxy's socket. */
  sockets?: string[];
}

export function bubblewrapArgv(c: Confinement, run: ConfinedRun): string[] {
  const args = [c.bwrap, '--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--perms', '1777', '--tmpfs', '/tmp'];
  // Outer before inner, so a hidden directory inside another hidden one is still hidden.
  const hidden = [...c.hide].sort((a, b) => a.length - b.length);
  for (const dir of hidden) args.push('--tmpfs', dir);
  const binds = [...run.writable, ...c.writable, ...(run.sockets ?? [])];
  // The directories leading to a bind inside a hidden one are made by bubblewrap; made
  // reachable (0755), or the sandbox user could not get to its own workspace.
  for (const dir of [...new Set(binds.flatMap((b) => pathBetween(hidden, b)))]) args.push('--perms', '0755', '--dir', dir);
  for (const dir of binds) args.push('--bind', dir, dir);
  const network = run.network ?? c.network;
  if (c.runAs) {
    // No user namespace: bubblewrap acts as root while it builds the sandbox, then setpriv
    // leaves root behind for good (no capabilities, no supplementary groups, no_new_privs).
    args.push('--unshare-ipc', '--unshare-pid', '--unshare-uts', '--unshare-cgroup-try');
    if (!network) args.push('--unshare-net');
  } else {
    args.push('--unshare-all');
    if (network) args.push('--share-net');
    args.push('--unshare-user', '--uid', String(SANDBOX_UID), '--gid', String(SANDBOX_UID), '--cap-drop', 'ALL');
  }
  args.push('--die-with-parent', '--new-session', '--clearenv');
  for (const [key, value] of Object.entries(run.env)) args.push('--setenv', key, value);
  args.push('--chdir', run.cwd, '--');
  if (c.runAs) {
    const { setpriv, uid, gid } = c.runAs;
    args.push(setpriv, `--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', '--');
  }
  args.push(...run.argv);
  return args;
}

/** The directories strictly between the outermost hidden directory holding `target` and `target`. */
function pathBetween(hidden: string[], target: string): string[] {
  const top = hidden.find((h) => target.startsWith(`${h}/`));
  if (!top) return [];
  const parts = target.slice(top.length + 1).split('/').slice(0, -1);
  return parts.map((_, i) => `${top}/${parts.slice(0, i + 1).join('/')}`);
}

/**
 * The outermost directory on the way to `dir` that `uid` cannot pass through (a 0700 home,
 * a private temp directory), or undefined. The sandbox user could never read below it, so it
 * is hidden whole; the workspace and home are then bound back in beneath it, reachable.
 */
export function unreachableAncestor(dir: string): string | undefined {
  const parts = path.resolve(dir).split('/').filter(Boolean);
  for (let i = 1; i <= parts.length; i++) {
    const p = `/${parts.slice(0, i).join('/')}`;
    const mode = statSync(p, { throwIfNoEntry: false })?.mode;
    if (mode !== undefined && (mode & 0o001) === 0) return p;
  }
  return undefined;
}
