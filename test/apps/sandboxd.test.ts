// sandboxd with real processes and a real filesystem: commands, timeouts that kill the whole
// process group, the token, and every way a path might leave the workspace. sandboxd runs
// outside the confinement that wraps commands (as root here), so its own file operations are
// the boundary: links of every kind (dangling, chained, relative, absolute, through
// /proc/self/root), hard links, FIFOs, and a directory swapped for a link while calls run.
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SandboxdClient, SandboxdRequestError } from '../../activities/sandbox/sandboxd-client.js';
import { startSandboxd } from '../../activities/sandbox/sandboxd/server.js';
import { probeBubblewrap } from '../../apps/worker/confinement.js';
import { eventually, isRunning } from '../support/errand-process.js';
import { hostUid, PRINT_UID } from '../support/host-uid.js';
import { describeWithPart } from '../support/required-part.js';

let base: string;
let root: string;
let outside: string;
let sandboxd: Awaited<ReturnType<typeof startSandboxd>>;
let client: SandboxdClient;

beforeAll(async () => {
  base = mkdtempSync(path.join(os.tmpdir(), 'errand-sandboxd-'));
  root = path.join(base, 'workspace');
  outside = path.join(base, 'secret.txt');
  mkdirSync(root);
  writeFileSync(outside, 'host secret');
  symlinkSync(base, path.join(root, 'escape'));
  sandboxd = await startSandboxd({ root, token: 'sandbox-token', baseEnv: { PATH: process.env.PATH!, HOME: root } });
  client = new SandboxdClient('test', { url: `http://127.0.0.1:${sandboxd.port}`, token: 'sandbox-token' });
});

afterAll(async () => {
  await sandboxd.close();
});

const refusal = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e as SandboxdRequestError,
  );

describe('sandboxd', () => {
  it('runs a command in the workspace and reports its exit code and output', async () => {
    const r = await client.exec({ cmd: 'pwd; echo oops >&2; exit 3' });
    expect(r).toMatchObject({ exitCode: 3, timedOut: false, truncated: false });
    expect(r.stdout.trim()).toBe(root);
    expect(r.stderr.trim()).toBe('oops');
  });

  it('does not pass its own environment to commands', async () => {
    process.env.ERRAND_TEST_SECRET = 'should-not-leak';
    const r = await client.exec({ cmd: 'env' });
    expect(r.stdout).not.toContain('should-not-leak');
    expect(r.stdout).toContain(`HOME=${root}`);
  });

  it('keeps the head and tail of long output and says how much was cut', async () => {
    const r = await client.exec({ cmd: 'echo START; head -c 100000 /dev/zero | tr "\\0" x; echo; echo END', maxOutputBytes: 1000 });
    expect(r.truncated).toBe(true);
    expect(r.stdout.startsWith('START')).toBe(true);
    expect(r.stdout.trim().endsWith('END')).toBe(true);
    expect(r.stdout).toMatch(/\[\.\.\. \d+ bytes cut \.\.\.\]/);
  });

  it('kills a command past its timeout together with its children', async () => {
    const pidFile = path.join(root, 'child.pid');
    const r = await client.exec({ cmd: `sleep 300 & echo $! > ${pidFile}; wait`, timeoutMs: 500 });
    expect(r.timedOut).toBe(true);
    expect(r.exitCode).toBeNull();
    expect(r.stderr).toContain('killed after 500 ms timeout');
    const child = Number(readFileSync(pidFile, 'utf8'));
    // the background sleep is gone too, not left running after its shell
    await eventually(async () => (isRunning(child) ? undefined : true), 5_000, `pid ${child} to be killed`);
  });

  it('answers a search past its time with a 400 that says to narrow it (never a hang)', async () => {
    // Enough text that no search engine is through it in a millisecond.
    const big = path.join(root, 'big.txt');
    writeFileSync(big, 'a line of text without the pattern\n'.repeat(2_000_000));
    const slow = await refusal(client.search({ pattern: 'x{3}y', timeoutMs: 1 }));
    rmSync(big);
    expect(slow).toMatchObject({ status: 400, message: expect.stringContaining('search timed out after 0.001 s; narrow its path, glob or pattern') });
  });

  it('writes and reads files inside the workspace, binary ones too', async () => {
    await client.writeFile({ path: 'src/new.txt', content: 'hello' });
    expect((await client.readFile({ path: 'src/new.txt' })).content).toBe('hello');
    const bytes = Buffer.from([0, 1, 2, 255, 254]);
    await client.writeFile({ path: 'blob.bin', content: bytes.toString('base64'), encoding: 'base64' });
    expect(readFileSync(path.join(root, 'blob.bin'))).toEqual(bytes);
    const missing = await refusal(client.readFile({ path: 'nope.txt' }));
    expect(missing?.status).toBe(404);
  });

  it.each([['../secret.txt'], ['escape/secret.txt'], ['/etc/passwd'], ['escape/new-file.txt']])(
    'refuses %s, which leaves the workspace',
    async (p) => {
      const read = await refusal(client.readFile({ path: p }));
      expect(read?.code).toBe('path_outside_workspace');
      const write = await refusal(client.writeFile({ path: p, content: 'x' }));
      expect(write?.code).toBe('path_outside_workspace');
    },
  );

  it('refuses calls without the sandbox token', async () => {
    const stranger = new SandboxdClient('test', { url: `http://127.0.0.1:${sandboxd.port}`, token: 'wrong' });
    const e = await refusal(stranger.exec({ cmd: 'true' }));
    expect(e?.status).toBe(401);
    expect(readFileSync(outside, 'utf8')).toBe('host secret');
  });
});

