// Git in and out of a sandbox with a forge credential: the worker fetches and pushes with it,
// and the sandbox gets bundles only. Every request that reaches sandboxd is recorded on the
// way (real HTTP, a real sandboxd, real git), and none may carry the credential.
import { mkdirSync, mkdtempSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DEFAULT_REPO_LIMITS, pushFromSandbox } from '../../../activities/git/transfer.js';
import { findSecrets, pushRefusal } from '../../../activities/review/checks.js';
import { Redactor } from '../../../lib/storage/redactor.js';
import { failureType, FailureType } from '../../../workflows/failures.js';
import { commitWorkInProgress, prepareWorkspace, restoreWork, squashForPublishing } from '../../../activities/git/workspace.js';
import { SandboxdClient } from '../../../activities/sandbox/sandboxd-client.js';
import { startSandboxd } from '../../../activities/sandbox/sandboxd/server.js';
import { BUGGY_SUM, explodingRepo, git, makeOriginRepo } from '../../fixtures/repos.js';

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

    const prepared = await prepareWorkspace(sandbox, { remote, baseBranch: 'main', branch: 'errand/t1', restoreFrom: checkpoint, limits: DEFAULT_REPO_LIMITS });
    expect(prepared).toEqual({ baseSha: git(origin, 'rev-parse', 'main').trim(), testCommand: 'npm test' });
    await restoreWork(sandbox, checkpoint);
    expect((await sandbox.exec({ cmd: 'git rev-parse HEAD; git branch --show-current; git remote get-url origin' })).stdout).toBe(`${checkpoint}\nerrand/t1\n${origin}\n`);

    await sandbox.writeFile({ path: 'sum.js', content: 'exports.sum = (a, b) => a + b;\n' });
    const head = await commitWorkInProgress(sandbox, { step: 2 });
    const pushed = await pushFromSandbox(sandbox, { limits: DEFAULT_REPO_LIMITS, branch: 'errand/t1', baseSha: prepared.baseSha, remote, vet: () => undefined });
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
    const prepared = await prepareWorkspace(sandbox, { remote, baseBranch: 'main', branch: 'errand/t2', limits: DEFAULT_REPO_LIMITS });
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
      limits: DEFAULT_REPO_LIMITS,
      branch: 'errand/t2',
      baseSha: prepared.baseSha,
      remote,
      vet: ({ diff }) => (findSecrets(diff, redactor).length ? { type: FailureType.SecretInDiff, message: 'a secret' } : undefined),
    });
    expect(pushed.refused).toEqual({ type: FailureType.SecretInDiff, message: 'a secret' });
    expect(pushed.diff).toContain(secret);
    expect(() => git(origin, 'rev-parse', '--verify', '-q', 'refs/heads/errand/t2')).toThrow();
  });

  describe('refuses a push by what git stores, whatever kind of entry carries it', () => {
    const SECRET = 'hunter2-very-secret-value';
    const redactor = new Redactor([SECRET]);
    const forbidden = { paths: ['.github/**', 'secrets/**', 'deploy/**'], commands: [] };
    const AUTHOR = '-c user.name=agent -c user.email=agent@example.com';
    let n = 0;
    /** A change made by `command` in a fresh workspace, and what vetting it as a push says. */
    async function vetted(command: string) {
      const origin = makeOriginRepo({ ...BUGGY_SUM, '.github/workflows/ci.yml': 'on: push\n', 'secrets/key': 'k\n' });
      const branch = `errand/kinds-${++n}`;
      const prepared = await prepareWorkspace(sandbox, { remote: { url: origin, env: {} }, baseBranch: 'main', branch, limits: DEFAULT_REPO_LIMITS });
      const ran = await sandbox.exec({ cmd: command });
      expect(ran).toMatchObject({ exitCode: 0 });
      await commitWorkInProgress(sandbox, { step: 1 });
      const pushed = await pushFromSandbox(sandbox, { limits: DEFAULT_REPO_LIMITS, branch, baseSha: prepared.baseSha, remote: { url: origin, env: {} }, vet: (change) => pushRefusal(change, redactor, forbidden) });
      const landed = git(origin, 'for-each-ref', '--format=%(refname)', `refs/heads/${branch}`).trim() !== '';
      return { refused: pushed.refused, landed };
    }

    it.each([
      ['a mode change', 'chmod +x .github/workflows/ci.yml', '.github/workflows/ci.yml'],
      ['a rename out of a forbidden directory', 'git mv secrets/key moved-key', 'secrets/key'],
      ['a file turned into a link', 'rm secrets/key && ln -s ../sum.js secrets/key', 'secrets/key'],
      ['a link standing for a forbidden directory', 'mkdir -p docs/workflows && echo "on: push" > docs/workflows/x.yml && ln -s docs deploy', 'deploy'],
      ['a link into a forbidden path', 'mkdir docs && ln -s ../.github/workflows/ci.yml docs/ci.yml', 'docs/ci.yml'],
      ['a submodule entry', `mkdir -p .github/actions/evil && git -C .github/actions/evil init -q && git -C .github/actions/evil ${AUTHOR} commit -q --allow-empty -m x`, '.github/actions/evil'],
    ])('%s', async (_kind, command, touched) => {
      const { refused, landed } = await vetted(command);
      expect(refused).toEqual({ type: FailureType.ForbiddenPath, message: `the change touches ${touched}, which its playbook forbids changing (.github/**, secrets/**, deploy/**)` });
      expect(landed).toBe(false);
    });

    it.each([
      ['a file name', `printf '${SECRET.slice(0, 8)}' > a && printf '${SECRET.slice(8)}' > b && touch "leak-$(cat a b).txt" && rm a b`, 'configured secret in leak-[REDACTED].txt'],
      ['a directory name', `mkdir "dir-${SECRET}" && touch "dir-${SECRET}/f.txt"`, 'configured secret in dir-[REDACTED]/f.txt'],
      ['a link target', `ln -s "${SECRET}" link`, 'configured secret at link:1'],
      ['a name, base64-encoded', `touch "$(printf ${SECRET} | base64)"`, 'configured secret in [REDACTED]Q=='],
      ['lines split by a line break', `printf '${SECRET.slice(0, 9)}\\n${SECRET.slice(9)}\\n' > config.txt`, 'configured secret in config.txt'],
      ['lines joined by a line continuation', `printf 'x = "${SECRET.slice(0, 9)}\\\\\\n${SECRET.slice(9)}"\\n' > config.py`, 'configured secret in config.py'],
    ])('a secret in %s', async (_where, command, described) => {
      const { refused, landed } = await vetted(command);
      expect(refused).toEqual({ type: FailureType.SecretInDiff, message: `the change adds what looks like a secret (${described})` });
      expect(JSON.stringify(refused)).not.toContain(SECRET);
      expect(landed).toBe(false);
    });

    it('pushes a change that touches none of it, a link and a submodule elsewhere included', async () => {
      const { refused, landed } = await vetted(`ln -s sum.js alias.js && mkdir -p vendor/lib && git -C vendor/lib init -q && git -C vendor/lib ${AUTHOR} commit -q --allow-empty -m x && echo '// ok' >> sum.js`);
      expect(refused).toBeUndefined();
      expect(landed).toBe(true);
    });
  });

  describe('measures what a branch checks out to before a sandbox gets it, and before a push', () => {
    const limits = { maxEntries: 1_000, maxBytes: 2 ** 20, maxFileBytes: 512 * 1024 };
    const refusal = async (promise: Promise<unknown>) =>
      promise.then(
        () => undefined,
        (err: Error) => ({ type: failureType(err) ?? (err as { type?: string }).type, message: err.message }),
      );

    it.each([
      ['a few KB of objects that check out to 10,000 files and 1,111 directories', () => explodingRepo(BUGGY_SUM, 4), 'checks out to 11114 files and directories, more than the 1000 ERRAND_REPO_MAX_FILES allows'],
      ['one file larger than a file may be', () => makeOriginRepo({ ...BUGGY_SUM, 'big.bin': 'x'.repeat(3 * 2 ** 20) }), 'holds a file of 3 MB, more than the 1 MB ERRAND_REPO_MAX_FILE_MB allows'],
      ['files that add up to more than a checkout may be', () => makeOriginRepo({ ...BUGGY_SUM, ...Object.fromEntries([1, 2, 3].map((i) => [`part${i}.bin`, `${i}`.repeat(400 * 1024)])) }), 'checks out to 2 MB, more than the 1 MB ERRAND_REPO_MAX_MB allows'],
    ])('refuses %s, and checks nothing out', async (_what, make, says) => {
      const origin = make();
      const failed = await refusal(prepareWorkspace(sandbox, { remote: { url: origin, env: {} }, baseBranch: 'main', branch: 'errand/big', limits }));
      expect(failed).toEqual({ type: FailureType.RepoTooLarge, message: `main of ${origin} ${says}; nothing was checked out` });
      expect((await sandbox.list({ path: '.' })).entries.map((e) => e.name)).toEqual(['.git']);
    });

    it('refuses to push a branch the agent made too large, and pushes nothing', async () => {
      const origin = makeOriginRepo(BUGGY_SUM);
      const prepared = await prepareWorkspace(sandbox, { remote: { url: origin, env: {} }, baseBranch: 'main', branch: 'errand/grown', limits });
      await sandbox.exec({ cmd: 'mkdir many && cd many && for i in $(seq 1000); do : > f$i; done' });
      await commitWorkInProgress(sandbox, { step: 1 });
      const pushed = await pushFromSandbox(sandbox, { branch: 'errand/grown', baseSha: prepared.baseSha, remote: { url: origin, env: {} }, limits, vet: () => undefined });
      expect(pushed.refused).toEqual({ type: FailureType.RepoTooLarge, message: 'the branch checks out to 1004 files and directories, more than the 1000 ERRAND_REPO_MAX_FILES allows' });
      expect(git(origin, 'for-each-ref', 'refs/heads/errand/grown')).toBe('');
    });
  });

  it('records the commit it made, whatever a hook the agent planted prints', async () => {
    const origin = makeOriginRepo(BUGGY_SUM);
    const prepared = await prepareWorkspace(sandbox, { remote: { url: origin, env: {} }, baseBranch: 'main', branch: 'errand/t3', limits: DEFAULT_REPO_LIMITS });
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
