// A stand-in kubelet for the test control plane: it watches the sandbox namespace and "runs"
// each new pod as a local sandboxd process on a loopback address of its own (127.0.0.N, the
// pod's IP), with the token from the pod's Secret, then reports the pod Running and Ready
// through the status subresource, as kwok does. When a pod is deleted, it stops its process and
// lets the deletion finish. This is what lets a whole task run through the Kubernetes provider
// here, where no real kubelet can run pods (no container images can be pulled).
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CoreV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { startSandboxd } from '../../activities/sandbox/sandboxd/server.js';
import type { ControlPlane } from './control-plane.js';

export interface ProcessKubelet {
  /** Pods this kubelet ran, by name, with their IP. */
  ran: Map<string, string>;
  /** Each running pod's workspace on this host, by pod name. */
  workspaces: Map<string, string>;
  stop(): Promise<void>;
}

export function startProcessKubelet(cp: ControlPlane, opts: { namespace: string; port: number; firstIp?: number }): ProcessKubelet {
  const core = cp.kubeConfig().makeApiClient(CoreV1Api);
  const running = new Map<string, Awaited<ReturnType<typeof startSandboxd>>>();
  const ran = new Map<string, string>();
  const workspaces = new Map<string, string>();
  let nextIp = opts.firstIp ?? 100;
  let stopped = false;

  const tick = async () => {
    const pods = await core.listNamespacedPod({ namespace: opts.namespace });
    // A pod deleted at once (no grace period) is simply gone from the list: stop what ran it.
    const listed = new Set(pods.items.map((p) => p.metadata!.name!));
    for (const [name, sandboxd] of running) {
      if (listed.has(name)) continue;
      await sandboxd.close();
      running.delete(name);
      workspaces.delete(name);
    }
    for (const pod of pods.items) {
      const name = pod.metadata!.name!;
      if (pod.metadata?.deletionTimestamp) {
        await running.get(name)?.close();
        running.delete(name);
        workspaces.delete(name);
        // No kubelet confirms the deletion otherwise; a zero grace period finishes it.
        await core.deleteNamespacedPod({ name, namespace: opts.namespace, gracePeriodSeconds: 0 }).catch(() => undefined);
        continue;
      }
      if (running.has(name) || pod.status?.phase !== 'Pending') continue;
      const secretName = pod.spec?.containers[0]?.env?.find((e) => e.name === 'SANDBOXD_TOKEN')?.valueFrom?.secretKeyRef?.name;
      const secret = secretName ? await core.readNamespacedSecret({ name: secretName, namespace: opts.namespace }).catch(() => undefined) : undefined;
      if (!secret?.data?.token) continue;
      const ip = `127.0.0.${nextIp++}`;
      const root = mkdtempSync(path.join(os.tmpdir(), `errand-pod-${name}-`));
      running.set(name, await startSandboxd({ root, token: Buffer.from(secret.data.token, 'base64').toString(), host: ip, port: opts.port, baseEnv: { PATH: process.env.PATH!, HOME: root, GIT_TERMINAL_PROMPT: '0' } }));
      ran.set(name, ip);
      workspaces.set(name, root);
      const now = new Date().toISOString();
      await core.patchNamespacedPodStatus(
        { name, namespace: opts.namespace, body: { status: { phase: 'Running', podIP: ip, podIPs: [{ ip }], conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: now }] } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    }
  };

  const loop = (async () => {
    while (!stopped) {
      await tick().catch(() => undefined);
      await new Promise((r) => setTimeout(r, 200));
    }
  })();

  return {
    ran,
    workspaces,
    stop: async () => {
      stopped = true;
      await loop;
      for (const s of running.values()) await s.close();
    },
  };
}
