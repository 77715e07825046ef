// A sandbox lost at every point of a task, on Kubernetes: the task's pod deleted (as an
// eviction or a drained node would) at the moments the scenarios in
// test/support/sandbox-losses.ts mark, against the real kube-apiserver with the stand-in kubelet
// running each pod as a local sandboxd (test/support/process-kubelet.ts).
import { afterAll, beforeAll } from '@jest/globals';
import { CoreV1Api } from '@kubernetes/client-node';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { ModelServer } from '../fixtures/model-server.js';
import { controlPlaneMissing, startControlPlane, type ControlPlane } from '../support/control-plane.js';
import { eventually, startErrandWithModel, type ErrandProcess } from '../support/errand-process.js';
import { applyK8sManifests, workerToken } from '../support/kube-apply.js';
import { startProcessKubelet, type ProcessKubelet } from '../support/process-kubelet.js';
import { describeWithPart } from '../support/required-part.js';
import { sandboxLossScenarios } from '../support/sandbox-losses.js';

const NS = 'errand-sandboxes';
const PORT = 20080 + Math.floor(Math.random() * 1000);
let cp: ControlPlane;
let kubelet: ProcessKubelet;
let model: ModelServer;
let errand: ErrandProcess;
let admin: CoreV1Api;

/** The pod the task works in now: the newest of its pods. */
const current = (id: string) =>
  [...kubelet.workspaces.keys()]
    .filter((p) => p === `errand-${id}` || p.startsWith(`errand-${id}-`))
    .sort((a, b) => a.length - b.length || a.localeCompare(b))
    .at(-1);

async function deletePod(pod: string): Promise<string> {
  await admin.deleteNamespacedPod({ name: pod, namespace: NS, gracePeriodSeconds: 0 });
  // The kubelet stops the pod's sandboxd on its next look; until then the pod may still answer.
  await eventually(async () => (kubelet.workspaces.has(pod) ? undefined : true), 20_000, `pod ${pod} to stop`);
  return pod.replace(/^errand-/, '');
}

describeWithPart(
  { name: 'a Kubernetes control plane', missing: controlPlaneMissing(), install: 'run `npm run setup:k8s`' },
  'sandbox pods lost at every point of a task',
  () => {
    beforeAll(async () => {
      cp = await startControlPlane();
      await applyK8sManifests(cp);
      admin = cp.kubeConfig().makeApiClient(CoreV1Api);
      kubelet = startProcessKubelet(cp, { namespace: NS, port: PORT, firstIp: 150 });
      ({ model, errand } = await startErrandWithModel({
        ERRAND_SANDBOX_PROVIDER: 'kubernetes',
        ERRAND_KUBECONFIG: cp.kubeConfigFile(await workerToken(cp)),
        ERRAND_K8S_SANDBOXD_PORT: String(PORT),
        ERRAND_K8S_READY_TIMEOUT_SECONDS: '30',
        ERRAND_NARRATE: 'true',
      }));
    });

    afterAll(async () => {
      await errand?.stop();
      await model?.stop();
      await kubelet?.stop();
      await cp?.stop();
    });

    sandboxLossScenarios({
      errand: () => errand,
      model: () => model,
      lose: async (id) => deletePod(current(id)!),
      loseWhenMarked: async (id, marker) => {
        const pod = await eventually(
          async () => {
            const p = current(id);
            return p && existsSync(path.join(kubelet.workspaces.get(p)!, marker)) ? p : undefined;
          },
          60_000,
          `${marker} in the pod of task ${id}`,
        );
        return deletePod(pod);
      },
    });
  },
);
