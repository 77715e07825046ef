// The Kubernetes sandbox provider against a real kube-apiserver (with k8s/ applied), acting as
// the worker's ServiceAccount, so the RBAC in k8s/ is what lets it work. No kubelet runs here:
// the test plays it, as kwok does, by moving pod status through the status subresource, and
// for a "running" pod it starts a real sandboxd on the pod's IP (a loopback address) with the
// token from the pod's Secret, so the provider's endpoint is exercised end to end.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { NetworkingV1Api, PatchStrategy, setHeaderOptions, type V1Pod } from '@kubernetes/client-node';
import { DEFAULT_REPO_LIMITS } from '../../activities/git/transfer.js';
import { ErrandFailure } from '../../lib/failures/errand-failure.js';
import { createActivities } from '../../activities/index.js';
import type { KubernetesSandboxOptions } from '../../activities/sandbox/kubernetes-objects.js';
import { KubernetesSandboxProvider } from '../../activities/sandbox/kubernetes.js';
import { SandboxdClient } from '../../activities/sandbox/sandboxd-client.js';
import { localDirectoryStorage } from '../../lib/storage/local-storage.js';
import { Redactor } from '../../lib/storage/redactor.js';
import { LocalForge } from '../../lib/forge/local.js';
import { startSandboxd } from '../../activities/sandbox/sandboxd/server.js';
import { workflowStatus } from '../../apps/worker/system-schedules.js';
import { controlPlaneMissing } from '../support/control-plane.js';
import { temporalClient } from '../support/errand-process.js';
import { workerToken } from '../support/kube-apply.js';
import { describeWithPart } from '../support/required-part.js';
import { useControlPlane } from '../support/use.js';

const NS = 'errand-sandboxes';
const PORT = 18080 + Math.floor(Math.random() * 1000);
let k: ReturnType<typeof useControlPlane>;
let provider: KubernetesSandboxProvider;
const sandboxds: Awaited<ReturnType<typeof startSandboxd>>[] = [];
let nextIp = 2;

const options = (overrides: Partial<KubernetesSandboxOptions> = {}): Omit<KubernetesSandboxOptions, 'kubeConfig'> => ({
  namespace: NS,
  image: 'registry.example.com/errand-sandbox:0.1.0',
  serviceAccount: 'errand-sandbox',
  resources: { requests: { cpu: '500m', memory: '1Gi' }, limits: { cpu: '2', memory: '4Gi' } },
  activeDeadlineSeconds: 3600,
  readyTimeoutMs: 15_000,
  sandboxdPort: PORT,
  worker: { namespace: 'errand', labels: { 'app.kubernetes.io/name': 'errand', 'app.kubernetes.io/component': 'worker' } },
  egress: { allowlist: [{ cidr: '104.16.0.0/12', port: 443 }] },
  ...overrides,
});

/** Waits until the provider has created the pod, as a kubelet would see it appear. */
async function podAppears(name: string): Promise<V1Pod> {
  for (let i = 0; i < 100; i++) {
    const pod = await k.admin.readNamespacedPod({ name, namespace: NS }).catch(() => undefined);
    if (pod) return pod;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`pod ${name} never appeared`);
}

const patchStatus = (name: string, status: object) =>
  k.admin.patchNamespacedPodStatus({ name, namespace: NS, body: { status } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));

/** Plays the kubelet for a pod: runs sandboxd on a fresh loopback IP with the pod's token, then reports it Running and Ready. */
async function runPod(name: string): Promise<string> {
  await podAppears(name);
  const secret = await k.admin.readNamespacedSecret({ name, namespace: NS });
  const token = Buffer.from(secret.data!.token!, 'base64').toString();
  const ip = `127.0.0.${nextIp++}`;
  const root = mkdtempSync(path.join(os.tmpdir(), 'errand-pod-'));
  sandboxds.push(await startSandboxd({ root, token, host: ip, port: PORT, baseEnv: { PATH: process.env.PATH!, HOME: root } }));
  const now = new Date().toISOString();
  await patchStatus(name, {
    phase: 'Running',
    podIP: ip,
    podIPs: [{ ip }],
    conditions: [
      { type: 'PodScheduled', status: 'True', lastTransitionTime: now },
      { type: 'Ready', status: 'True', lastTransitionTime: now },
    ],
  });
  return ip;
}

