// A real node for the test control plane: containerd and runc (Debian's), CNI bridge networking
// (Debian's containernetworking-plugins), the pinned kubelet and kube-scheduler. Pods really
// run, as containers, from images imported into containerd. Root only (the kubelet needs it).
// What this machine makes us adjust is spelled out where it happens.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoreV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { stopChild } from '../../apps/cli/stop-child.js';
import { findExecutable } from '../../activities/sandbox/sandboxd/find-executable.js';
import type { ControlPlane } from './control-plane.js';
import { KUBE_SCHEDULER, KUBELET } from './k8s-setup.js';

export const CNI_BIN = '/usr/lib/cni';

export interface RealNode {
  name: string;
  /** The pods' addresses, e.g. 10.123.0.0/16. */
  podCidr: string;
  /** The host side of the pod network: pods reach the host here. */
  gateway: string;
  importImage(archive: string): void;
  logs(): string;
  stop(): Promise<void>;
}

/** What is missing to run a real node here, or undefined. */
export function realNodeMissing(): string | undefined {
  if (process.getuid?.() !== 0) return 'the kubelet needs root';
  for (const [what, found] of [
    ['kubelet (npm run setup:k8s builds it)', existsSync(KUBELET)],
    ['kube-scheduler (npm run setup:k8s builds it)', existsSync(KUBE_SCHEDULER)],
    ['containerd (Debian package containerd)', Boolean(findExecutable('containerd'))],
    ['runc (Debian package runc)', Boolean(findExecutable('runc', `${process.env.PATH}:/usr/sbin`))],
    ['CNI plugins (Debian package containernetworking-plugins)', existsSync(path.join(CNI_BIN, 'bridge'))],
  ] as const) {
    if (!found) return `${what} is missing`;
  }
  return undefined;
}

/** The address pods use to reach this host: the machine's primary IPv4 address (the kubelet refuses loopback). */
function hostIp(): string {
  const ip = Object.values(os.networkInterfaces())
    .flat()
    .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
  if (!ip) throw new Error('no non-loopback IPv4 address for the node');
  return ip;
}

/** The network namespaces on this host (containerd names a pod's `cni-<uuid>`). */
function netns(): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter(Boolean);
}

/** A 10.x.0.0/16 no route on this host uses yet. */
function freeSubnet(): string {
  const routes = execFileSync('ip', ['-4', 'route'], { encoding: 'utf8' });
  for (;;) {
    const candidate = `10.${100 + Math.floor(Math.random() * 100)}.`;
    if (!routes.includes(candidate)) return `${candidate}0.0/16`;
  }
}

