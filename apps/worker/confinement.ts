// Decides, once at start-up, whether the local sandbox confines its commands with bubblewrap:
// `auto` uses it when it works here and otherwise warns once, saying what is given up;
// `bubblewrap` refuses to start without it; `none` runs commands unconfined on purpose. And
// whether each sandbox runs in a CPU cgroup of its own.
import { execFile } from 'node:child_process';
import os from 'node:os';
import { promisify } from 'node:util';
import { bubblewrapArgv, type RunAs } from '../../activities/sandbox/sandboxd/bubblewrap.js';
import { endpointRule, type EgressPolicy, type EgressRule } from '../../activities/sandbox/sandboxd/egress.js';
import type { Config } from '../config.js';
import { findExecutable } from '../../activities/sandbox/sandboxd/find-executable.js';
import { SandboxCpuGroups } from '../../activities/sandbox/cpu-group.js';
import type { Logger } from '../logger.js';

const run = promisify(execFile);

export const UNCONFINED_CONSEQUENCES =
  'sandbox commands run as the worker user: they can read and write whatever it can outside the workspace, ' +
  "reach the network whatever the task's network policy says, and see the host's /tmp";
const INSTALL_HINT = 'install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap; `npm run setup` does it when run as root)';

export interface Confining {
  bwrap: string;
  /** Set when Errand runs as root: the unprivileged host user commands run as. */
  runAs?: RunAs;
  /** The way out for commands allowed the network; unset (socat missing), they have none. */
  egress?: Omit<EgressPolicy, 'socket'> & { relay: string };
}

/**
 * Why bubblewrap cannot confine commands here, or how it does: as root, it builds the sandbox
 * and util-linux's setpriv drops every command to `user`, which the probe checks it really is;
 * otherwise through a user namespace.
 */
export async function probeBubblewrap(user: { uid: number; gid: number } = { uid: 65534, gid: 65534 }): Promise<Confining | { reason: string }> {
  const bwrap = findExecutable('bwrap');
  if (!bwrap) return { reason: 'bwrap is not on PATH' };
  let runAs: RunAs | undefined;
  if (process.getuid?.() === 0) {
    const setpriv = findExecutable('setpriv');
    if (!setpriv) return { reason: 'setpriv is not on PATH (Debian/Ubuntu: apt-get install util-linux), and without it commands would run as root' };
    runAs = { ...user, setpriv };
  }
  const argv = bubblewrapArgv({ bwrap, network: false, writable: [], hide: [], runAs }, { argv: ['/bin/sh', '-c', 'id -u'], cwd: '/', env: { PATH: '/usr/bin:/bin' }, writable: [] });
  try {
    const { stdout } = await run(argv[0]!, argv.slice(1), { timeout: 10_000 });
    if (runAs && stdout.trim() !== String(runAs.uid)) return { reason: `a confined command ran as uid ${stdout.trim()}, not ${runAs.uid}` };
    return { bwrap, ...(runAs && { runAs }) };
  } catch (err) {
    const stderr = ((err as { stderr?: string }).stderr ?? (err as Error).message).trim();
    return { reason: `${bwrap} cannot create a sandbox here (${stderr || 'no message'}); unprivileged user namespaces may be disabled` };
  }
}

export async function chooseConfinement(config: Config, log: Logger): Promise<Confining | undefined> {
  const mode = config.sandbox.confinement;
  if (mode === 'none') {
    log.warn({ consequences: UNCONFINED_CONSEQUENCES }, 'ERRAND_SANDBOX_CONFINEMENT=none: sandbox commands are not confined');
    return undefined;
  }
  const probe = await probeBubblewrap(config.sandbox.user);
  if ('bwrap' in probe) {
    const relay = findExecutable('socat');
    if (!relay) {
      log.warn({ fix: 'install socat (Debian/Ubuntu: apt-get install socat; `npm run setup` does it when run as root)' }, "socat is not installed, so sandbox commands get no network even where a task's policy allows it");
    }
    const egress = relay ? { relay, controlPlane: controlPlane(config), ...config.sandbox.egress } : undefined;
    log.info({ bwrap: probe.bwrap, hostUid: probe.runAs?.uid ?? process.getuid?.(), egress: egress && { allow: egress.allow, deny: egress.deny } }, 'sandbox commands are confined with bubblewrap');
    return { ...probe, ...(egress && { egress }) };
  }
  if (mode === 'bubblewrap') {
    throw new Error(`ERRAND_SANDBOX_CONFINEMENT=bubblewrap, but ${probe.reason}; ${INSTALL_HINT}`);
  }
  log.warn({ reason: probe.reason, consequences: UNCONFINED_CONSEQUENCES, fix: INSTALL_HINT }, `bubblewrap is not available, so ${UNCONFINED_CONSEQUENCES}`);
  return undefined;
}

/** The sandboxes' CPU cgroups (cpu-group.ts), or one warning that says what running without them costs. */
export async function chooseCpuGroups(log: Logger): Promise<SandboxCpuGroups | undefined> {
  const groups = await SandboxCpuGroups.create();
  if (groups instanceof SandboxCpuGroups) {
    await groups.prune();
    log.info({ cpuGroup: groups.dir }, 'each sandbox runs in a CPU cgroup of its own');
    return groups;
  }
  log.warn(
    { reason: groups.reason, fix: 'run the worker as root, or delegate a cgroup with the cpu controller to it' },
    'sandboxes have no CPU cgroups: on a busy machine a sandbox that starts many sessions takes CPU from the worker and the other sandboxes',
  );
  return undefined;
}

/**
 * Errand's own endpoints, which no sandbox may reach even where the operator allows their
 * host: Temporal (and its UI), the model endpoints, and the API (when its port is known now).
 */
export function controlPlane(config: Config): EgressRule[] {
  // An API listening on every interface is reachable at each of this host's addresses.
  const apiHosts = ['0.0.0.0', '::'].includes(config.api.host) ? hostAddresses() : [config.api.host];
  const endpoints = [
    config.temporal.address,
    config.temporal.uiUrl,
    config.model?.baseUrl,
    config.reviewer?.baseUrl,
    config.api.publicUrl,
    ...(config.api.port ? apiHosts.map((h) => (h.includes(':') ? `[${h}]:${config.api.port}` : `${h}:${config.api.port}`)) : []),
  ];
  return endpoints.flatMap((e) => {
    const rule = e ? endpointRule(e) : undefined;
    return rule ? [rule] : [];
  });
}

function hostAddresses(): string[] {
  return Object.values(os.networkInterfaces())
    .flat()
    .flatMap((a) => (a ? [a.address] : []));
}