async function kubeletEvent(pod: string, reason: string, message: string) {
  await k.admin.createNamespacedEvent({
    namespace: NS,
    body: {
      metadata: { generateName: `${pod}.` },
      involvedObject: { kind: 'Pod', name: pod, namespace: NS, apiVersion: 'v1' },
      reason,
      message,
      type: 'Warning',
      source: { component: 'kubelet' },
      firstTimestamp: new Date(),
      lastTimestamp: new Date(),
      count: 1,
    },
  });
}

const failureOf = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e as ErrandFailure);

describeWithPart(
  { name: 'a Kubernetes control plane', missing: controlPlaneMissing(), install: 'run `npm run setup:k8s`' },
  'Kubernetes sandbox provider',
  () => {
    k = useControlPlane();
    beforeAll(async () => {
      // The provider acts as the worker's ServiceAccount: the Role in k8s/rbac.yaml must be enough.
      provider = new KubernetesSandboxProvider({ ...options(), kubeConfig: k.cp.kubeConfig(await workerToken(k.cp)) });
    });

    afterAll(async () => {
      for (const s of sandboxds) await s.close();
    });

    it('creates a confined pod, its token Secret and NetworkPolicy, and reaches sandboxd at the pod IP', async () => {
      const provisioned = provider.provision({ taskId: 'k8stask1', sandboxId: 'k8stask1', allowNetwork: false });
      const ip = await runPod('errand-k8stask1');
      await expect(provisioned).resolves.toEqual({ sandboxId: 'k8stask1' });

      const pod = await k.admin.readNamespacedPod({ name: 'errand-k8stask1', namespace: NS });
      expect(pod.metadata?.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'errand', 'errand.dev/task': 'k8stask1', 'errand.dev/sandbox': 'k8stask1' });
      expect(pod.metadata?.annotations).toMatchObject({ 'errand.dev/workflow-id': 'task-k8stask1' });
      expect(pod.spec).toMatchObject({
        automountServiceAccountToken: false,
        serviceAccountName: 'errand-sandbox',
        restartPolicy: 'Never',
        activeDeadlineSeconds: 3600,
        securityContext: { runAsNonRoot: true, runAsUser: 1000 },
      });
      const container = pod.spec!.containers[0]!;
      expect(container.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
      expect(container.resources).toMatchObject({ requests: { cpu: '500m', memory: '1Gi' }, limits: { cpu: '2', memory: '4Gi' } });
      expect(container.env).toContainEqual({ name: 'SANDBOXD_TOKEN', valueFrom: { secretKeyRef: { name: 'errand-k8stask1', key: 'token' } } });
      const secret = await k.admin.readNamespacedSecret({ name: 'errand-k8stask1', namespace: NS });
      const token = Buffer.from(secret.data!.token!, 'base64').toString();
      expect(JSON.stringify(pod)).not.toContain(token); // the token is in the Secret, not the pod spec

      const endpoint = await provider.endpoint('k8stask1');
      expect(endpoint).toEqual({ url: `http://${ip}:${PORT}`, token });
      const r = await new SandboxdClient('k8stask1', endpoint).exec({ cmd: 'echo hello from the pod' });
      expect(r).toMatchObject({ exitCode: 0, stdout: 'hello from the pod\n' });
      expect(await provider.status('k8stask1')).toBe('running');
    });

    it('admits only the worker and lets out DNS, plus the allowlist when the policy allows', async () => {
      const networking = k.cp.kubeConfig().makeApiClient(NetworkingV1Api);
      const closed = await networking.readNamespacedNetworkPolicy({ name: 'errand-k8stask1', namespace: NS });
      expect(closed.spec?.podSelector).toEqual({ matchLabels: { 'errand.dev/sandbox': 'k8stask1' } });
      expect(closed.spec?.ingress).toEqual([
        {
          _from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'errand' } }, podSelector: { matchLabels: { 'app.kubernetes.io/name': 'errand', 'app.kubernetes.io/component': 'worker' } } }],
          ports: [{ protocol: 'TCP', port: PORT }],
        },
      ]);
      const cidrs = (spec: typeof closed.spec) => spec!.egress!.flatMap((e) => e.to?.map((t) => t.ipBlock?.cidr ?? 'dns') ?? []);
      expect(cidrs(closed.spec)).toEqual(['dns']); // not even the git host: repositories come in as bundles

      const opened = provider.provision({ taskId: 'k8stask2', sandboxId: 'k8stask2', allowNetwork: true });
      await runPod('errand-k8stask2');
      await opened;
      const open = await networking.readNamespacedNetworkPolicy({ name: 'errand-k8stask2', namespace: NS });
      expect(cidrs(open.spec)).toEqual(['dns', '104.16.0.0/12']);
      // After a setup script, a task whose policy is `setup` keeps only DNS.
      await provider.restrictEgress('k8stask2');
      expect(cidrs((await networking.readNamespacedNetworkPolicy({ name: 'errand-k8stask2', namespace: NS })).spec)).toEqual(['dns']);
    });

    it('reports a deleted or evicted pod as SandboxGone, and destroy removes the pod, Secret and NetworkPolicy', async () => {
      await patchStatus('errand-k8stask2', { phase: 'Failed', reason: 'Evicted', message: 'The node was low on resource: memory.' });
      const evicted = await failureOf(provider.endpoint('k8stask2'));
      expect(evicted).toMatchObject({ type: 'SandboxGone', message: expect.stringContaining('is failed (Evicted: The node was low on resource: memory.)') });

      await provider.destroy('k8stask1');
      const gone = await failureOf(provider.endpoint('k8stask1'));
      expect(gone?.type).toBe('SandboxGone');
      // Without a kubelet the pod only gets a deletion timestamp; either way nothing is left to use.
      const pod = await k.admin.readNamespacedPod({ name: 'errand-k8stask1', namespace: NS }).catch(() => undefined);
      expect(pod === undefined || Boolean(pod.metadata?.deletionTimestamp)).toBe(true);
      await expect(k.admin.readNamespacedSecret({ name: 'errand-k8stask1', namespace: NS })).rejects.toMatchObject({ code: 404 });
      const networking = k.cp.kubeConfig().makeApiClient(NetworkingV1Api);
      await expect(networking.readNamespacedNetworkPolicy({ name: 'errand-k8stask1', namespace: NS })).rejects.toMatchObject({ code: 404 });
      await provider.destroy('k8stask1'); // idempotent
    });

    it.each([
      ['an image that cannot be pulled', { containerStatuses: [{ name: 'sandbox', image: 'x', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image "registry.example.com/errand-sandbox:0.1.0"' } } }] }, ['Failed', 'Failed to pull image "registry.example.com/errand-sandbox:0.1.0": not found'], 'ImagePullBackOff'],
      ['a pod no node can take', { conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/3 nodes are available: 3 Insufficient memory.', lastTransitionTime: new Date().toISOString() }] }, ['FailedScheduling', '0/3 nodes are available: 3 Insufficient memory.'], 'Unschedulable'],
      ['a crash loop', { containerStatuses: [{ name: 'sandbox', image: 'x', imageID: '', ready: false, restartCount: 4, state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s restarting failed container' } } }] }, ['BackOff', 'Back-off restarting failed container sandbox'], 'CrashLoopBackOff'],
    ])('fails at once, without retrying, on %s, quoting the pod events', async (_what, status, [reason, message], expected) => {
      const id = `k8sfail${expected.toLowerCase().slice(0, 6)}`;
      const started = Date.now();
      const provisioned = failureOf(provider.provision({ taskId: id, sandboxId: id, allowNetwork: false }));
      await podAppears(`errand-${id}`);
      await kubeletEvent(`errand-${id}`, reason!, message!);
      await patchStatus(`errand-${id}`, { phase: 'Pending', ...status });
      const failure = await provisioned;
      expect(failure).toBeInstanceOf(ErrandFailure);
      expect(failure).toMatchObject({ type: 'SandboxUnavailable', retryable: false });
      expect(failure!.message).toContain(expected);
      expect(failure!.message).toContain(message);
      expect(Date.now() - started).toBeLessThan(10_000); // well before the 15 s readiness deadline
      await provider.destroy(id);
    });

    it('gives up when the pod is not ready by the deadline, with what the pod says', async () => {
      const impatient = new KubernetesSandboxProvider({ ...options({ readyTimeoutMs: 2_000 }), kubeConfig: k.cp.kubeConfig() });
      const failure = await failureOf(impatient.provision({ taskId: 'k8sslow', sandboxId: 'k8sslow', allowNetwork: false }));
      expect(failure).toMatchObject({ type: 'SandboxUnavailable', message: expect.stringContaining('not ready within 2 s (phase Pending)') });
      await impatient.destroy('k8sslow');
    });

    it('reaps the pods whose workflow has closed or is unknown, keeps the running ones, and says what it deleted', async () => {
      const { client, close } = await temporalClient();
      try {
        const taskQueue = `reaper-${Date.now()}`;
        // Workflows on a queue no worker polls: one stays running, one is terminated.
        const running = await client.workflow.start('codingTask', { taskQueue, workflowId: `task-reap-run-${Date.now()}`, args: [] });
        const closed = await client.workflow.start('codingTask', { taskQueue, workflowId: `task-reap-done-${Date.now()}`, args: [] });
        await closed.terminate('finished for the test');
        const ids = { running: running.workflowId.slice(5), closed: closed.workflowId.slice(5), unknown: `reapnever${Date.now()}` };
        for (const taskId of Object.values(ids)) {
          const p = provider.provision({ taskId, sandboxId: taskId, allowNetwork: false });
          await runPod(`errand-${taskId}`);
          await p;
        }
        // A sandbox of no task's, owned by a running workflow (an environment refresh's): kept.
        const owned = `reapowned${Date.now()}`;
        const ownedPod = provider.provision({ taskId: owned, sandboxId: owned, allowNetwork: false, workflowId: running.workflowId });
        await runPod(`errand-${owned}`);
        await ownedPod;
        const activities = createActivities({
          sandboxes: provider,
          workflows: { status: (id) => workflowStatus(client, id) },
          forge: new LocalForge(mkdtempSync(path.join(os.tmpdir(), 'errand-forge-'))),
          models: {},
          storage: localDirectoryStorage(mkdtempSync(path.join(os.tmpdir(), 'errand-reaper-'))),
          redactor: new Redactor([]),
          limits: { setupTimeoutMs: 60_000, repo: DEFAULT_REPO_LIMITS },
          registries: { npm: 'https://registry.npmjs.org', goProxy: 'https://proxy.golang.org' },
        });
        const reaped = await activities.reapSandboxes();
        const deleted = Object.fromEntries(reaped.deleted.map((d) => [d.sandboxId, d.why]));
        expect(deleted[ids.closed]).toBe(`workflow task-${ids.closed} is closed`);
        expect(deleted[ids.unknown]).toBe(`workflow task-${ids.unknown} is unknown`);
        expect(deleted[ids.running]).toBeUndefined();
        expect(deleted[owned]).toBeUndefined();
        expect(await provider.status(ids.running)).toBe('running');
        expect(await provider.status(owned)).toBe('running');
        expect(await provider.status(ids.closed)).toBe('gone');
        await running.terminate('test over');
        await provider.destroy(ids.running);
        await provider.destroy(owned);
      } finally {
        await close();
      }
    });
  },
);
