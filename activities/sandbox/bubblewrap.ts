// Confinement of every command sandboxd runs, with bubblewrap: the host read-only, only the
// workspace (and the sandbox's own home) writable, a private /tmp, Errand's state hidden, no
// network unless the policy allows it, a cleared environment, no capabilities, an unprivileged
// uid, and a pid namespace, so a command killed on timeout takes every descendant with it.
// Pure: it builds the argv; sandboxd spawns it, and the local provider probes it at start-up.
import { z } from 'zod';

export const Confinement = z.strictObject({
  /** Path of the bwrap binary. */
  bwrap: z.string().min(1),
  /** The sandbox's default; a single command may override it (Errand's own git steps do). */
  network: z.boolean(),
  /** Writable besides the workspace, e.g. the sandbox's HOME. */
  writable: z.array(z.string()).default([]),
  /** Hidden behind an empty tmpfs (other sandboxes, artifacts, Errand's database). */
  hide: z.array(z.string()).default([]),
});
export type Confinement = z.output<typeof Confinement>;

/** The uid and gid commands run as inside the sandbox (mapped to sandboxd's own outside). */
export const SANDBOX_UID = 1000;

export interface ConfinedRun {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  /** Writable paths: the workspace. */
  writable: string[];
  /** Paths this command may read even where they are hidden (a local origin under /tmp, say). */
  readable?: string[];
  network?: boolean;
}

export function bubblewrapArgv(c: Confinement, run: ConfinedRun): string[] {
  const args = [c.bwrap, '--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp'];
  for (const hidden of c.hide) args.push('--tmpfs', hidden);
  for (const dir of run.readable ?? []) args.push('--ro-bind', dir, dir);
  for (const dir of [...run.writable, ...c.writable]) args.push('--bind', dir, dir);
  args.push('--unshare-all');
  if (run.network ?? c.network) args.push('--share-net');
  args.push('--unshare-user', '--uid', String(SANDBOX_UID), '--gid', String(SANDBOX_UID));
  args.push('--cap-drop', 'ALL', '--die-with-parent', '--new-session', '--clearenv');
  for (const [key, value] of Object.entries(run.env)) args.push('--setenv', key, value);
  args.push('--chdir', run.cwd, '--', ...run.argv);
  return args;
}
