// What a test file starts once for its tests and stops after them, in one call each instead of
// the same beforeAll/afterAll copied into every file: the fixture model with an Errand that
// uses it, a client of the test Temporal server, a Kubernetes control plane. Each returns an
// object whose parts are there once the file's tests run; later `use…` calls may read earlier
// ones' parts in their options, since jest runs beforeAll hooks in the order they were made.
import { afterAll, beforeAll } from '@jest/globals';
import type { Client } from '@temporalio/client';
import { CoreV1Api } from '@kubernetes/client-node';
import type { ModelServer } from '../fixtures/model-server.js';
import { startControlPlane, type ControlPlane } from './control-plane.js';
import { startErrand, startErrandWithModel, temporalClient, type ErrandProcess } from './errand-process.js';
import { applyK8sManifests, workerToken } from './kube-apply.js';
import { startProcessKubelet, type ProcessKubelet } from './process-kubelet.js';

type Env = Record<string, string | undefined>;

/** `parts` as getters that fail clearly when read before beforeAll filled them. */
function started<T extends object>(parts: Partial<T>, what: string): T {
  return new Proxy(parts, {
    get(target, key) {
      const value = (target as Record<string | symbol, unknown>)[key];
      if (value === undefined) throw new Error(`${what}: ${String(key)} is read before beforeAll started it`);
      return value;
    },
  }) as T;
}

/**
 * The fixture model server and an Errand that uses it (`serve`, or `api` alone); `env` is read
 * in beforeAll, so it may use what earlier `use…` calls started.
 */
export function useErrand(env: Env | (() => Env | Promise<Env>) = {}, opts: { command?: 'serve' | 'api' } = {}): { model: ModelServer; errand: ErrandProcess } {
  const parts: { model?: ModelServer; errand?: ErrandProcess } = {};
  beforeAll(async () => {
    Object.assign(parts, await startErrandWithModel(typeof env === 'function' ? await env() : env, opts.command));
  });
  afterAll(async () => {
    await parts.errand?.stop();
    await parts.model?.stop();
  });
  return started(parts, 'useErrand');
}

/** An Errand API only (`errand api`), for what the API answers before any worker is involved. */
export function useErrandApi(env: Env): { errand: ErrandProcess } {
  const parts: { errand?: ErrandProcess } = {};
  beforeAll(async () => {
    parts.errand = await startErrand({ command: 'api', env });
  });
  afterAll(async () => {
    await parts.errand?.stop();
  });
  return started(parts, 'useErrandApi');
}

/** A client of the test Temporal server (jest's global setup starts it). */
export function useTemporal(): { client: Client } {
  const parts: { client?: Client; close?: () => Promise<void> } = {};
  beforeAll(async () => {
    Object.assign(parts, await temporalClient());
  });
  afterAll(async () => {
    await parts.close?.();
  });
  return started(parts, 'useTemporal') as { client: Client };
}

/** etcd and kube-apiserver on loopback, with k8s/ applied unless `manifests` is false, and an admin client. */
export function useControlPlane(opts: { manifests?: boolean } = {}): { cp: ControlPlane; admin: CoreV1Api } {
  const parts: { cp?: ControlPlane; admin?: CoreV1Api } = {};
  beforeAll(async () => {
    parts.cp = await startControlPlane();
    if (opts.manifests !== false) await applyK8sManifests(parts.cp);
    parts.admin = parts.cp.kubeConfig().makeApiClient(CoreV1Api);
  }, 600_000);
  afterAll(async () => {
    await parts.cp?.stop();
  });
  return started(parts, 'useControlPlane');
}

/**
 * A whole Errand on Kubernetes: the control plane with k8s/ applied, the stand-in kubelet running
 * each sandbox pod as a local sandboxd, and Errand (with the fixture model) acting as the
 * worker's ServiceAccount. Stopped in the reverse order.
 */
export function useKubernetesErrand(opts: { port: number; firstIp?: number; env?: Env }): {
  cp: ControlPlane;
  admin: CoreV1Api;
  kubelet: ProcessKubelet;
  model: ModelServer;
  errand: ErrandProcess;
} {
  const parts: { cp?: ControlPlane; admin?: CoreV1Api; kubelet?: ProcessKubelet; model?: ModelServer; errand?: ErrandProcess } = {};
  beforeAll(async () => {
    const cp = (parts.cp = await startControlPlane());
    await applyK8sManifests(cp);
    parts.admin = cp.kubeConfig().makeApiClient(CoreV1Api);
    parts.kubelet = startProcessKubelet(cp, { namespace: 'errand-sandboxes', port: opts.port, firstIp: opts.firstIp });
    Object.assign(
      parts,
      await startErrandWithModel({
        ERRAND_SANDBOX_PROVIDER: 'kubernetes',
        ERRAND_KUBECONFIG: cp.kubeConfigFile(await workerToken(cp)),
        ERRAND_K8S_SANDBOXD_PORT: String(opts.port),
        ERRAND_K8S_READY_TIMEOUT_SECONDS: '30',
        ...opts.env,
      }),
    );
  }, 600_000);
  afterAll(async () => {
    await parts.errand?.stop();
    await parts.model?.stop();
    await parts.kubelet?.stop();
    await parts.cp?.stop();
  });
  return started(parts, 'useKubernetesErrand');
}
