// A sandbox lost at every point of a task, on Kubernetes: the task's pod deleted (as an
// eviction or a drained node would) at the moments the scenarios in
// test/support/sandbox-losses.ts mark, against the real kube-apiserver with the stand-in kubelet
// running each pod as a local sandboxd (test/support/process-kubelet.ts).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { controlPlaneMissing } from '../support/control-plane.js';
import { eventually } from '../support/errand-process.js';
import { describeWithPart } from '../support/required-part.js';
import { sandboxLossScenarios } from '../support/sandbox-losses.js';
import { useKubernetesErrand } from '../support/use.js';

const NS = 'errand-sandboxes';
const PORT = 20080 + Math.floor(Math.random() * 1000);
describeWithPart(
  { name: 'a Kubernetes control plane', missing: controlPlaneMissing(), install: 'run `npm run setup:k8s`' },
  'sandbox pods lost at every point of a task',
  () => {
    const k = useKubernetesErrand({ port: PORT, firstIp: 150, env: { ERRAND_NARRATE: 'true' } });

    /** The pod the task works in now: the newest of its pods. */
    const current = (id: string) =>
      [...k.kubelet.workspaces.keys()]
        .filter((p) => p === `errand-${id}` || p.startsWith(`errand-${id}-`))
        .sort((a, b) => a.length - b.length || a.localeCompare(b))
        .at(-1);

    const deletePod = async (pod: string): Promise<string> => {
      await k.admin.deleteNamespacedPod({ name: pod, namespace: NS, gracePeriodSeconds: 0 });
      // The kubelet stops the pod's sandboxd on its next look; until then the pod may still answer.
      await eventually(async () => (k.kubelet.workspaces.has(pod) ? undefined : true), 20_000, `pod ${pod} to stop`);
      return pod.replace(/^errand-/, '');
    };

    sandboxLossScenarios({
      errand: () => k.errand,
      model: () => k.model,
      lose: async (id) => deletePod(current(id)!),
      loseWhenMarked: async (id, marker) => {
        const pod = await eventually(
          async () => {
            const p = current(id);
            return p && existsSync(path.join(k.kubelet.workspaces.get(p)!, marker)) ? p : undefined;
          },
          60_000,
          `${marker} in the pod of task ${id}`,
        );
        return deletePod(pod);
      },
    });
  },
);
