// Warm starts: with a warm pool configured, the provider uses plain Pods while the cluster lacks
// kubernetes-sigs/agent-sandbox's CRDs, and SandboxClaims once they are installed. No
// agent-sandbox controller runs here: the test binds each claim as it would (a running
// sandboxd on the claimed pod's IP, status with the IP and Ready), through the status
// subresource of the CRD installed on the real apiserver.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { ApiextensionsV1Api, CoreV1Api, CustomObjectsApi, NetworkingV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { AGENT_SANDBOX_GROUP } from '../../activities/sandbox/agent-sandbox.js';
import { KubernetesSandboxProvider } from '../../activities/sandbox/kubernetes.js';
import { SandboxdClient } from '../../activities/sandbox/sandboxd-client.js';
import { startSandboxd } from '../../activities/sandbox/sandboxd/server.js';
import { controlPlaneMissing } from '../support/control-plane.js';
import { workerToken } from '../support/kube-apply.js';
import { describeWithPart } from '../support/required-part.js';
import { useControlPlane } from '../support/use.js';

const NS = 'errand-sandboxes';
const PORT = 20080 + Math.floor(Math.random() * 1000);
const POOL_TOKEN = 'warm-pool-token-0123456789';
let k: ReturnType<typeof useControlPlane>;
let token: string;
const sandboxds: Awaited<ReturnType<typeof startSandboxd>>[] = [];

const provider = () =>
  new KubernetesSandboxProvider({
    kubeConfig: k.cp.kubeConfig(token),
    namespace: NS,
    image: 'registry.example.com/errand-sandbox:0.1.0',
    serviceAccount: 'errand-sandbox',
    resources: { requests: { cpu: '500m', memory: '1Gi' }, limits: { cpu: '2', memory: '4Gi' } },
    activeDeadlineSeconds: 3600,
    readyTimeoutMs: 10_000,
    sandboxdPort: PORT,
    worker: { namespace: 'errand', labels: { 'app.kubernetes.io/component': 'worker' } },
    egress: { allowlist: [] },
    warmPool: { pool: 'fast-pool', template: 'errand-sandbox', tokenSecret: 'errand-warm-pool' },
  });

