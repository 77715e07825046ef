// sandboxd with real processes and a real filesystem: commands, timeouts that kill the whole
// process group, the token, and paths that try to leave the workspace.
import { mkdtempSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SandboxdClient, SandboxdRequestError } from '../../activities/sandbox/sandboxd-client.js';
import { startSandboxd } from '../../apps/sandboxd/server.js';
import { eventually, isRunning } from '../support/errand-process.js';

let root: string;
let outside: string;
let sandboxd: Awaited<ReturnType<typeof startSandboxd>>;
let client: SandboxdClient;

beforeAll(async () => {
  const base = mkdtempSync(path.join(os.tmpdir(), 'errand-sandboxd-'));
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

  it('writes and reads files inside the workspace', async () => {
    await client.writeFile({ path: 'src/new.txt', content: 'hello' });
    expect((await client.readFile({ path: 'src/new.txt' })).content).toBe('hello');
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
