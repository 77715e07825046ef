// A sandbox's environment after setup, in and out of the sandbox through sandboxd (so the same
// on every provider): what the setup left in the workspace that git does not track (installed
// dependencies, build output) and the sandbox user's home (package managers' caches), as one
// archive. Made by the sandbox's own tar, as the sandbox user, from relative paths; restored the
// same way over a fresh checkout of the base, never touching .git.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { SandboxdClient } from '../sandbox/sandboxd-client.js';
import { copyOut, writeWhole } from '../sandbox/file-transfer.js';
import { shellQuote } from '../sandbox/sandboxd/shell-quote.js';

/** Inside the sandbox's .git, which snapshots leave out and the agent's changes never include. */
const WORK = '.git/errand-environment';
/** Fast compression: the archive is made and unpacked on every miss and hit; its size matters less. */
const GZIP = `--use-compress-program='gzip -1'`;

/** The files matching `patterns` at the base commit, as git stores them (path and blob id). */
export async function inputFiles(sandbox: SandboxdClient, patterns: string[]): Promise<{ path: string; blob: string }[]> {
  const specs = patterns.map((p) => shellQuote(`:(glob)${p}`)).join(' ');
  const r = await sandbox.exec({ cmd: `git ls-files -s -z -- ${specs}`, timeoutMs: 60_000, maxOutputBytes: 2_000_000 });
  if (r.exitCode !== 0) throw new Error(`listing the environment's input files failed: ${r.stderr.trim().slice(-500)}`);
  // `<mode> <blob> <stage>\t<path>\0`
  return r.stdout
    .split('\0')
    .filter(Boolean)
    .map((entry) => {
      const tab = entry.indexOf('\t');
      return { path: entry.slice(tab + 1), blob: entry.slice(0, tab).split(' ')[1]! };
    });
}

/** Packs the environment into `to` on this host; returns its size and sha256. */
export async function takeSnapshot(sandbox: SandboxdClient, to: string): Promise<{ bytes: number; sha256: string }> {
  const r = await sandbox.exec({
    cmd: [
      'set -e',
      `rm -rf ${WORK} && mkdir -p ${WORK}`,
      // Untracked and ignored, whole directories as one entry: node_modules/, dist/, .venv/.
      `git ls-files -o -z --directory > ${WORK}/list`,
      `tar --null -T ${WORK}/list ${GZIP} -cf ${WORK}/workspace.tgz`,
      `tar -C "$HOME" ${GZIP} -cf ${WORK}/home.tgz .`,
      `tar -C ${WORK} -cf ${WORK}/snapshot.tar workspace.tgz home.tgz`,
      `rm -f ${WORK}/workspace.tgz ${WORK}/home.tgz ${WORK}/list`,
    ].join('\n'),
    timeoutMs: 600_000,
    maxOutputBytes: 20_000,
  });
  if (r.exitCode !== 0) throw new Error(`packing the environment failed: ${(r.stderr || r.stdout).trim().slice(-500)}`);
  try {
    await copyOut(sandbox, `${WORK}/snapshot.tar`, to);
  } finally {
    await sandbox.exec({ cmd: `rm -rf ${WORK}`, timeoutMs: 60_000 }).catch(() => undefined);
  }
  return fileDigest(to);
}

/**
 * Unpacks a snapshot (a file on this host) into the sandbox: the workspace's untracked files
 * and the home, over the checkout of the base.
 */
export async function restoreSnapshot(sandbox: SandboxdClient, from: string): Promise<void> {
  await unpack(sandbox, from, [
    `tar -xzf "$work/workspace.tgz"`,
    `tar -C "$HOME" -xzf "$work/home.tgz"`,
    // What the base tracks now is what it holds, whatever the setup once left at that path.
    'git reset -q --hard HEAD',
  ]);
}

/**
 * Unpacks a snapshot into a directory of its own in the sandbox's .git (`workspace/` and
 * `home/`), for the provider to take as a copy-on-write layer: its path in the workspace.
 */
export async function unpackLayer(sandbox: SandboxdClient, from: string): Promise<string> {
  const layer = `.git/errand-layer-${randomBytes(6).toString('hex')}`;
  await unpack(sandbox, from, [
    `mkdir ${layer} ${layer}/workspace ${layer}/home`,
    `tar -C ${layer}/workspace -xzf "$work/workspace.tgz"`,
    `tar -C ${layer}/home -xzf "$work/home.tgz"`,
  ]);
  return layer;
}

/** After a layer is mounted: what the base tracks now is what the workspace holds, whatever the setup once left at that path. */
export async function resetToBase(sandbox: SandboxdClient): Promise<void> {
  const r = await sandbox.exec({ cmd: 'git reset -q --hard HEAD', timeoutMs: 600_000, maxOutputBytes: 20_000 });
  if (r.exitCode !== 0) throw new Error(`git reset after mounting the environment failed: ${(r.stderr || r.stdout).trim().slice(-500)}`);
}

/**
 * The archive goes in as pieces (sandboxd makes their directory), `$work`, and one command
 * unpacks it there and runs `steps`, the directory removed however it ends: each command is a
 * confined process to start.
 */
async function unpack(sandbox: SandboxdClient, from: string, steps: string[]): Promise<void> {
  const work = `${WORK}-${randomBytes(6).toString('hex')}`;
  await writeWhole(sandbox, from, `${work}/snapshot`);
  const r = await sandbox.exec({
    cmd: ['set -e', `work=${work}`, `trap 'rm -rf "$work"' EXIT`, `cat "$work"/snapshot.part-* | tar -C "$work" -xf -`, ...steps].join('\n'),
    timeoutMs: 600_000,
    maxOutputBytes: 20_000,
  });
  if (r.exitCode !== 0) throw new Error(`unpacking the environment failed: ${(r.stderr || r.stdout).trim().slice(-500)}`);
}

export async function fileDigest(file: string): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return { bytes: (await stat(file)).size, sha256: hash.digest('hex') };
}