export async function startRealNode(cp: ControlPlane, opts: { pauseImage: string; podCidr?: string } ): Promise<RealNode> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'errand-node-'));
  const sock = path.join(dir, 'containerd.sock');
  const name = `node-${path.basename(dir).slice(-6).toLowerCase()}`;
  // A bridge and a subnet of this run's own: a network namespace another run left behind
  // (a killed test, a crashed kubelet) keeps its address, and a second pod given the same one
  // would be unreachable (the readiness probe meets the stale namespace: connection refused).
  const podCidr = opts.podCidr ?? freeSubnet();
  const bridge = `errand${randomBytes(3).toString('hex')}`;
  const gateway = podCidr.replace(/\.0\/\d+$/, '.1');
  const namespacesBefore = new Set(netns());
  const children: ChildProcess[] = [];
  const logFile = path.join(dir, 'node.log');
  const launch = (what: string, cmd: string, args: string[]) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (b: Buffer) => appendFileSync(logFile, `[${what}] ${b}`));
    child.stderr!.on('data', (b: Buffer) => appendFileSync(logFile, `[${what}] ${b}`));
    children.push(child);
    return child;
  };

  mkdirSync(path.join(dir, 'cni'));
  writeFileSync(
    path.join(dir, 'cni', '10-errand.conflist'),
    JSON.stringify({
      cniVersion: '0.4.0',
      name: `errand-${name}`,
      plugins: [{ type: 'bridge', bridge, isGateway: true, ipMasq: false, ipam: { type: 'host-local', dataDir: path.join(dir, 'ipam'), ranges: [[{ subnet: podCidr }]], routes: [{ dst: '0.0.0.0/0' }] } }],
    }),
  );
  writeFileSync(
    path.join(dir, 'containerd.toml'),
    [
      'version = 2',
      `root = "${dir}/containerd-root"`,
      `state = "${dir}/containerd-state"`,
      '[grpc]',
      `  address = "${sock}"`,
      '[plugins."io.containerd.grpc.v1.cri"]',
      `  sandbox_image = "${opts.pauseImage}"`,
      // This machine is itself a container: a pod may not lower its OOM score below ours.
      '  restrict_oom_score_adj = true',
      '  [plugins."io.containerd.grpc.v1.cri".cni]',
      `    bin_dir = "${CNI_BIN}"`,
      `    conf_dir = "${dir}/cni"`,
      '  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]',
      '    runtime_type = "io.containerd.runc.v2"',
    ].join('\n'),
  );
  launch('containerd', findExecutable('containerd')!, ['--config', path.join(dir, 'containerd.toml')]);
  for (let i = 0; !existsSync(sock); i++) {
    if (i > 100) throw new Error(`containerd did not start:\n${readFileSync(logFile, 'utf8').slice(-3000)}`);
    await sleep(100);
  }
  const ctr = (...args: string[]) => execFileSync('ctr', ['--address', sock, '-n', 'k8s.io', ...args], { encoding: 'utf8' });

  const kubeconfig = cp.kubeConfigFile();
  launch('scheduler', KUBE_SCHEDULER, [`--kubeconfig=${kubeconfig}`, '--leader-elect=false', '--secure-port=0']);
  const [port, healthz] = [10250 + Math.floor(Math.random() * 500), 11250 + Math.floor(Math.random() * 500)];
  writeFileSync(
    path.join(dir, 'kubelet.yaml'),
    [
      'apiVersion: kubelet.config.k8s.io/v1beta1',
      'kind: KubeletConfiguration',
      'authentication: {anonymous: {enabled: true}, webhook: {enabled: false}}',
      'authorization: {mode: AlwaysAllow}',
      'cgroupDriver: cgroupfs',
      // This machine has cgroup v1, nested: no QoS cgroup tree, and v1 allowed (1.35 refuses it by default).
      'cgroupsPerQOS: false',
      'enforceNodeAllocatable: []',
      'failCgroupV1: false',
      'failSwapOn: false',
      `containerRuntimeEndpoint: unix://${sock}`,
      'readOnlyPort: 0',
      `port: ${port}`,
      `healthzPort: ${healthz}`,
      'evictionHard: {}',
      'imageGCHighThresholdPercent: 100',
      'imageGCLowThresholdPercent: 99',
    ].join('\n'),
  );
  launch('kubelet', KUBELET, [`--kubeconfig=${kubeconfig}`, `--config=${path.join(dir, 'kubelet.yaml')}`, `--root-dir=${dir}/kubelet`, `--hostname-override=${name}`, `--node-ip=${hostIp()}`]);

  const core = cp.kubeConfig().makeApiClient(CoreV1Api);
  for (let i = 0; ; i++) {
    const node = await core.readNode({ name }).catch(() => undefined);
    if (node?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) {
      // No controller-manager runs here to lift the not-ready taint the node registered with.
      await core.patchNode({ name, body: { spec: { taints: [] } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
      break;
    }
    if (i > 120) throw new Error(`node ${name} did not become ready:\n${readFileSync(logFile, 'utf8').slice(-4000)}`);
    await sleep(500);
  }

  return {
    name,
    podCidr,
    gateway,
    importImage: (archive) => void ctr('images', 'import', archive),
    logs: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''),
    stop: async () => {
      // Pods first (the kubelet stops their containers), then the rest; then what runc left mounted.
      const podLogs: string[] = [];
      for (const pod of (await core.listPodForAllNamespaces().catch(() => ({ items: [] }))).items) {
        const { name: podName, namespace, uid } = pod.metadata!;
        await core.deleteNamespacedPod({ name: podName!, namespace: namespace!, gracePeriodSeconds: 0 }).catch(() => undefined);
        // The kubelet writes container logs here whatever its root dir.
        podLogs.push(`/var/log/pods/${namespace}_${podName}_${uid}`);
      }
      for (const task of ctr('tasks', 'ls', '-q').split('\n').filter(Boolean)) {
        try {
          ctr('tasks', 'kill', '-s', 'SIGKILL', task);
        } catch {
          // already gone
        }
      }
      for (const child of children.reverse()) await stopChild(child, 5_000);
      for (const logs of podLogs) rmSync(logs, { recursive: true, force: true });
      try {
        execFileSync('pkill', ['-9', '-f', `containerd-shim.*${sock}`], { stdio: 'ignore' });
      } catch {
        // no shim left
      }
      // The pods' network namespaces (and with them their veths), then the bridge: left behind,
      // they would keep addresses a later run could be handed again.
      for (const ns of netns().filter((n) => !namespacesBefore.has(n))) execFileSync('ip', ['netns', 'delete', ns], { stdio: 'ignore' });
      try {
        execFileSync('ip', ['link', 'delete', bridge], { stdio: 'ignore' });
      } catch {
        // no pod ever ran, so no bridge was made
      }
      const mounts = readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m.startsWith(dir)).reverse();
      for (const m of mounts) execFileSync('umount', ['-l', m], { stdio: 'ignore' });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
