// Server-side apply of manifests to the test control plane, with strict field validation: the
// apiserver checks every object against the OpenAPI schemas of its own (pinned) version and
// rejects unknown or mistyped fields. `dryRun` validates without persisting.
import { readFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
// Plain YAML, not client-node's loadAllYaml: that one maps objects onto its typed models and so
// silently drops the unknown fields this check exists to catch.
import { parseAllDocuments } from 'yaml';
import type { ControlPlane } from './control-plane.js';
import { PROJECT_ROOT } from './errand-process.js';

/** The REST path of each kind our manifests and chart use. */
const RESOURCES: Record<string, { prefix: string; plural: string; namespaced: boolean }> = {
  Namespace: { prefix: '/api/v1', plural: 'namespaces', namespaced: false },
  ConfigMap: { prefix: '/api/v1', plural: 'configmaps', namespaced: true },
  Secret: { prefix: '/api/v1', plural: 'secrets', namespaced: true },
  Service: { prefix: '/api/v1', plural: 'services', namespaced: true },
  ServiceAccount: { prefix: '/api/v1', plural: 'serviceaccounts', namespaced: true },
  PersistentVolumeClaim: { prefix: '/api/v1', plural: 'persistentvolumeclaims', namespaced: true },
  Deployment: { prefix: '/apis/apps/v1', plural: 'deployments', namespaced: true },
  HorizontalPodAutoscaler: { prefix: '/apis/autoscaling/v2', plural: 'horizontalpodautoscalers', namespaced: true },
  PodDisruptionBudget: { prefix: '/apis/policy/v1', plural: 'poddisruptionbudgets', namespaced: true },
  Role: { prefix: '/apis/rbac.authorization.k8s.io/v1', plural: 'roles', namespaced: true },
  RoleBinding: { prefix: '/apis/rbac.authorization.k8s.io/v1', plural: 'rolebindings', namespaced: true },
  NetworkPolicy: { prefix: '/apis/networking.k8s.io/v1', plural: 'networkpolicies', namespaced: true },
  Ingress: { prefix: '/apis/networking.k8s.io/v1', plural: 'ingresses', namespaced: true },
  CustomResourceDefinition: { prefix: '/apis/apiextensions.k8s.io/v1', plural: 'customresourcedefinitions', namespaced: false },
  PrometheusRule: { prefix: '/apis/monitoring.coreos.com/v1', plural: 'prometheusrules', namespaced: true },
};

export interface AppliedObject {
  kind: string;
  name: string;
  namespace?: string;
  status: number;
  message?: string;
}

export async function applyManifests(cp: ControlPlane, yaml: string, opts: { dryRun?: boolean; namespace?: string } = {}): Promise<AppliedObject[]> {
  const results: AppliedObject[] = [];
  const docs = parseAllDocuments(yaml).map((d) => d.toJS() as { kind: string; apiVersion: string; metadata: { name: string; namespace?: string } } | null);
  for (const obj of docs.filter((d) => d !== null)) {
    const resource = RESOURCES[obj.kind];
    if (!resource) throw new Error(`no REST path known for kind ${obj.kind}; add it to test/support/kube-apply.ts`);
    const namespace = resource.namespaced ? (obj.metadata.namespace ?? opts.namespace ?? 'default') : undefined;
    const path = `${resource.prefix}${namespace ? `/namespaces/${namespace}` : ''}/${resource.plural}/${obj.metadata.name}`;
    const query = `fieldManager=errand-tests&force=true&fieldValidation=Strict${opts.dryRun ? '&dryRun=All' : ''}`;
    const res = await request(cp, 'PATCH', `${path}?${query}`, JSON.stringify(obj), 'application/apply-patch+yaml');
    results.push({ kind: obj.kind, name: obj.metadata.name, namespace, status: res.status, message: res.status >= 300 ? (JSON.parse(res.body) as { message?: string }).message : undefined });
  }
  return results;
}

/** Applies manifests from k8s/ for real, failing on any the apiserver refuses. */
export async function applyK8sManifests(cp: ControlPlane, files = ['namespaces.yaml', 'rbac.yaml', 'networkpolicy.yaml']): Promise<void> {
  for (const file of files) {
    const refused = (await applyManifests(cp, readFileSync(path.join(PROJECT_ROOT, 'k8s', file), 'utf8'))).filter((a) => a.status >= 300);
    if (refused.length) throw new Error(`k8s/${file} was refused: ${JSON.stringify(refused)}`);
  }
}

/** A token for the worker's ServiceAccount (k8s/rbac.yaml): tests act as the worker with it. */
export async function workerToken(cp: ControlPlane): Promise<string> {
  const core = cp.kubeConfig().makeApiClient(CoreV1Api);
  const req = await core.createNamespacedServiceAccountToken({ name: 'errand-worker', namespace: 'errand', body: { spec: { audiences: [], expirationSeconds: 3600 } } });
  return req.status!.token;
}

/** A raw request with the admin token (the apiserver's certificate is this run's own, self-signed). */
export function request(cp: ControlPlane, method: string, path: string, body?: string, contentType = 'application/json', token = cp.adminToken): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      `${cp.server}${path}`,
      { method, rejectUnauthorized: false, headers: { authorization: `Bearer ${token}`, ...(body !== undefined && { 'content-type': contentType }) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
