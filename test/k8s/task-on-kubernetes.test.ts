// A whole task through the Kubernetes provider: Errand runs as a real process with
// ERRAND_SANDBOX_PROVIDER=kubernetes and the worker ServiceAccount's credentials against the
// real kube-apiserver; the stand-in kubelet runs each sandbox pod as a local sandboxd. A pod
// deleted mid-task is replaced and the work restored from the checkpoint.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { CoreV1Api } from '@kubernetes/client-node';
import { call, gate, ModelServer, FIX_SUM, FINISH } from '../fixtures/model-server.js';
import { BUGGY_SUM, git, makeOriginRepo } from '../fixtures/repos.js';
import { controlPlaneMissing, startControlPlane, type ControlPlane } from '../support/control-plane.js';
import { eventually, startErrandWithModel, type ErrandProcess } from '../support/errand-process.js';
import { applyK8sManifests, workerToken } from '../support/kube-apply.js';
import { startProcessKubelet, type ProcessKubelet } from '../support/process-kubelet.js';
import { describeWithPart } from '../support/required-part.js';
import { createTask, waitForStatus } from '../support/tasks.js';

const NS = 'errand-sandboxes';
const PORT = 19080 + Math.floor(Math.random() * 1000);
let cp: ControlPlane;
let kubelet: ProcessKubelet;
let model: ModelServer;
let errand: ErrandProcess;
let admin: CoreV1Api;


describeWithPart(
  { name: 'a Kubernetes control plane', missing: controlPlaneMissing(), install: 'run `npm run setup:k8s`' },
  'a task on Kubernetes',
  () => {
    beforeAll(async () => {
      cp = await startControlPlane();
      await applyK8sManifests(cp);
      admin = cp.kubeConfig().makeApiClient(CoreV1Api);
      const token = await workerToken(cp);
      kubelet = startProcessKubelet(cp, { namespace: NS, port: PORT });
      ({ model, errand } = await startErrandWithModel({
        ERRAND_SANDBOX_PROVIDER: 'kubernetes',
        ERRAND_KUBECONFIG: cp.kubeConfigFile(token),
        ERRAND_K8S_SANDBOXD_PORT: String(PORT),
        ERRAND_K8S_READY_TIMEOUT_SECONDS: '30',
        ERRAND_CHECKPOINT_EVERY_STEPS: '1',
      }));
    });

    afterAll(async () => {
      await errand?.stop();
      await model?.stop();
      await kubelet?.stop();
      await cp?.stop();
    });

    it('runs a task in a sandbox pod and removes the pod, its Secret and NetworkPolicy at the end', async () => {
      const origin = makeOriginRepo(BUGGY_SUM);
      model.script('[k8s-task]', [call('shell', { command: 'npm test 2>&1 | tail -2; echo "in $PWD"' }), FIX_SUM, FINISH]);
      const id = await createTask(errand, { repo: origin, prompt: '[k8s-task] Fix sum.' });
      const task = await waitForStatus(errand, id, 'completed');
      expect(task.test).toMatchObject({ command: 'npm test', passed: true });
      expect(kubelet.ran.has(`errand-${id}`)).toBe(true);
      expect(git(origin, 'show', `errand/${id}:sum.js`)).toContain('a + b');
      await eventually(async () => {
        const left = await admin.listNamespacedPod({ namespace: NS, labelSelector: `errand.dev/task=${id}` });
        const secrets = await admin.listNamespacedSecret({ namespace: NS, labelSelector: `errand.dev/task=${id}` });
        return left.items.length === 0 && secrets.items.length === 0 ? true : undefined;
      }, 20_000, 'the sandbox pod and Secret to be deleted');
    });

    it('replaces a pod deleted mid-task and restores the work from the checkpoint', async () => {
      const origin = makeOriginRepo(BUGGY_SUM);
      const inFlight = gate();
      const script = model.script('[k8s-evicted]', [
        FIX_SUM,
        { kind: 'later', after: inFlight.promise, reply: call('write_file', { path: 'lost.txt', content: 'x\n' }) },
        (req) => (req.messages.some((m) => m.role === 'user' && m.content?.includes('The sandbox was lost and replaced')) ? call('write_file', { path: 'after.txt', content: 'after\n' }) : FINISH),
        FINISH,
      ]);
      const id = await createTask(errand, { repo: origin, prompt: '[k8s-evicted] Fix sum.' });
      await eventually(async () => (script.requests.length >= 2 ? true : undefined), 60_000, 'the second model call');
      await admin.deleteNamespacedPod({ name: `errand-${id}`, namespace: NS, gracePeriodSeconds: 0 });
      inFlight.open();
      const task = await waitForStatus(errand, id, 'completed');
      expect(task.sandboxLosses).toBe(1);
      expect(kubelet.ran.has(`errand-${id}-r1`)).toBe(true);
      expect(git(origin, 'show', `errand/${id}:sum.js`)).toContain('a + b');
      expect(git(origin, 'show', `errand/${id}:after.txt`)).toBe('after\n');
    });
  },
);
