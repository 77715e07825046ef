// The bubblewrap command line: what is hidden, what is writable, and when the network is shared.
import { describe, expect, it } from '@jest/globals';
import { bubblewrapArgv, SANDBOX_UID } from '../../../activities/sandbox/bubblewrap.js';

const confinement = { bwrap: '/usr/bin/bwrap', network: false, writable: ['/state/sb/home'], hide: ['/state'] };
const run = { argv: ['/bin/bash', '-c', 'make test'], cwd: '/state/sb/ws', env: { PATH: '/usr/bin', HOME: '/state/sb/home' }, writable: ['/state/sb/ws'] };
const indexOfPair = (argv: string[], flag: string, value: string) => argv.findIndex((a, i) => a === flag && argv[i + 1] === value);

describe('bubblewrapArgv', () => {
  const argv = bubblewrapArgv(confinement, run);

  it('mounts the host read-only, hides Errand state, then binds the workspace and home back writable', () => {
    expect(argv.slice(0, 4)).toEqual(['/usr/bin/bwrap', '--ro-bind', '/', '/']);
    const hide = indexOfPair(argv, '--tmpfs', '/state');
    expect(hide).toBeGreaterThan(indexOfPair(argv, '--tmpfs', '/tmp'));
    expect(argv.indexOf('/state/sb/ws')).toBeGreaterThan(hide);
    expect(argv.slice(argv.indexOf('--bind'), argv.indexOf('--bind') + 6)).toEqual(['--bind', '/state/sb/ws', '/state/sb/ws', '--bind', '/state/sb/home', '/state/sb/home']);
  });

  it('runs the command unprivileged, with a cleared environment, and its own namespaces', () => {
    expect(argv).toEqual(expect.arrayContaining(['--unshare-all', '--cap-drop', 'ALL', '--die-with-parent', '--new-session', '--clearenv']));
    expect(argv[argv.indexOf('--uid') + 1]).toBe(String(SANDBOX_UID));
    expect(argv.indexOf('--clearenv')).toBeLessThan(indexOfPair(argv, '--setenv', 'PATH'));
    expect(argv.slice(-5)).toEqual(['/state/sb/ws', '--', '/bin/bash', '-c', 'make test']);
  });

  it('shares the network only when the policy or the command allows it', () => {
    expect(argv).not.toContain('--share-net');
    expect(bubblewrapArgv({ ...confinement, network: true }, run)).toContain('--share-net');
    expect(bubblewrapArgv(confinement, { ...run, network: true })).toContain('--share-net');
    expect(bubblewrapArgv({ ...confinement, network: true }, { ...run, network: false })).not.toContain('--share-net');
  });
});
