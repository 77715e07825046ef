// Commands run through the small helper process (a fork of a large worker stalls it): the same
// answers as Node's execFile, a helper that died is replaced, and one whose parent died goes too.
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from '@jest/globals';
import { execFile, spawnDetached, type ExecFileError } from '../../../lib/process/exec-file.js';
import { PROJECT_ROOT } from '../../support/errand-process.js';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
/** The helper's pid: the parent of a command it runs. */
const helperPid = async () => Number((await execFile('sh', ['-c', 'echo $PPID'])).stdout.trim());

describe('execFile through the helper', () => {
  it("answers as Node's execFile: output, or the exit code and stderr of a failure", async () => {
    expect(await execFile('sh', ['-c', 'echo out; echo err >&2'])).toEqual({ stdout: 'out\n', stderr: 'err\n' });
    const failed = (await execFile('sh', ['-c', 'echo why >&2; exit 3']).catch((e: unknown) => e)) as ExecFileError;
    expect(failed).toBeInstanceOf(Error);
    expect(failed).toMatchObject({ code: 3, stderr: 'why\n' });
    expect(await execFile('sh', ['-c', 'echo "$ONLY"'], { env: { ONLY: 'this', PATH: process.env.PATH } })).toMatchObject({ stdout: 'this\n' });
    await expect(execFile('sleep', ['5'], { timeout: 100 })).rejects.toMatchObject({ killed: true, signal: 'SIGTERM' });
  });

  it('refuses an argument with a NUL byte (task input) without taking down the helper and what it runs for others', async () => {
    const pid = await helperPid();
    const others = execFile('sh', ['-c', 'sleep 0.5; echo still here']);
    await expect(execFile('git', ['ls-remote', '--', '/tmp/repo\0--upload-pack=touch /tmp/pwned'])).rejects.toThrow(/null bytes/);
    await expect(spawnDetached('sh\0x', [], { cwd: '/', env: {}, logFile: '/dev/null' })).rejects.toThrow(/null bytes/);
    expect(await others).toMatchObject({ stdout: 'still here\n' });
    expect(await helperPid()).toBe(pid);
  });

  it('fails what a killed helper was running, and starts another for the next command', async () => {
    const pid = await helperPid();
    const running = execFile('sleep', ['30']);
    process.kill(pid, 'SIGKILL');
    await expect(running).rejects.toThrow(/exited; try again/);
    expect(await execFile('echo', ['again'])).toMatchObject({ stdout: 'again\n' });
    expect(await helperPid()).not.toBe(pid);
  });

  it('goes away when the process it serves is killed', async () => {
    const script = "import { execFile } from './lib/process/exec-file.ts'; console.log((await execFile('sh', ['-c', 'echo $PPID'])).stdout.trim()); setInterval(() => {}, 1000);";
    const parent = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    const pid = await new Promise<number>((resolve) => parent.stdout!.once('data', (b: Buffer) => resolve(Number(b.toString().trim()))));
    expect(alive(pid)).toBe(true);
    parent.kill('SIGKILL');
    for (let i = 0; i < 100 && alive(pid); i++) await sleep(50);
    expect(alive(pid)).toBe(false);
  });
});
