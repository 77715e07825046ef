// A real Kubernetes control plane for tests, envtest-style: etcd (Debian's) and the pinned
// kube-apiserver (built by `npm run setup:k8s`) on loopback, with RBAC on, a static admin token,
// and service-account token signing, so tests can act as the worker's ServiceAccount too.
// There is no scheduler, controller-manager or kubelet: tests play the kubelet's part.
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { stopChild } from '../../apps/cli/stop-child.js';
import { freePort } from './free-port.js';
import { findEtcd, KUBE_APISERVER } from './k8s-setup.js';

export interface ControlPlane {
  server: string;
  adminToken: string;
  /** A kubeconfig for `token` (the admin's by default). */
  kubeConfig(token?: string): KubeConfig;
  /** The same, written to a file, for a process (ERRAND_KUBECONFIG, helm). */
  kubeConfigFile(token?: string): string;
  stop(): Promise<void>;
}

/** What is missing to run a control plane here, or undefined when everything is. */
export function controlPlaneMissing(): string | undefined {
  if (!existsSync(KUBE_APISERVER)) return `kube-apiserver is not built (${KUBE_APISERVER})`;
  if (!findEtcd()) return 'etcd is not installed (Debian package etcd-server)';
  return undefined;
}

export async function startControlPlane(): Promise<ControlPlane> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'errand-k8s-'));
  const children: ChildProcess[] = [];
  const output: string[] = [];
  const launch = (name: string, cmd: string, args: string[]) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (b: Buffer) => {
      output.push(`[${name}] ${b.toString()}`);
      if (output.length > 200) output.shift();
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    children.push(child);
    return child;
  };
  const stop = async () => {
    for (const child of children.reverse()) await stopChild(child, 5_000);
  };

  try {
    const [etcdPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    launch('etcd', findEtcd()!, [
      '--data-dir', path.join(dir, 'etcd'),
      '--listen-client-urls', etcdUrl,
      '--advertise-client-urls', etcdUrl,
      '--listen-peer-urls', `http://127.0.0.1:${peerPort}`,
      '--initial-advertise-peer-urls', `http://127.0.0.1:${peerPort}`,
      '--initial-cluster', `default=http://127.0.0.1:${peerPort}`,
      '--unsafe-no-fsync',
    ]);
    await until(async () => (await fetch(`${etcdUrl}/health`)).ok, 30_000, 'etcd to answer', output);

    const keys = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
    writeFileSync(path.join(dir, 'sa.pub'), keys.publicKey);
    writeFileSync(path.join(dir, 'sa.key'), keys.privateKey);
    const adminToken = randomBytes(24).toString('hex');
    writeFileSync(path.join(dir, 'tokens.csv'), `${adminToken},admin,admin,"system:masters"\n`);
    mkdirSync(path.join(dir, 'certs'));
    launch('kube-apiserver', KUBE_APISERVER, [
      `--etcd-servers=${etcdUrl}`,
      `--cert-dir=${path.join(dir, 'certs')}`,
      `--secure-port=${apiPort}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      '--service-cluster-ip-range=10.0.0.0/24',
      '--authorization-mode=RBAC',
      `--token-auth-file=${path.join(dir, 'tokens.csv')}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${path.join(dir, 'sa.pub')}`,
      `--service-account-signing-key-file=${path.join(dir, 'sa.key')}`,
      '--allow-privileged=false',
      '--enable-priority-and-fairness=false',
    ]);
    const server = `https://127.0.0.1:${apiPort}`;
    const kubeConfig = (token = adminToken) => {
      const kc = new KubeConfig();
      kc.loadFromOptions({
        clusters: [{ name: 'test', server, skipTLSVerify: true }],
        users: [{ name: 'user', token }],
        contexts: [{ name: 'test', cluster: 'test', user: 'user' }],
        currentContext: 'test',
      });
      return kc;
    };
    await until(() => readyz(server, adminToken), 90_000, 'kube-apiserver to be ready', output);
    return {
      server,
      adminToken,
      kubeConfig,
      kubeConfigFile: (token) => {
        const file = path.join(dir, `kubeconfig-${randomBytes(4).toString('hex')}.yaml`);
        writeFileSync(file, kubeConfig(token).exportConfig(), { mode: 0o600 });
        return file;
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function until(check: () => Promise<boolean>, timeoutMs: number, what: string, output: string[]): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${output.join('').slice(-4000)}`);
    await sleep(250);
  }
}

/** /readyz over TLS with the apiserver's self-signed certificate, which this run made. */
function readyz(server: string, token: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = https.get(`${server}/readyz`, { headers: { authorization: `Bearer ${token}` }, rejectUnauthorized: false }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
  });
}
