// Git in and out of a sandbox with a forge credential: the worker fetches and pushes with it,
// and the sandbox gets bundles only. Every request that reaches sandboxd is recorded on the
// way (real HTTP, a real sandboxd, real git), and none may carry the credential.
import { mkdirSync, mkdtempSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { pushFromSandbox } from '../../../activities/git/transfer.js';
import { findSecrets } from '../../../activities/review/checks.js';
import { Redactor } from '../../../activities/store/redactor.js';
import { FailureType } from '../../../workflows/failures.js';
import { commitWorkInProgress, prepareWorkspace, restoreWork, squashForPublishing } from '../../../activities/git/workspace.js';
import { SandboxdClient } from '../../../activities/sandbox/sandboxd-client.js';
import { startSandboxd } from '../../../activities/sandbox/sandboxd/server.js';
import { BUGGY_SUM, git, makeOriginRepo } from '../../fixtures/repos.js';

const TOKEN = 'ghp_forgeTokenThatMustStayInTheWorker0123';
const HEADER = Buffer.from(`x-access-token:${TOKEN}`).toString('base64');
// What the GitHub forge hands the worker's git: the credential, in the environment of one command.
const credentialEnv = { GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'http.extraHeader', GIT_CONFIG_VALUE_0: `AUTHORIZATION: basic ${HEADER}` };

let sandboxd: Awaited<ReturnType<typeof startSandboxd>>;
let relay: http.Server;
let workspace: string;
const traffic: string[] = [];
let sandbox: SandboxdClient;

beforeAll(async () => {
  workspace = path.join(mkdtempSync(path.join(os.tmpdir(), 'errand-transfer-')), 'workspace');
  mkdirSync(workspace);
  sandboxd = await startSandboxd({ root: workspace, token: 'sandbox-token', baseEnv: { PATH: process.env.PATH!, HOME: workspace } });
  // Between the worker and sandboxd: records every request as it goes by.
  relay = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      traffic.push(`${req.method} ${req.url} ${JSON.stringify(req.headers)} ${body.toString('utf8')}`);
      const out = http.request({ port: sandboxd.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode!, answer.headers);
        answer.pipe(res);
      });
      out.end(body);
    });
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  sandbox = new SandboxdClient('transfer', { url: `http://127.0.0.1:${(relay.address() as AddressInfo).port}`, token: 'sandbox-token' });
});

afterAll(async () => {
  relay?.close();
  await sandboxd?.close();
});

describe('git between the worker and a sandbox', () => {
  it('fetches, restores and pushes a task branch without the credential ever reaching the sandbox', async () => {
    const origin = makeOriginRepo(BUGGY_SUM);
    const work = path.join(path.dirname(origin), 'work');
    git(work, 'checkout', '-q', '-b', 'errand/t1');
    git(work, 'commit', '-q', '--allow-empty', '-m', 'checkpoint');
    git(work, 'push', '-q', origin, 'errand/t1');
    const checkpoint = git(work, 'rev-parse', 'HEAD').trim();
    const remote = { url: origin, env: credentialEnv };

    const prepared = await prepareWorkspace(sandbox, { remote, baseBranch: 'main', branch: 'errand/t1', restoreFrom: checkpoint });
    expect(prepared).toEqual({ baseSha: git(origin, 'rev-parse', 'main').trim(), testCommand: 'npm test' });
    await restoreWork(sandbox, checkpoint);
    expect((await sandbox.exec({ cmd: 'git rev-parse HEAD; git branch --show-current; git remote get-url origin' })).stdout).toBe(`${checkpoint}\nerrand/t1\n${origin}\n`);

    await sandbox.writeFile({ path: 'sum.js', content: 'exports.sum = (a, b) => a + b;\n' });
    const head = await commitWorkInProgress(sandbox, { step: 2 });
    const pushed = await pushFromSandbox(sandbox, { branch: 'errand/t1', baseSha: prepared.baseSha, remote, vet: () => undefined });
    expect(pushed.head).toBe(head);
    expect(pushed.diff).toContain('+exports.sum = (a, b) => a + b;');
    expect(git(origin, 'show', 'errand/t1:sum.js')).toContain('a + b');

    // Everything went through sandboxd, and nothing of the credential did.
    expect(traffic.length).toBeGreaterThan(5);
    for (const request of traffic) {
      for (const secret of [TOKEN, HEADER, 'AUTHORIZATION', 'GIT_CONFIG']) expect(request).not.toContain(secret);
    }
    // Nor is it anywhere in the sandbox's repository.
    expect((await sandbox.exec({ cmd: 'cat .git/config; git config --list' })).stdout).not.toMatch(/extraheader|authorization/i);
  });

  it('vets the change with its own git, so a sandbox whose git hides a file cannot push a secret past the check', async () => {
    const origin = makeOriginRepo(BUGGY_SUM);
    const remote = { url: origin, env: {} };
    const prepared = await prepareWorkspace(sandbox, { remote, baseBranch: 'main', branch: 'errand/t2' });
    const secret = 'ghp_' + 'a'.repeat(36);
    // The agent owns the sandbox's repository: attributes that make every file "binary" and an
    // external diff that prints nothing hide the secret from any diff made in there.
    await sandbox.writeFile({ path: '.gitattributes', content: '* -diff\n' });
    await sandbox.writeFile({ path: 'config.js', content: `module.exports = { token: '${secret}' };\n` });
    await sandbox.exec({ cmd: 'git config diff.external true' });
    await commitWorkInProgress(sandbox, { step: 1 });
    const seenInside = (await sandbox.exec({ cmd: `git diff ${prepared.baseSha} HEAD` })).stdout;
    expect(seenInside).not.toContain(secret);

    const redactor = new Redactor([]);
    const pushed = await pushFromSandbox(sandbox, {
      branch: 'errand/t2',
      baseSha: prepared.baseSha,
      remote,
      vet: (diff) => (findSecrets(diff, redactor).length ? { type: FailureType.SecretInDiff, message: 'a secret' } : undefined),
    });
    expect(pushed.refused).toEqual({ type: FailureType.SecretInDiff, message: 'a secret' });
    expect(pushed.diff).toContain(secret);
    expect(() => git(origin, 'rev-parse', '--verify', '-q', 'refs/heads/errand/t2')).toThrow();
  });

  it('records the commit it made, whatever a hook the agent planted prints', async () => {
    const origin = makeOriginRepo(BUGGY_SUM);
    const prepared = await prepareWorkspace(sandbox, { remote: { url: origin, env: {} }, baseBranch: 'main', branch: 'errand/t3' });
    // A hook the agent owns (--no-verify skips the pre-commit ones, not post-commit) prints
    // something that looks like a commit; the commit and the reading of HEAD are one command.
    await sandbox.writeFile({ path: '.git/hooks/post-commit', content: '#!/bin/sh\necho ' + 'f'.repeat(40) + '\n' });
    await sandbox.exec({ cmd: 'chmod +x .git/hooks/post-commit' });
    await sandbox.writeFile({ path: 'sum.js', content: 'exports.sum = (a, b) => a + b;\n' });
    const checkpoint = await commitWorkInProgress(sandbox, { step: 1 });
    const head = async () => (await sandbox.exec({ cmd: 'git rev-parse HEAD' })).stdout.trim();
    expect(checkpoint).toBe(await head());
    await sandbox.writeFile({ path: 'sum.js', content: 'exports.sum = (a, b) => b + a;\n' });
    const squashed = await squashForPublishing(sandbox, { baseSha: prepared.baseSha, message: 'Fix sum' });
    expect(squashed).toBe(await head());
  });
});
