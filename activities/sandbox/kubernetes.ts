// The Kubernetes sandbox: one Pod per task from an image that runs sandboxd, with its token in
// a Secret (not in the pod spec), a NetworkPolicy that admits only the worker and lets out only
// the allowlist the task's policy permits, and labels and annotations that tie it to its task
// and workflow. The worker reaches sandboxd at the pod IP; a pod that is deleted or evicted is
// SandboxGone, so the workflow restores the work from its last checkpoint.
import { randomBytes } from 'node:crypto';
import { ApiException, CoreV1Api, NetworkingV1Api, PatchStrategy, setHeaderOptions, type V1Pod } from '@kubernetes/client-node';
import { setTimeout as sleep } from 'node:timers/promises';
import { FailureType } from '../../workflows/failures.js';
import { ErrandFailure } from '../../lib/failures/errand-failure.js';
import { detectAgentSandbox, readyClaimIp, SandboxClaims, type SandboxClaim } from './agent-sandbox.js';
import { describeEnd, egressRules, HOPELESS, isGone, isReady, LABELS, sandboxNetworkPolicy, sandboxPod, TOKEN_KEY, WORKFLOW_ANNOTATION, type KubernetesSandboxOptions } from './kubernetes-objects.js';
import { ownerWorkflow, sandboxGone, type SandboxEndpoint, type SandboxProvider, type SandboxSpec } from './provider.js';

export class KubernetesSandboxProvider implements SandboxProvider {
  readonly name = 'kubernetes';
  private readonly core: CoreV1Api;
  private readonly networking: NetworkingV1Api;
  private claimsDetected?: Promise<SandboxClaims | undefined>;

  constructor(private readonly opts: KubernetesSandboxOptions) {
    this.core = opts.kubeConfig.makeApiClient(CoreV1Api);
    this.networking = opts.kubeConfig.makeApiClient(NetworkingV1Api);
  }

  /** Claims from a warm pool when one is configured and the cluster serves agent-sandbox's CRDs; else undefined (Pods). */
  claims(): Promise<SandboxClaims | undefined> {
    const pool = this.opts.warmPool;
    this.claimsDetected ??= pool
      ? detectAgentSandbox(this.opts.kubeConfig).then((version) => (version ? new SandboxClaims(this.opts.kubeConfig, version, this.opts.namespace, pool) : undefined))
      : Promise.resolve(undefined);
    return this.claimsDetected;
  }

  platformOf(image?: string): string {
    return `image ${image ?? this.opts.image}`;
  }

  podName(sandboxId: string): string {
    return `errand-${sandboxId}`;
  }

  async provision(spec: SandboxSpec): Promise<{ sandboxId: string }> {
    const claims = await this.claims();
    if (claims && !spec.image) return this.claim(claims, spec);
    const { sandboxId } = spec;
    const name = this.podName(sandboxId);
    const namespace = this.opts.namespace;
    const existing = await this.readPod(name);
    if (existing && !isGone(existing)) {
      await this.waitUntilReady(name);
      return { sandboxId };
    }
    if (existing) await this.destroy(sandboxId); // a dead pod of the same id: start afresh
    const labels = { [LABELS.managedBy]: 'errand', [LABELS.name]: 'errand-sandbox', [LABELS.task]: spec.taskId, [LABELS.sandbox]: sandboxId };
    await ignoreConflict(() =>
      this.core.createNamespacedSecret({
        namespace,
        body: { metadata: { name, labels }, type: 'Opaque', stringData: { [TOKEN_KEY]: randomBytes(32).toString('hex') } },
      }),
    );
    await ignoreConflict(() => this.networking.createNamespacedNetworkPolicy({ namespace, body: sandboxNetworkPolicy(this.opts, name, labels, spec.allowNetwork) }));
    await ignoreConflict(() => this.core.createNamespacedPod({ namespace, body: sandboxPod(this.opts, name, labels, spec) }));
    await this.waitUntilReady(name);
    return { sandboxId };
  }

