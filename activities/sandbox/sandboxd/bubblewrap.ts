// Confinement of every command sandboxd runs, with bubblewrap: the host read-only, only the
// workspace (and the sandbox's own home) writable, a private /tmp, Errand's state hidden, no
// network of the host's (a loopback of its own, and the egress proxy when the policy allows the
// network, see egress.ts), a cleared environment, no capabilities, and a pid namespace, so a
// command killed on timeout takes every descendant with it.
// The user a command runs as is never root on the host. When sandboxd runs as root (as in CI
// and most containers), bubblewrap builds the sandbox with root's privileges and setpriv then
// drops to an unprivileged host uid (`runAs`) before the command starts, so /etc/shadow, /root
// and every file only root may read stay closed. Otherwise a user namespace maps the sandbox
// user onto sandboxd's own, already unprivileged, uid.
// Pure: it builds the argv; sandboxd spawns it, and the worker probes it at start-up.
import { statSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { EGRESS_PROXY_PORT, EgressPolicy } from './egress.js';
import { shellQuote } from './shell-quote.js';

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
  /**
   * The way out for commands allowed the network: sandboxd's egress proxy and the relay
   * (socat) that serves it on the sandbox's own loopback. Without it they get no network.
   */
  egress: EgressPolicy.extend({ relay: z.string().min(1) }).optional(),
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
}

export function bubblewrapArgv(c: Confinement, run: ConfinedRun): string[] {
  const args = [c.bwrap, '--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--perms', '1777', '--tmpfs', '/tmp'];
  // Outer before inner, so a hidden directory inside another hidden one is still hidden.
  const hidden = [...c.hide].sort((a, b) => a.length - b.length);
  for (const dir of hidden) args.push('--tmpfs', dir);
  const network = Boolean((run.network ?? c.network) && c.egress);
  const binds = [...run.writable, ...c.writable, ...(network ? [c.egress!.socket] : [])];
  // The directories leading to a bind inside a hidden one are made by bubblewrap; made
  // reachable (0755), or the sandbox user could not get to its own workspace.
  for (const dir of [...new Set(binds.flatMap((b) => pathBetween(hidden, b)))]) args.push('--perms', '0755', '--dir', dir);
  for (const dir of binds) args.push('--bind', dir, dir);
  // Every command has a network namespace of its own, with only loopback: never the host's
  // interfaces or the host's loopback, where Errand's API and Temporal listen.
  if (c.runAs) {
    // No user namespace: bubblewrap acts as root while it builds the sandbox, then setpriv
    // leaves root behind for good (no capabilities, no supplementary groups, no_new_privs).
    args.push('--unshare-ipc', '--unshare-pid', '--unshare-uts', '--unshare-cgroup-try', '--unshare-net');
  } else {
    args.push('--unshare-all', '--unshare-user', '--uid', String(SANDBOX_UID), '--gid', String(SANDBOX_UID), '--cap-drop', 'ALL');
  }
  args.push('--die-with-parent', '--new-session', '--clearenv');
  const env = network ? { ...run.env, ...PROXY_ENV } : run.env;
  for (const [key, value] of Object.entries(env)) args.push('--setenv', key, value);
  args.push('--chdir', run.cwd, '--');
  if (c.runAs) {
    const { setpriv, uid, gid } = c.runAs;
    args.push(setpriv, `--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', '--');
  }
  if (network) args.push('/bin/bash', '-c', relayScript(c.egress!.relay, c.egress!.socket), 'errand-egress');
  args.push(...run.argv);
  return args;
}

const PROXY_URL = `http://127.0.0.1:${EGRESS_PROXY_PORT}`;
/** What package managers, git, curl, pip and Node (24+) read to use the proxy. */
const PROXY_ENV = {
  HTTP_PROXY: PROXY_URL,
  HTTPS_PROXY: PROXY_URL,
  http_proxy: PROXY_URL,
  https_proxy: PROXY_URL,
  NO_PROXY: 'localhost,127.0.0.1,::1',
  no_proxy: 'localhost,127.0.0.1,::1',
  NODE_USE_ENV_PROXY: '1',
};

/**
 * Serves the egress proxy on the command's own loopback (a relay to its socket), waits until it
 * answers, then runs the command; the relay dies with the sandbox's pid namespace.
 */
function relayScript(relay: string, socket: string): string {
  return [
    `${shellQuote(relay)} TCP-LISTEN:${EGRESS_PROXY_PORT},bind=127.0.0.1,fork,reuseaddr UNIX-CONNECT:${shellQuote(socket)} </dev/null >/dev/null 2>&1 &`,
    `for _ in $(seq 500); do (exec 3<>/dev/tcp/127.0.0.1/${EGRESS_PROXY_PORT}) 2>/dev/null && break; sleep 0.01; done`,
    'exec "$@"',
  ].join('\n');
}

/** The directories strictly between the outermost hidden directory holding `target` and `target`. */
export function pathBetween(hidden: string[], target: string): string[] {
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