describe('sandboxd never reaches outside the workspace through a link', () => {
  // Each link is made in the workspace as a repository or the agent would; `target` is the
  // host path it points at, which must still not exist (or be unchanged) afterwards.
  const links: [string, (b: string) => string, string][] = [
    ['a dangling link to a file', (b) => `${b}/planted-dangling.txt`, 'dangling'],
    ['a dangling link to a directory', (b) => `${b}/planted-dir`, 'dangling-dir/file.txt'],
    ['a chain of links', () => 'hop2', 'hop1'],
    ['a relative link up and out', () => '../planted-up.txt', 'up'],
    ['a link through /proc/self/root', (b) => `/proc/self/root${b}/planted-proc.txt`, 'via-proc'],
    ['a link through /proc/self/cwd', () => '/proc/self/cwd/../planted-cwd.txt', 'via-cwd'],
  ];

  beforeAll(() => {
    for (const [, target, p] of links) symlinkSync(target(base), path.join(root, p.split('/')[0]!));
    symlinkSync(`${base}/planted-chain.txt`, path.join(root, 'hop2'));
  });

  it.each(links)('writes nothing through %s', async (_what, _target, p) => {
    const write = await refusal(client.writeFile({ path: p, content: 'planted' }));
    expect(write?.code).toBe('path_outside_workspace');
    const read = await refusal(client.readFile({ path: p }));
    expect(read?.code).toBe('path_outside_workspace');
    expect(readdirSync(base).filter((f) => f.startsWith('planted'))).toEqual([]);
    // Nor does anything else that takes a path: a listing, a search, a working directory.
    expect((await refusal(client.list({ path: p })))?.code).toBe('path_outside_workspace');
    expect((await refusal(client.search({ pattern: 'x', path: p })))?.code).toBe('path_outside_workspace');
    expect((await refusal(client.exec({ cmd: 'touch planted-by-cwd', cwd: p })))?.code).toBe('path_outside_workspace');
  });

  it('writes a hard-linked file without touching the file it shares with outside', async () => {
    const shared = path.join(base, 'hard-linked.txt');
    writeFileSync(shared, 'outside content');
    linkSync(shared, path.join(root, 'hard.txt'));
    await client.writeFile({ path: 'hard.txt', content: 'workspace content' });
    expect(readFileSync(shared, 'utf8')).toBe('outside content');
    expect(readFileSync(path.join(root, 'hard.txt'), 'utf8')).toBe('workspace content');
  });

  it('refuses to read a FIFO at once instead of hanging', async () => {
    execFileSync('mkfifo', [path.join(root, 'pipe')]);
    const read = await refusal(client.readFile({ path: 'pipe' }));
    expect(read).toMatchObject({ status: 400, message: 'pipe: not a file' });
  });

  it('follows links that stay inside the workspace, and writes the file they point at', async () => {
    mkdirSync(path.join(root, 'lib'));
    writeFileSync(path.join(root, 'lib/real.txt'), 'real');
    symlinkSync('lib/real.txt', path.join(root, 'alias'));
    symlinkSync(path.join(root, 'lib'), path.join(root, 'abs-lib'));
    expect((await client.readFile({ path: 'alias' })).content).toBe('real');
    expect((await client.readFile({ path: 'abs-lib/../lib/./real.txt' })).content).toBe('real');
    await client.writeFile({ path: 'alias', content: 'rewritten' });
    expect(readFileSync(path.join(root, 'lib/real.txt'), 'utf8')).toBe('rewritten');
    expect((await client.list({ path: 'abs-lib' })).entries.map((e) => e.name)).toEqual(['real.txt']);
    expect((await client.exec({ cmd: 'pwd', cwd: 'abs-lib' })).stdout.trim()).toBe(path.join(root, 'lib'));
  });

  it('keeps the mode of a file it rewrites', async () => {
    writeFileSync(path.join(root, 'run.sh'), 'echo old\n');
    chmodSync(path.join(root, 'run.sh'), 0o755);
    await client.writeFile({ path: 'run.sh', content: 'echo new\n' });
    expect(statSync(path.join(root, 'run.sh')).mode & 0o777).toBe(0o755);
  });

  it('writes nothing outside while a directory is swapped for a link to outside, again and again', async () => {
    const target = path.join(base, 'race-target');
    mkdirSync(target);
    writeFileSync(path.join(target, 'secret.txt'), 'host secret');
    // The agent's side of the race: `race` is a directory one moment and a link out the next.
    const swapper = spawn(
      'perl',
      ['-MFile::Path=rmtree', '-e', 'while (1) { mkdir "race"; rmtree("junk"); rename "race", "junk"; symlink $ARGV[0], "race"; unlink "race"; }', target],
      { cwd: root, stdio: 'ignore' },
    );
    try {
      const leaked: string[] = [];
      let written = 0;
      for (let i = 0; i < 300; i++) {
        if (await client.writeFile({ path: `race/f-${i}.txt`, content: 'planted' }).catch(() => undefined)) written++;
        const read = await client.readFile({ path: 'race/secret.txt' }).catch(() => undefined);
        if (read) leaked.push(read.content);
      }
      expect(leaked).toEqual([]);
      expect(readdirSync(target)).toEqual(['secret.txt']);
      expect(written).toBeGreaterThan(0); // the race was live: writes landed while `race` was a directory
    } finally {
      swapper.kill('SIGKILL');
    }
  });
});