  /** After the setup script, a task that may not reach the network keeps only the git host. */
  async restrictEgress(sandboxId: string): Promise<void> {
    const name = this.podName(sandboxId);
    await this.networking.patchNamespacedNetworkPolicy(
      { name, namespace: this.opts.namespace, body: { spec: { egress: egressRules(this.opts, false) } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  }

  /** A sandbox from the warm pool: a claim, and the NetworkPolicy that selects its pod by label. */
  private async claim(claims: SandboxClaims, spec: SandboxSpec): Promise<{ sandboxId: string }> {
    const { sandboxId } = spec;
    const name = this.podName(sandboxId);
    const labels = { [LABELS.managedBy]: 'errand', [LABELS.name]: 'errand-sandbox', [LABELS.task]: spec.taskId, [LABELS.sandbox]: sandboxId };
    await ignoreConflict(() => this.networking.createNamespacedNetworkPolicy({ namespace: this.opts.namespace, body: sandboxNetworkPolicy(this.opts, name, labels, spec.allowNetwork) }));
    await ignoreConflict(() => claims.create(name, labels, { [WORKFLOW_ANNOTATION]: ownerWorkflow(spec) }));
    const deadline = Date.now() + this.opts.readyTimeoutMs;
    for (;;) {
      const claim = await claims.get(name).catch(notFound);
      if (!claim) throw this.unavailable(name, 'the SandboxClaim disappeared while it was being bound');
      if (readyClaimIp(claim)) return { sandboxId };
      if (Date.now() > deadline) {
        const conditions = (claim.status?.conditions ?? []).map((c) => `  ${c.type}=${c.status} ${c.reason ?? ''}: ${c.message ?? ''}`.trimEnd());
        throw this.unavailable(name, `the SandboxClaim was not bound to a ready sandbox within ${Math.round(this.opts.readyTimeoutMs / 1000)} s (warm pool ${claims.options.pool})`, conditions);
      }
      await sleep(250);
    }
  }

  async endpoint(sandboxId: string): Promise<SandboxEndpoint> {
    const claims = await this.claims();
    const claimed = claims ? await claims.get(this.podName(sandboxId)).catch(notFound) : undefined;
    if (claimed) return this.claimEndpoint(sandboxId, claimed, claims!);
    const name = this.podName(sandboxId);
    const pod = await this.readPod(name);
    if (!pod) throw sandboxGone(sandboxId, `pod ${this.opts.namespace}/${name} no longer exists`);
    if (isGone(pod)) throw sandboxGone(sandboxId, `pod ${this.opts.namespace}/${name} is ${describeEnd(pod)}`);
    if (!pod.status?.podIP) throw sandboxGone(sandboxId, `pod ${this.opts.namespace}/${name} has no IP`);
    const secret = await this.core.readNamespacedSecret({ name, namespace: this.opts.namespace }).catch(notFound);
    const token = secret?.data?.[TOKEN_KEY] ? Buffer.from(secret.data[TOKEN_KEY], 'base64').toString('utf8') : undefined;
    if (!token) throw sandboxGone(sandboxId, `secret ${this.opts.namespace}/${name} with the sandbox token is gone`);
    const host = pod.status.podIP.includes(':') ? `[${pod.status.podIP}]` : pod.status.podIP;
    return { url: `http://${host}:${this.opts.sandboxdPort}`, token };
  }

  private async claimEndpoint(sandboxId: string, claim: SandboxClaim, claims: SandboxClaims): Promise<SandboxEndpoint> {
    const name = this.podName(sandboxId);
    if (claim.metadata?.deletionTimestamp) throw sandboxGone(sandboxId, `SandboxClaim ${this.opts.namespace}/${name} is being deleted`);
    const ip = readyClaimIp(claim);
    if (!ip) throw sandboxGone(sandboxId, `SandboxClaim ${this.opts.namespace}/${name} has no ready sandbox any more`);
    const secret = await this.core.readNamespacedSecret({ name: claims.options.tokenSecret, namespace: this.opts.namespace });
    const token = Buffer.from(secret.data?.[TOKEN_KEY] ?? '', 'base64').toString('utf8');
    return { url: `http://${ip.includes(':') ? `[${ip}]` : ip}:${this.opts.sandboxdPort}`, token };
  }

  async status(sandboxId: string): Promise<'running' | 'gone'> {
    const claims = await this.claims();
    const claim = claims ? await claims.get(this.podName(sandboxId)).catch(notFound) : undefined;
    if (claim) return readyClaimIp(claim) && !claim.metadata?.deletionTimestamp ? 'running' : 'gone';
    const pod = await this.readPod(this.podName(sandboxId));
    return pod && !isGone(pod) ? 'running' : 'gone';
  }

  async destroy(sandboxId: string): Promise<void> {
    const name = this.podName(sandboxId);
    const namespace = this.opts.namespace;
    const claims = await this.claims();
    await claims?.delete(name).catch(notFound);
    await this.core.deleteNamespacedPod({ name, namespace, gracePeriodSeconds: 5 }).catch(notFound);
    await this.core.deleteNamespacedSecret({ name, namespace }).catch(notFound);
    await this.networking.deleteNamespacedNetworkPolicy({ name, namespace }).catch(notFound);
  }

  /** Errand's sandbox pods, with the workflow each belongs to (for the reaper). */
  async list(): Promise<{ sandboxId: string; workflowId?: string }[]> {
    const labelSelector = `${LABELS.managedBy}=errand,${LABELS.name}=errand-sandbox`;
    const pods = (await this.core.listNamespacedPod({ namespace: this.opts.namespace, labelSelector })).items;
    const claims = await this.claims();
    // A warm pool's pod carries our labels once claimed; the claim is what destroy removes.
    const claimed = claims ? await claims.list(labelSelector) : [];
    const seen = new Map<string, string | undefined>();
    for (const o of [...claimed, ...pods]) {
      const sandboxId = o.metadata?.labels?.[LABELS.sandbox] ?? o.metadata!.name!.replace(/^errand-/, '');
      if (!seen.has(sandboxId)) seen.set(sandboxId, o.metadata?.annotations?.[WORKFLOW_ANNOTATION]);
    }
    return [...seen].map(([sandboxId, workflowId]) => ({ sandboxId, workflowId }));
  }

  /**
   * Waits until the pod runs and sandboxd answers its readiness probe. What waiting cannot fix
   * (an image that cannot be pulled, an unschedulable pod, a crash loop) fails at once, quoting
   * the pod's events; so does the deadline.
   */
  private async waitUntilReady(name: string): Promise<void> {
    const deadline = Date.now() + this.opts.readyTimeoutMs;
    for (;;) {
      const pod = await this.readPod(name);
      if (!pod) throw this.unavailable(name, 'the pod disappeared while starting');
      if (isReady(pod)) return;
      const waiting = pod.status?.containerStatuses?.find((c) => c.state?.waiting && HOPELESS.has(c.state.waiting.reason ?? ''))?.state?.waiting;
      if (waiting) throw this.unavailable(name, `${waiting.reason}: ${waiting.message ?? ''}`.trim(), await this.events(name));
      const unschedulable = pod.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False' && c.reason === 'Unschedulable');
      if (unschedulable) throw this.unavailable(name, `Unschedulable: ${unschedulable.message ?? ''}`.trim(), await this.events(name));
      if (isGone(pod)) throw this.unavailable(name, `the pod ${describeEnd(pod)} before it was ready`, await this.events(name));
      if (Date.now() > deadline) {
        throw this.unavailable(name, `not ready within ${Math.round(this.opts.readyTimeoutMs / 1000)} s (phase ${pod.status?.phase ?? 'unknown'})`, await this.events(name));
      }
      await sleep(500);
    }
  }

  private unavailable(name: string, why: string, events: string[] = []): ErrandFailure {
    const quoted = events.length ? `; its events:\n${events.join('\n')}` : '';
    return ErrandFailure.permanent(FailureType.SandboxUnavailable, `sandbox pod ${this.opts.namespace}/${name} cannot start: ${why}${quoted}`);
  }

  private async events(name: string): Promise<string[]> {
    const list = await this.core.listNamespacedEvent({ namespace: this.opts.namespace, fieldSelector: `involvedObject.name=${name}` }).catch(() => undefined);
    return (list?.items ?? []).slice(-10).map((e) => `  ${e.type ?? ''} ${e.reason ?? ''}: ${e.message ?? ''}`.trimEnd());
  }

  private readPod(name: string): Promise<V1Pod | undefined> {
    return this.core.readNamespacedPod({ name, namespace: this.opts.namespace }).catch(notFound);
  }
}

function notFound(err: unknown): undefined {
  if (err instanceof ApiException && err.code === 404) return undefined;
  throw err;
}

/** Provisioning again after a crash finds what the first attempt created. */
async function ignoreConflict(create: () => Promise<unknown>): Promise<void> {
  try {
    await create();
  } catch (err) {
    if (!(err instanceof ApiException && err.code === 409)) throw err;
  }
}
