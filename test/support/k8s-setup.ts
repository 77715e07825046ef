// `npm run setup:k8s`: what the Kubernetes test lane needs, pinned and cached under
// .tools/k8s/<version> (git-ignored), so a second run takes seconds:
// - kube-apiserver, built from the Go module proxy through test/support/kube-tools/go.mod;
// - helm, `go install`ed (its go.mod has no replace directives);
// - etcd, from Debian's etcd-server package when we are root with apt-get.
// It prints what it does, since a first build takes minutes.
import { execFile } from 'node:child_process';
import { access, constants, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { findExecutable } from '../../activities/sandbox/sandboxd/find-executable.js';
import { PROJECT_ROOT } from '../../apps/cli/temporal-cli.js';

const run = promisify(execFile);

export const KUBERNETES_VERSION = 'v1.35.4';
export const HELM_VERSION = 'v3.22.0';
export const K8S_TOOLS = path.join(PROJECT_ROOT, '.tools', 'k8s');
export const KUBE_APISERVER = path.join(K8S_TOOLS, KUBERNETES_VERSION, 'kube-apiserver');
export const HELM = path.join(K8S_TOOLS, `helm-${HELM_VERSION}`, 'helm');
export const KUBELET = path.join(K8S_TOOLS, KUBERNETES_VERSION, 'kubelet');
export const KUBE_SCHEDULER = path.join(K8S_TOOLS, KUBERNETES_VERSION, 'kube-scheduler');
/** Debian packages the lane uses: etcd for the control plane; containerd, runc and CNI for a real node. */
const DEBIAN_PACKAGES = { etcd: 'etcd-server', containerd: 'containerd', runc: 'runc', bridge: 'containernetworking-plugins' };

const exists = (file: string) => access(file, constants.X_OK).then(() => true, () => false);

/** etcd on PATH or where Debian puts it. */
export function findEtcd(): string | undefined {
  return findExecutable('etcd') ?? findExecutable('etcd', '/usr/bin:/usr/local/bin:/usr/sbin');
}

async function go(args: string[], opts: { cwd: string; env?: Record<string, string> }) {
  const goBin = findExecutable('go');
  if (!goBin) throw new Error('Go is not installed; the Kubernetes lane builds kube-apiserver and helm with it (install Go 1.25+)');
  await run(goBin, args, { cwd: opts.cwd, env: { ...process.env, GOFLAGS: '-buildvcs=false', ...opts.env }, maxBuffer: 64 * 1024 * 1024 });
}

export async function setupKubernetesTools(log: (msg: string) => void = console.error): Promise<void> {
  const [major, minor] = KUBERNETES_VERSION.slice(1).split('.');
  // The version stamp the release build would set, so /version reports what was pinned.
  const ldflags = [`-X k8s.io/component-base/version.gitVersion=${KUBERNETES_VERSION}`, `-X k8s.io/component-base/version.gitMajor=${major}`, `-X k8s.io/component-base/version.gitMinor=${minor}`].join(' ');
  for (const [binary, command] of [[KUBE_APISERVER, 'kube-apiserver'], [KUBELET, 'kubelet'], [KUBE_SCHEDULER, 'kube-scheduler']] as const) {
    if (!(await exists(binary))) {
      log(`building ${command} ${KUBERNETES_VERSION} from the Go module proxy (once; takes minutes)...`);
      await mkdir(path.dirname(binary), { recursive: true });
      await go(['build', '-ldflags', ldflags, '-o', binary, `k8s.io/kubernetes/cmd/${command}`], { cwd: path.join(PROJECT_ROOT, 'test', 'support', 'kube-tools') });
    }
    log(`${command}: ${binary}`);
  }
  if (!(await exists(HELM))) {
    log(`building helm ${HELM_VERSION} with go install (once)...`);
    await go(['install', `helm.sh/helm/v3/cmd/helm@${HELM_VERSION}`], { cwd: PROJECT_ROOT, env: { GOBIN: path.dirname(HELM) } });
  }
  log(`helm: ${HELM}`);
  const sbin = `${process.env.PATH}:/usr/sbin:/sbin`;
  const missing = Object.entries(DEBIAN_PACKAGES).filter(([binary]) =>
    binary === 'etcd' ? !findEtcd() : binary === 'bridge' ? !findExecutable('bridge', '/usr/lib/cni') : !findExecutable(binary, sbin),
  );
  const aptGet = findExecutable('apt-get');
  if (missing.length && process.getuid?.() === 0 && aptGet) {
    const packages = missing.map(([, pkg]) => pkg);
    log(`installing ${packages.join(', ')} from Debian packages...`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    await run(aptGet, ['update', '-qq'], { env, maxBuffer: 16 * 1024 * 1024 });
    await run(aptGet, ['install', '-y', '-qq', '--no-install-recommends', ...packages], { env, maxBuffer: 16 * 1024 * 1024 });
  }
  log(`etcd: ${findEtcd() ?? 'missing: install the etcd-server package'}`);
  log(`containerd, runc, CNI: ${['containerd', 'runc'].every((b) => findExecutable(b, sbin)) && findExecutable('bridge', '/usr/lib/cni') ? 'installed' : 'missing: install containerd, runc and containernetworking-plugins'}`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  setupKubernetesTools().catch((err: Error) => {
    console.error(`setup:k8s failed: ${err.message}`);
    process.exit(1);
  });
}