const bubblewrap = await probeBubblewrap();

describeWithPart(
  { name: 'bubblewrap', missing: 'reason' in bubblewrap ? bubblewrap.reason : undefined, install: 'run `npm run setup` as root, or apt-get install bubblewrap' },
  'a confined sandboxd',
  () => {
    let confined: Awaited<ReturnType<typeof startSandboxd>>;
    let c: SandboxdClient;
    let ws: string;

    beforeAll(async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'errand-confined-'));
      ws = path.join(dir, 'workspace');
      mkdirSync(ws);
      const runAs = 'bwrap' in bubblewrap ? bubblewrap.runAs : undefined;
      if (runAs) execFileSync('chown', [`${runAs.uid}:${runAs.gid}`, ws]);
      confined = await startSandboxd({
        root: ws,
        token: 't',
        baseEnv: { PATH: '/usr/bin:/bin', HOME: ws },
        confine: { bwrap: 'bwrap' in bubblewrap ? bubblewrap.bwrap : 'bwrap', network: false, writable: [], hide: [dir], runAs },
      });
      c = new SandboxdClient('confined', { url: `http://127.0.0.1:${confined.port}`, token: 't' });
    });

    afterAll(async () => {
      await confined?.close();
    });

    it('runs commands as an unprivileged user of the host, who cannot read what only root may', async () => {
      const r = await c.exec({ cmd: PRINT_UID });
      expect(hostUid(r.stdout)).not.toBe(0);
      const shadow = await c.exec({ cmd: 'cat /etc/shadow; ls /root' });
      expect(shadow.stdout).toBe('');
      expect(shadow.stderr).toMatch(/Permission denied/);
      expect(shadow.stderr).not.toMatch(/root:/);
    });

    it('leaves what commands and file writes create owned by that user, not root', async () => {
      await c.exec({ cmd: 'mkdir -p made && echo x > made/by-command.txt' });
      await c.writeFile({ path: 'made/deeper/by-sandboxd.txt', content: 'y\n' });
      const owners = ['made/by-command.txt', 'made/deeper', 'made/deeper/by-sandboxd.txt'].map((f) => statSync(path.join(ws, f)).uid);
      expect(owners.every((uid) => uid === owners[0] && uid === statSync(ws).uid)).toBe(true);
      // and the command can go on changing what sandboxd wrote
      expect((await c.exec({ cmd: 'echo more >> made/deeper/by-sandboxd.txt && cat made/deeper/by-sandboxd.txt' })).stdout).toBe('y\nmore\n');
    });
  },
);

describe('a sandboxd that is stopped', () => {
  it('cuts off a command in flight instead of answering that it exited', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'errand-stopping-'));
    const stopping = await startSandboxd({ root: dir, token: 't', baseEnv: { PATH: process.env.PATH!, HOME: dir } });
    const c = new SandboxdClient('stopping', { url: `http://127.0.0.1:${stopping.port}`, token: 't' });
    const running = c.exec({ cmd: 'sleep 30' }).then(
      (r) => ({ answered: r }),
      (e: Error & { type?: string }) => ({ failed: e.type }),
    );
    await new Promise((r) => setTimeout(r, 300));
    await stopping.close();
    expect(await running).toEqual({ failed: 'SandboxGone' });
  });
});
