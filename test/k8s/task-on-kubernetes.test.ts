// A whole task through the Kubernetes provider: Errand runs as a real process with
// ERRAND_SANDBOX_PROVIDER=kubernetes and the worker ServiceAccount's credentials against the
// real kube-apiserver; the stand-in kubelet runs each sandbox pod as a local sandboxd. A pod
// deleted mid-task is replaced and the work restored from the checkpoint; a second task's pod
// starts from the environment the first one's setup left, before its agent runs.
import { expect, it } from '@jest/globals';
import { call, gate, FIX_SUM, FINISH, lastToolResult } from '../fixtures/model-server.js';
import { BUGGY_SUM, git, makeOriginRepo } from '../fixtures/repos.js';
import { controlPlaneMissing } from '../support/control-plane.js';
import { eventually } from '../support/errand-process.js';
import { readEvents } from '../support/sse.js';
import { describeWithPart } from '../support/required-part.js';
import { createTask, waitForStatus } from '../support/tasks.js';
import { useKubernetesErrand } from '../support/use.js';

const NS = 'errand-sandboxes';
const PORT = 19080 + Math.floor(Math.random() * 1000);
describeWithPart(
  { name: 'a Kubernetes control plane', missing: controlPlaneMissing(), install: 'run `npm run setup:k8s`' },
  'a task on Kubernetes',
  () => {
    const t = useKubernetesErrand({ port: PORT, env: { ERRAND_CHECKPOINT_EVERY_STEPS: '1' } });

    it('runs a task in a sandbox pod and removes the pod, its Secret and NetworkPolicy at the end', async () => {
      const origin = makeOriginRepo(BUGGY_SUM);
      t.model.script('[k8s-task]', [call('shell', { command: 'npm test 2>&1 | tail -2; echo "in $PWD"' }), FIX_SUM, FINISH]);
      const id = await createTask(t.errand, { repo: origin, prompt: '[k8s-task] Fix sum.' });
      const task = await waitForStatus(t.errand, id, 'completed');
      expect(task.test).toMatchObject({ command: 'npm test', passed: true });
      expect(t.kubelet.ran.has(`errand-${id}`)).toBe(true);
      expect(git(origin, 'show', `errand/${id}:sum.js`)).toContain('a + b');
      await eventually(async () => {
        const left = await t.admin.listNamespacedPod({ namespace: NS, labelSelector: `errand.dev/task=${id}` });
        const secrets = await t.admin.listNamespacedSecret({ namespace: NS, labelSelector: `errand.dev/task=${id}` });
        return left.items.length === 0 && secrets.items.length === 0 ? true : undefined;
      }, 20_000, 'the sandbox pod and Secret to be deleted');
    });

    it("starts a pod from the environment a first task's setup left, without running the setup again", async () => {
      const origin = makeOriginRepo({
        ...BUGGY_SUM,
        '.gitignore': 'node_modules/\n',
        'package-lock.json': '{"lockfileVersion": 3}\n',
        '.errand/setup.sh': 'mkdir -p node_modules/dep "$HOME/.cache" && echo "module.exports = 1;" > node_modules/dep/index.js && echo ran >> "$HOME/.cache/setup-runs"\n',
      });
      const look = call('shell', { command: 'cat node_modules/dep/index.js "$HOME/.cache/setup-runs"' });
      const runTask = async (marker: string) => {
        const script = t.model.script(marker, [look, FIX_SUM, FINISH]);
        const id = await createTask(t.errand, { repo: origin, prompt: `${marker} Fix sum.` });
        await waitForStatus(t.errand, id, 'completed');
        const events = (await readEvents(`${t.errand.url}/tasks/${id}/events`)).messages.map((m) => m.data);
        return { id, events, saw: lastToolResult(script.requests[1]!) };
      };
      const first = await runTask('[k8s-env-1]');
      expect(first.events).toContainEqual(expect.objectContaining({ type: 'environment_saved' }));
      const second = await runTask('[k8s-env-2]');
      expect(t.kubelet.ran.has(`errand-${second.id}`)).toBe(true);
      // Keyed by the pod's image, unpacked through the pod's sandboxd before the first model call (no copy-on-write layer in a pod).
      expect(second.events).toContainEqual(expect.objectContaining({ type: 'environment_restored', key: first.events.find((e) => e.type === 'environment_saved').key, layer: null }));
      expect(second.saw).toContain('module.exports = 1;\nran\n');
      expect(second.saw).not.toContain('ran\nran');
    });

    it('replaces a pod deleted mid-task and restores the work from the checkpoint', async () => {
      const origin = makeOriginRepo(BUGGY_SUM);
      const inFlight = gate();
      const script = t.model.script('[k8s-evicted]', [
        FIX_SUM,
        { kind: 'later', after: inFlight.promise, reply: call('write_file', { path: 'lost.txt', content: 'x\n' }) },
        (req) => (req.messages.some((m) => m.role === 'user' && m.content?.includes('The sandbox was lost and replaced')) ? call('write_file', { path: 'after.txt', content: 'after\n' }) : FINISH),
        FINISH,
      ]);
      const id = await createTask(t.errand, { repo: origin, prompt: '[k8s-evicted] Fix sum.' });
      await eventually(async () => (script.requests.length >= 2 ? true : undefined), 60_000, 'the second model call');
      await t.admin.deleteNamespacedPod({ name: `errand-${id}`, namespace: NS, gracePeriodSeconds: 0 });
      // The kubelet stops the pod's sandboxd on its next look; until then the pod may still answer
      // (and take the write the model is about to ask for, so no loss would be seen in time).
      await eventually(async () => (t.kubelet.workspaces.has(`errand-${id}`) ? undefined : true), 20_000, 'the pod to stop');
      inFlight.open();
      const task = await waitForStatus(t.errand, id, 'completed');
      expect(task.sandboxLosses).toBe(1);
      expect(t.kubelet.ran.has(`errand-${id}-r1`)).toBe(true);
      expect(git(origin, 'show', `errand/${id}:sum.js`)).toContain('a + b');
      expect(git(origin, 'show', `errand/${id}:after.txt`)).toBe('after\n');
    });
  },
);
