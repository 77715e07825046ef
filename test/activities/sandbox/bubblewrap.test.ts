// The bubblewrap command line: what is hidden, what is writable, when the network is shared,
// and who the command runs as on the host.
import { mkdirSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { bubblewrapArgv, SANDBOX_UID, unreachableAncestor } from '../../../activities/sandbox/bubblewrap.js';

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

  it('shares the network only when the policy or the command allows it', () => {
    expect(argv).not.toContain('--share-net');
    expect(bubblewrapArgv({ ...confinement, network: true }, run)).toContain('--share-net');
    expect(bubblewrapArgv(confinement, { ...run, network: true })).toContain('--share-net');
    expect(bubblewrapArgv({ ...confinement, network: true }, { ...run, network: false })).not.toContain('--share-net');
    expect(bubblewrapArgv({ ...confinement, runAs }, run)).toContain('--unshare-net');
    expect(bubblewrapArgv({ ...confinement, runAs }, { ...run, network: true })).not.toContain('--unshare-net');
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
