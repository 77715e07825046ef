// Warm starts through kubernetes-sigs/agent-sandbox: where the cluster serves its CRDs
// (extensions.agents.x-k8s.io: SandboxTemplate, SandboxWarmPool, SandboxClaim), a sandbox is a
// SandboxClaim against a warm pool, so a pod that already runs sandboxd is handed over in well
// under a second instead of a pod created and pulled on demand. Without the CRDs the provider
// creates plain Pods. Warm pods exist before any task, so their sandboxd token comes from one
// Secret the pool's template references, not one per sandbox; the per-sandbox NetworkPolicy
// still admits only the worker.
import { ApisApi, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';

export const AGENT_SANDBOX_GROUP = 'extensions.agents.x-k8s.io';
const PLURAL = 'sandboxclaims';

export interface WarmPoolOptions {
  /** v1alpha1: the SandboxTemplate a claim names (`sandboxTemplateRef`). */
  template?: string;
  /** The SandboxWarmPool to take from (v1beta1 `warmPoolRef`, v1alpha1 `warmpool`). */
  pool: string;
  /** The Secret (key `token`) holding the sandboxd token the pool's pods were started with. */
  tokenSecret: string;
}

export interface SandboxClaim {
  metadata?: { name?: string; labels?: Record<string, string>; annotations?: Record<string, string>; deletionTimestamp?: string };
  status?: { sandbox?: { name?: string; podIPs?: string[] }; conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}

/** The served version of the claims API, or undefined when the CRDs are not installed. */
export async function detectAgentSandbox(kubeConfig: KubeConfig): Promise<'v1beta1' | 'v1alpha1' | undefined> {
  const groups = await kubeConfig.makeApiClient(ApisApi).getAPIVersions();
  const group = groups.groups.find((g) => g.name === AGENT_SANDBOX_GROUP);
  const versions = group?.versions.map((v) => v.version) ?? [];
  return versions.includes('v1beta1') ? 'v1beta1' : versions.includes('v1alpha1') ? 'v1alpha1' : undefined;
}

export class SandboxClaims {
  private readonly api: CustomObjectsApi;

  constructor(
    kubeConfig: KubeConfig,
    private readonly version: 'v1beta1' | 'v1alpha1',
    private readonly namespace: string,
    readonly options: WarmPoolOptions,
  ) {
    this.api = kubeConfig.makeApiClient(CustomObjectsApi);
  }

  private get coordinates() {
    return { group: AGENT_SANDBOX_GROUP, version: this.version, namespace: this.namespace, plural: PLURAL };
  }

  async create(name: string, labels: Record<string, string>, annotations: Record<string, string>): Promise<void> {
    const pool = this.options.pool;
    const spec =
      this.version === 'v1beta1'
        ? { warmPoolRef: { name: pool }, additionalPodMetadata: { labels, annotations } }
        : { sandboxTemplateRef: { name: this.options.template ?? pool }, warmpool: pool, additionalPodMetadata: { labels, annotations } };
    await this.api.createNamespacedCustomObject({
      ...this.coordinates,
      body: { apiVersion: `${AGENT_SANDBOX_GROUP}/${this.version}`, kind: 'SandboxClaim', metadata: { name, labels, annotations }, spec },
    });
  }

  get(name: string): Promise<SandboxClaim> {
    return this.api.getNamespacedCustomObject({ ...this.coordinates, name }) as Promise<SandboxClaim>;
  }

  async delete(name: string): Promise<void> {
    await this.api.deleteNamespacedCustomObject({ ...this.coordinates, name });
  }

  async list(labelSelector: string): Promise<SandboxClaim[]> {
    const list = (await this.api.listNamespacedCustomObject({ ...this.coordinates, labelSelector })) as { items: SandboxClaim[] };
    return list.items;
  }
}

/** The claimed sandbox's IP once it is bound and ready. */
export function readyClaimIp(claim: SandboxClaim): string | undefined {
  const ready = claim.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
  return ready ? claim.status?.sandbox?.podIPs?.[0] : undefined;
}