/** The claims CRD as agent-sandbox ships it, reduced to what the apiserver needs to serve it. */
async function installClaimsCrd() {
  const crds = k.cp.kubeConfig().makeApiClient(ApiextensionsV1Api);
  await crds.createCustomResourceDefinition({
    body: {
      metadata: { name: `sandboxclaims.${AGENT_SANDBOX_GROUP}` },
      spec: {
        group: AGENT_SANDBOX_GROUP,
        scope: 'Namespaced',
        names: { plural: 'sandboxclaims', singular: 'sandboxclaim', kind: 'SandboxClaim', listKind: 'SandboxClaimList' },
        versions: [
          {
            name: 'v1alpha1',
            served: true,
            storage: true,
            subresources: { status: {} },
            schema: { openAPIV3Schema: { type: 'object', x_kubernetes_preserve_unknown_fields: true } },
          },
        ],
      },
    },
  });
  // Established within a moment; discovery lists the group once it is.
  for (let i = 0; i < 50; i++) {
    const crd = await crds.readCustomResourceDefinition({ name: `sandboxclaims.${AGENT_SANDBOX_GROUP}` });
    if (crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the SandboxClaim CRD was not established');
}

/** Plays agent-sandbox's controller: hands the claim a warm pod (a sandboxd already running with the pool's token). */
async function bindClaim(name: string, ip: string) {
  const custom = k.cp.kubeConfig().makeApiClient(CustomObjectsApi);
  for (let i = 0; i < 50; i++) {
    const claim = await custom.getNamespacedCustomObject({ group: AGENT_SANDBOX_GROUP, version: 'v1alpha1', namespace: NS, plural: 'sandboxclaims', name }).catch(() => undefined);
    if (claim) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const root = mkdtempSync(path.join(os.tmpdir(), 'errand-warm-'));
  sandboxds.push(await startSandboxd({ root, token: POOL_TOKEN, host: ip, port: PORT, baseEnv: { PATH: process.env.PATH!, HOME: root } }));
  await custom.patchNamespacedCustomObjectStatus(
    {
      group: AGENT_SANDBOX_GROUP,
      version: 'v1alpha1',
      namespace: NS,
      plural: 'sandboxclaims',
      name,
      body: { status: { sandbox: { name: `warm-${name}`, podIPs: [ip] }, conditions: [{ type: 'Ready', status: 'True', reason: 'SandboxReady', message: '', lastTransitionTime: new Date().toISOString() }] } },
    },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
}

describeWithPart(
  { name: 'a Kubernetes control plane', missing: controlPlaneMissing(), install: 'run `npm run setup:k8s`' },
  'warm starts from an agent-sandbox pool',
  () => {
    k = useControlPlane();
    beforeAll(async () => {
      token = await workerToken(k.cp);
      await k.cp.kubeConfig().makeApiClient(CoreV1Api).createNamespacedSecret({ namespace: NS, body: { metadata: { name: 'errand-warm-pool' }, stringData: { token: POOL_TOKEN } } });
    });

    afterAll(async () => {
      for (const s of sandboxds) await s.close();
    });

    it('falls back to plain Pods while the cluster has no agent-sandbox CRDs', async () => {
      const p = provider();
      expect(await p.claims()).toBeUndefined();
      void p.provision({ taskId: 'coldtask', sandboxId: 'coldtask', allowNetwork: false }).catch(() => undefined);
      const core = k.cp.kubeConfig().makeApiClient(CoreV1Api);
      for (let i = 0; i < 50 && !(await core.readNamespacedPod({ name: 'errand-coldtask', namespace: NS }).catch(() => undefined)); i++) await new Promise((r) => setTimeout(r, 100));
      await expect(core.readNamespacedPod({ name: 'errand-coldtask', namespace: NS })).resolves.toMatchObject({ metadata: { name: 'errand-coldtask' } });
      await p.destroy('coldtask');
    });

    it('claims from the warm pool once the CRDs are installed, and reaches the claimed sandbox', async () => {
      await installClaimsCrd();
      const p = provider();
      expect((await p.claims())?.options.pool).toBe('fast-pool');
      const provisioned = p.provision({ taskId: 'warmtask', sandboxId: 'warmtask', allowNetwork: false });
      await bindClaim('errand-warmtask', '127.0.0.40');
      await expect(provisioned).resolves.toEqual({ sandboxId: 'warmtask' });

      const custom = k.cp.kubeConfig().makeApiClient(CustomObjectsApi);
      const claim = (await custom.getNamespacedCustomObject({ group: AGENT_SANDBOX_GROUP, version: 'v1alpha1', namespace: NS, plural: 'sandboxclaims', name: 'errand-warmtask' })) as any;
      expect(claim.spec).toEqual({
        sandboxTemplateRef: { name: 'errand-sandbox' },
        warmpool: 'fast-pool',
        additionalPodMetadata: {
          labels: { 'app.kubernetes.io/managed-by': 'errand', 'app.kubernetes.io/name': 'errand-sandbox', 'errand.dev/task': 'warmtask', 'errand.dev/sandbox': 'warmtask' },
          annotations: { 'errand.dev/workflow-id': 'task-warmtask' },
        },
      });
      // No pod of our own: the pool's pod is the sandbox; its NetworkPolicy still selects it.
      await expect(k.cp.kubeConfig().makeApiClient(CoreV1Api).readNamespacedPod({ name: 'errand-warmtask', namespace: NS })).rejects.toMatchObject({ code: 404 });
      const policy = await k.cp.kubeConfig().makeApiClient(NetworkingV1Api).readNamespacedNetworkPolicy({ name: 'errand-warmtask', namespace: NS });
      expect(policy.spec?.podSelector).toEqual({ matchLabels: { 'errand.dev/sandbox': 'warmtask' } });

      const endpoint = await p.endpoint('warmtask');
      expect(endpoint).toEqual({ url: `http://127.0.0.40:${PORT}`, token: POOL_TOKEN });
      expect(await new SandboxdClient('warmtask', endpoint).exec({ cmd: 'echo warm' })).toMatchObject({ exitCode: 0, stdout: 'warm\n' });
      expect(await p.list()).toContainEqual({ sandboxId: 'warmtask', workflowId: 'task-warmtask' });

      await p.destroy('warmtask');
      await expect(custom.getNamespacedCustomObject({ group: AGENT_SANDBOX_GROUP, version: 'v1alpha1', namespace: NS, plural: 'sandboxclaims', name: 'errand-warmtask' })).rejects.toMatchObject({ code: 404 });
      await expect(p.endpoint('warmtask')).rejects.toMatchObject({ type: 'SandboxGone' });
    });

    it('takes a task that names its own image to a plain Pod, since the pool runs the template image', async () => {
      const p = provider();
      void p.provision({ taskId: 'imagetask', sandboxId: 'imagetask', allowNetwork: false, image: 'registry.example.com/custom:1' }).catch(() => undefined);
      const core = k.cp.kubeConfig().makeApiClient(CoreV1Api);
      for (let i = 0; i < 50 && !(await core.readNamespacedPod({ name: 'errand-imagetask', namespace: NS }).catch(() => undefined)); i++) await new Promise((r) => setTimeout(r, 100));
      const pod = await core.readNamespacedPod({ name: 'errand-imagetask', namespace: NS });
      expect(pod.spec?.containers[0]?.image).toBe('registry.example.com/custom:1');
      await p.destroy('imagetask');
    });
  },
);
