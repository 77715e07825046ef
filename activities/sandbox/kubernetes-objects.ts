// What a sandbox is made of in Kubernetes, and how its pod's state reads: the options the
// provider runs with, the labels that tie objects to their task, the Pod and NetworkPolicy it
// creates, and what a pod's status says. Pure: the provider (kubernetes.ts) talks to the API.
import type { KubeConfig, V1NetworkPolicy, V1NetworkPolicyEgressRule, V1NetworkPolicyPeer, V1Pod } from '@kubernetes/client-node';
import type { WarmPoolOptions } from './agent-sandbox.js';
import { ownerWorkflow, type SandboxSpec } from './provider.js';

/** An egress destination: a CIDR and, optionally, one port (`140.82.112.0/20:443`). */
export interface EgressRule {
  cidr: string;
  port?: number;
}

export interface KubernetesSandboxOptions {
  kubeConfig: KubeConfig;
  /** Where sandbox pods live (k8s/namespaces.yaml: errand-sandboxes). */
  namespace: string;
  image: string;
  serviceAccount: string;
  resources: { requests: Record<string, string>; limits: Record<string, string> };
  activeDeadlineSeconds: number;
  readyTimeoutMs: number;
  sandboxdPort: number;
  /** The worker's pods: the only ones the NetworkPolicy lets reach sandboxd. */
  worker: { namespace: string; labels: Record<string, string> };
  egress: {
    /**
     * Package registries and the like, for tasks whose policy allows the network. Nothing else:
     * the git host is the worker's to reach (repositories come in as bundles).
     */
    allowlist: EgressRule[];
  };
  /** Claim sandboxes from an agent-sandbox warm pool when the cluster has its CRDs. */
  warmPool?: WarmPoolOptions;
}

export const LABELS = {
  managedBy: 'app.kubernetes.io/managed-by',
  name: 'app.kubernetes.io/name',
  task: 'errand.dev/task',
  sandbox: 'errand.dev/sandbox',
} as const;
export const WORKFLOW_ANNOTATION = 'errand.dev/workflow-id';
export const TOKEN_KEY = 'token';

/** Waiting reasons that no amount of waiting fixes. */
export const HOPELESS = new Set(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull', 'CrashLoopBackOff', 'CreateContainerConfigError', 'CreateContainerError', 'RunContainerError']);

/** The sandbox's pod: sandboxd as a non-root user, no token, a read-only root, emptyDir volumes. */
export function sandboxPod(opts: KubernetesSandboxOptions, name: string, labels: Record<string, string>, spec: SandboxSpec): V1Pod {
  const volume = (volumeName: string, mountPath: string) => ({ volume: { name: volumeName, emptyDir: {} }, mount: { name: volumeName, mountPath } });
  const volumes = [volume('workspace', '/workspace'), volume('home', '/home/sandbox'), volume('tmp', '/tmp')];
  return {
    metadata: { name, labels, annotations: { [WORKFLOW_ANNOTATION]: ownerWorkflow(spec) } },
    spec: {
      serviceAccountName: opts.serviceAccount,
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      restartPolicy: 'Never',
      activeDeadlineSeconds: opts.activeDeadlineSeconds,
      securityContext: { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [
        {
          name: 'sandbox',
          image: spec.image ?? opts.image,
          ports: [{ name: 'sandboxd', containerPort: opts.sandboxdPort }],
          env: [
            { name: 'SANDBOXD_TOKEN', valueFrom: { secretKeyRef: { name, key: TOKEN_KEY } } },
            // A directory sandboxd creates inside the emptyDir, so the repository is the sandbox user's own.
            { name: 'SANDBOXD_ROOT', value: '/workspace/repo' },
            { name: 'SANDBOXD_HOST', value: '0.0.0.0' },
            { name: 'SANDBOXD_PORT', value: String(opts.sandboxdPort) },
            { name: 'HOME', value: '/home/sandbox' },
          ],
          resources: opts.resources,
          securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
          readinessProbe: { httpGet: { path: '/health', port: 'sandboxd' }, periodSeconds: 2 },
          volumeMounts: volumes.map((v) => v.mount),
        },
      ],
      volumes: volumes.map((v) => v.volume),
    },
  };
}

/** Only the worker in, to sandboxd; out, DNS and what the task's policy allows. */
export function sandboxNetworkPolicy(opts: KubernetesSandboxOptions, name: string, labels: Record<string, string>, allowNetwork: boolean): V1NetworkPolicy {
  return {
    metadata: { name, labels },
    spec: {
      podSelector: { matchLabels: { [LABELS.sandbox]: labels[LABELS.sandbox]! } },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [
        {
          _from: [
            {
              namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': opts.worker.namespace } },
              podSelector: { matchLabels: opts.worker.labels },
            },
          ],
          ports: [{ protocol: 'TCP', port: opts.sandboxdPort }],
        },
      ],
      egress: egressRules(opts, allowNetwork),
    },
  };
}

/** DNS always; the allowlist too when the task may use the network. */
export function egressRules(opts: KubernetesSandboxOptions, allowNetwork: boolean): V1NetworkPolicyEgressRule[] {
  const dns: V1NetworkPolicyEgressRule = {
    to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }],
    ports: [
      { protocol: 'UDP', port: 53 },
      { protocol: 'TCP', port: 53 },
    ],
  };
  const rules = allowNetwork ? opts.egress.allowlist : [];
  return [dns, ...rules.map((r): V1NetworkPolicyEgressRule => ({ to: [{ ipBlock: { cidr: r.cidr } } as V1NetworkPolicyPeer], ...(r.port ? { ports: [{ protocol: 'TCP', port: r.port }] } : {}) }))];
}

export function isReady(pod: V1Pod): boolean {
  return pod.status?.phase === 'Running' && Boolean(pod.status.podIP) && (pod.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/** Deleted, evicted, past its deadline, or finished: nothing will run in it again. */
export function isGone(pod: V1Pod): boolean {
  return Boolean(pod.metadata?.deletionTimestamp) || pod.status?.phase === 'Failed' || pod.status?.phase === 'Succeeded';
}

export function describeEnd(pod: V1Pod): string {
  if (pod.metadata?.deletionTimestamp) return 'being deleted';
  const reason = pod.status?.reason; // Evicted, DeadlineExceeded, ...
  return `${pod.status?.phase?.toLowerCase() ?? 'gone'}${reason ? ` (${reason}${pod.status?.message ? `: ${pod.status.message}` : ''})` : ''}`;
}
