// Images for the real-kubelet test, made of this host's own files (no registry or Docker engine
// is reachable here): the errand-sandbox image (node, npm, bash, git, the coreutils an agent
// reaches for, their shared libraries, and sandboxd bundled into one file: the layout
// apps/sandboxd/Dockerfile produces) and a pause image. Written as OCI archives for
// `ctr images import`.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleSandboxd } from '../../apps/worker/sandboxd-bundle.js';

const TOOLS = ['node', 'bash', 'sh', 'git', 'env', 'cat', 'ls', 'rm', 'mkdir', 'mv', 'cp', 'find', 'grep', 'sed', 'head', 'tail', 'id', 'sleep', 'touch', 'tr', 'wc', 'sort', 'printf', 'echo', 'dirname', 'basename', 'chmod', 'ln', 'pwd', 'tee', 'xargs', 'mktemp', 'date', 'uname', 'true', 'false', 'test', 'diff', 'cut'];

interface HostImage {
  name: string;
  /** Programs taken from this host's PATH, with the shared libraries they load. */
  tools: string[];
  entrypoint: string[];
  env?: string[];
  workingDir?: string;
  user?: string;
  /** Adds files to the root file system before it is packed. */
  extra?: (root: string, copy: (hostPath: string) => void) => void;
}

/** An image made of this host's own files, as an OCI archive; returns the archive's path. */
export function buildHostImage(image: HostImage): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'errand-image-'));
  const root = path.join(dir, 'rootfs');
  for (const d of ['usr/bin', 'usr/lib', 'usr/lib64', 'etc', 'tmp']) mkdirSync(path.join(root, d), { recursive: true });
  for (const [link, target] of [['bin', 'usr/bin'], ['lib', 'usr/lib'], ['lib64', 'usr/lib64']]) symlinkSync(target, path.join(root, link));
  const copy = (host: string) => {
    const dest = path.join(root, host);
    if (existsSync(dest)) return;
    mkdirSync(path.dirname(dest), { recursive: true });
    if (lstatSync(host).isSymbolicLink()) {
      symlinkSync(readlinkSync(host), dest);
      copy(realpathSync(host));
    } else cpSync(host, dest, { recursive: true, dereference: false });
  };
  for (const tool of image.tools) {
    const host = execFileSync('bash', ['-c', `command -v ${tool} || true`], { encoding: 'utf8' }).trim();
    if (!host.startsWith('/')) continue; // a shell builtin
    copy(host);
    for (const lib of libsOf(realpathSync(host))) copy(lib);
  }
  image.extra?.(root, copy);
  const layer = path.join(dir, 'layer.tar');
  execFileSync('tar', ['-C', root, '--numeric-owner', '--owner=0', '--group=0', '-cf', layer, '.']);
  const config = {
    architecture: 'amd64',
    os: 'linux',
    config: {
      Env: image.env ?? ['PATH=/usr/local/bin:/usr/bin:/bin'],
      Entrypoint: image.entrypoint,
      ...(image.workingDir && { WorkingDir: image.workingDir }),
      ...(image.user && { User: image.user }),
    },
    rootfs: { type: 'layers', diff_ids: [digest(readFileSync(layer))] },
  };
  return writeOciArchive(dir, image.name, readFileSync(layer), Buffer.from(JSON.stringify(config)));
}

/** The sandbox image: what apps/sandboxd/Dockerfile builds, from this host's files. */
export async function buildSandboxImage(name: string): Promise<string> {
  // As the Dockerfile's build stage does: sandboxd bundled into one file, run with plain node.
  const bundleDir = mkdtempSync(path.join(os.tmpdir(), 'errand-sandboxd-'));
  const [, bundle] = await bundleSandboxd(bundleDir);
  return buildHostImage({
    name,
    tools: TOOLS,
    entrypoint: ['/usr/bin/node', '/opt/errand/sandboxd.mjs'],
    env: ['PATH=/usr/local/bin:/usr/bin:/bin', 'HOME=/home/sandbox', 'SANDBOXD_ROOT=/workspace/repo', 'SANDBOXD_HOST=0.0.0.0', 'SANDBOXD_PORT=8080'],
    workingDir: '/workspace',
    user: '1000:1000',
    extra: (root, copy) => {
      for (const d of ['workspace', 'home/sandbox', 'opt/errand']) mkdirSync(path.join(root, d), { recursive: true });
      copy('/usr/lib/git-core');
      for (const helper of ['git-remote-http', 'git-upload-pack', 'git-receive-pack']) {
        const file = `/usr/lib/git-core/${helper}`;
        if (existsSync(file)) for (const lib of libsOf(file)) copy(lib);
      }
      copy('/usr/lib/node_modules/npm');
      symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', path.join(root, 'usr/bin/npm'));
      writeFileSync(path.join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/bash\nsandbox:x:1000:1000:sandbox:/home/sandbox:/bin/bash\n');
      writeFileSync(path.join(root, 'etc/group'), 'root:x:0:\nsandbox:x:1000:\n');
      cpSync(bundle!, path.join(root, 'opt/errand/sandboxd.mjs'));
    },
  });
}

/** The pod sandbox ("pause") image containerd starts first in every pod: it only has to sleep. */
export function buildPauseImage(name: string): string {
  return buildHostImage({ name, tools: ['sleep'], entrypoint: ['/usr/bin/sleep', 'infinity'] });
}

function libsOf(binary: string): string[] {
  return execFileSync('ldd', [binary], { encoding: 'utf8' })
    .split('\n')
    .map((l) => /(\/\S+) \(0x/.exec(l)?.[1])
    .filter((l): l is string => Boolean(l));
}

function digest(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** An OCI image layout in a tar: oci-layout, index.json and the blobs. */
function writeOciArchive(dir: string, name: string, layer: Buffer, config: Buffer): string {
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digest(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: digest(layer), size: layer.length }],
    }),
  );
  const layout = path.join(dir, 'oci');
  mkdirSync(path.join(layout, 'blobs', 'sha256'), { recursive: true });
  for (const blob of [layer, config, manifest]) writeFileSync(path.join(layout, 'blobs', 'sha256', digest(blob).slice(7)), blob);
  writeFileSync(path.join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const annotations = { 'org.opencontainers.image.ref.name': name, 'io.containerd.image.name': name };
  writeFileSync(path.join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: digest(manifest), size: manifest.length, annotations }] }));
  const archive = path.join(dir, 'image.tar');
  execFileSync('tar', ['-C', layout, '-cf', archive, '.']);
  return archive;
}
