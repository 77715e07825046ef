// The bubblewrap command line: what is hidden, what is writable, when the network is shared,
// and who the command runs as on the host.
import { mkdirSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { bubblewrapArgv, SANDBOX_UID, unreachableAncestor, type Confinement } from '../../../activities/sandbox/sandboxd/bubblewrap.js';

const confinement = { bwrap: '/usr/bin/bwrap', network: false, writable: ['/state/sb/home'], hide: ['/state/sb', '/state'] };
const run = { argv: ['/bin/bash', '-c', 'make test'], cwd: '/state/sb/ws', env: { PATH: '/usr/bin', HOME: '/state/sb/home' }, writable: ['/state/sb/ws'] };
const runAs = { uid: 65534, gid: 65534, setpriv: '/usr/bin/setpriv' };
const indexOfPair = (argv: string[], flag: string, value: string) => argv.findIndex((a, i) => a === flag && argv[i + 1] === value);

describe('bubblewrapArgv', () => {
  const argv = bubblewrapArgv(confinement, run);

  it('mounts the host read-only, hides Errand state (outer first), then binds the workspace and home back writable', () => {
    expect(argv.slice(0, 4)).toEqual(['/usr/bin/bwrap', '--ro-bind', '/', '/']);
    const hide = indexOfPair(argv, '--tmpfs', '/state');
    expect(hide).toBeGreaterThan(indexOfPair(argv, '--tmpfs', '/tmp'));
    expect(indexOfPair(argv, '--tmpfs', '/state/sb')).toBeGreaterThan(hide);
    expect(argv.indexOf('/state/sb/ws')).toBeGreaterThan(indexOfPair(argv, '--tmpfs', '/state/sb'));
    expect(argv.slice(argv.indexOf('--bind'), argv.indexOf('--bind') + 6)).toEqual(['--bind', '/state/sb/ws', '/state/sb/ws', '--bind', '/state/sb/home', '/state/sb/home']);
    // the way to them through the hidden directories stays passable for the sandbox user
    expect(argv.slice(argv.indexOf('--bind') - 4, argv.indexOf('--bind'))).toEqual(['--perms', '0755', '--dir', '/state/sb']);
  });

  it('without root, runs the command in a user namespace, with a cleared environment and its own namespaces', () => {
    expect(argv).toEqual(expect.arrayContaining(['--unshare-all', '--cap-drop', 'ALL', '--die-with-parent', '--new-session', '--clearenv']));
    expect(argv[argv.indexOf('--uid') + 1]).toBe(String(SANDBOX_UID));
    expect(argv.indexOf('--clearenv')).toBeLessThan(indexOfPair(argv, '--setenv', 'PATH'));
    expect(argv.slice(-5)).toEqual(['/state/sb/ws', '--', '/bin/bash', '-c', 'make test']);
  });

  it('as root, builds the sandbox without a user namespace and drops to the unprivileged host user before the command', () => {
    const rooted = bubblewrapArgv({ ...confinement, runAs }, run);
    expect(rooted).not.toContain('--unshare-user');
    expect(rooted).not.toContain('--unshare-all'); // it would map the sandbox onto root
    expect(rooted).toEqual(expect.arrayContaining(['--unshare-pid', '--unshare-ipc', '--unshare-net', '--die-with-parent', '--clearenv']));
    expect(rooted.slice(rooted.indexOf('--') + 1)).toEqual([
      '/usr/bin/setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', '--', '/bin/bash', '-c', 'make test',
    ]);
  });

  it("never shares the host's network; a command allowed the network gets the egress proxy on its own loopback", () => {
    const egress = { socket: '/state/sb/egress.sock', relay: '/usr/bin/socat', controlPlane: [], allow: [], deny: [] };
    for (const c of [confinement, { ...confinement, runAs }, { ...confinement, network: true }] as Confinement[]) {
      const argv = bubblewrapArgv(c, { ...run, network: true });
      expect(argv).not.toContain('--share-net');
      expect(argv).toEqual(expect.arrayContaining([c.runAs ? '--unshare-net' : '--unshare-all']));
      expect(argv).not.toContain('HTTPS_PROXY'); // no proxy configured: no way out at all
    }
    const allowed = bubblewrapArgv({ ...confinement, egress }, { ...run, network: true });
    expect(allowed.slice(indexOfPair(allowed, '--bind', egress.socket), indexOfPair(allowed, '--bind', egress.socket) + 3)).toEqual(['--bind', egress.socket, egress.socket]);
    expect(allowed[allowed.indexOf('HTTPS_PROXY') + 1]).toBe('http://127.0.0.1:3128');
    const command = allowed.slice(allowed.indexOf('--') + 1);
    expect(command.slice(0, 2)).toEqual(['/bin/bash', '-c']);
    expect(command[2]).toContain(`/usr/bin/socat' TCP-LISTEN:3128,bind=127.0.0.1,fork,reuseaddr UNIX-CONNECT:'${egress.socket}'`);
    expect(command.slice(3)).toEqual(['errand-egress', '/bin/bash', '-c', 'make test']);
    const closed = bubblewrapArgv({ ...confinement, egress, network: true }, { ...run, network: false });
    expect(closed).not.toContain(egress.socket);
    expect(closed).not.toContain('HTTPS_PROXY');
  });
});

describe('unreachableAncestor', () => {
  it('finds the outermost directory others cannot pass through, so it is hidden whole', () => {
    const top = mkdtempSync(path.join(os.tmpdir(), 'errand-ancestor-')); // mode 0700
    mkdirSync(path.join(top, 'a/b'), { recursive: true });
    expect(unreachableAncestor(path.join(top, 'a/b'))).toBe(top);
    expect(unreachableAncestor('/usr/share')).toBeUndefined();
  });
});
