// A task in a real pod: the pinned kubelet and kube-scheduler with containerd, runc and CNI
// bridge networking (Debian's) join the test control plane as a node; the errand-sandbox image
// (built from this host's files, as apps/sandboxd/Dockerfile lays it out) runs as a container
// with the provider's pod spec (non-root, read-only root, no token, capabilities dropped,
// the restricted Pod Security admission on); the worker reaches sandboxd at the pod's IP; the
// repository is served over git:// to the worker, which hands it to the pod as a bundle. The
// attacks that must fail on the local sandbox fail in the pod too. NetworkPolicy is not enforced
// here: the bridge CNI plugin ignores it.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { stopChild } from '../../apps/cli/stop-child.js';
import { call, lastToolResult, ModelServer } from '../fixtures/model-server.js';
import { BUGGY_SUM, git, makeOriginRepo } from '../fixtures/repos.js';
import { controlPlaneMissing, startControlPlane, type ControlPlane } from '../support/control-plane.js';
import { startErrandWithModel, type ErrandProcess } from '../support/errand-process.js';
import { freePort } from '../support/free-port.js';
import { applyK8sManifests, workerToken } from '../support/kube-apply.js';
import { realNodeMissing, startRealNode, type RealNode } from '../support/node-runtime.js';
import { describeWithPart } from '../support/required-part.js';
import { buildPauseImage, buildSandboxImage } from '../support/sandbox-image.js';
import { createTask, waitForStatus } from '../support/tasks.js';

const NS = 'errand-sandboxes';
const SANDBOX_IMAGE = 'localhost/errand-sandbox:test';
let cp: ControlPlane;
let node: RealNode;
let model: ModelServer;
let errand: ErrandProcess;
let daemon: ChildProcess;
let gitRoot: string;
let gitUrl: string;

describeWithPart(
  { name: 'a real node (kubelet, containerd, runc, CNI plugins)', missing: controlPlaneMissing() ?? realNodeMissing(), install: 'run `npm run setup:k8s` as root' },
  'a task in a real pod',
  () => {
    beforeAll(async () => {
      cp = await startControlPlane();
      await applyK8sManifests(cp);
      node = await startRealNode(cp, { pauseImage: 'localhost/pause:test' });
      node.importImage(buildPauseImage('localhost/pause:test'));
      node.importImage(await buildSandboxImage(SANDBOX_IMAGE));
      // The repositories, served over git:// on this host's address, which pods can reach.
      gitRoot = mkdtempSync(path.join(os.tmpdir(), 'errand-gitd-'));
      const port = await freePort();
      const hostIp = Object.values(os.networkInterfaces()).flat().find((a) => a && a.family === 'IPv4' && !a.internal)!.address;
      daemon = spawn('git', ['daemon', '--reuseaddr', '--export-all', '--enable=receive-pack', `--base-path=${gitRoot}`, `--port=${port}`, `--listen=${hostIp}`, gitRoot], { stdio: 'ignore' });
      gitUrl = `git://${hostIp}:${port}`;
      ({ model, errand } = await startErrandWithModel({
        ERRAND_SANDBOX_PROVIDER: 'kubernetes',
        ERRAND_KUBECONFIG: cp.kubeConfigFile(await workerToken(cp)),
        ERRAND_K8S_SANDBOX_IMAGE: SANDBOX_IMAGE,
        ERRAND_K8S_READY_TIMEOUT_SECONDS: '120',
        ERRAND_K8S_CPU_REQUEST: '100m',
        ERRAND_K8S_MEMORY_REQUEST: '256Mi',
      }));
    }, 600_000);

    afterAll(async () => {
      await errand?.stop();
      await model?.stop();
      if (daemon) await stopChild(daemon, 2_000);
      await node?.stop();
      await cp?.stop();
    });

    it('clones, edits, tests and publishes from inside a container on a real kubelet', async () => {
      // A link committed in the repository to a path the pod could write (its home), not there yet.
      const bare = makeOriginRepo({ ...BUGGY_SUM, 'link-out': { symlink: '/home/sandbox/planted-by-repo-link' } });
      mkdirSync(gitRoot, { recursive: true });
      renameSync(bare, path.join(gitRoot, 'sum.git'));
      const repo = `${gitUrl}/sum.git`;
      const script = model.script('[real-pod]', [
        call('shell', { command: 'echo "user $(id -u) on $(cat /proc/sys/kernel/hostname)"; touch /should-fail 2>&1 || echo "root is read-only"; ls /var/run/secrets 2>&1 || echo "no service account token"' }),
        call('write_file', { path: 'link-out', content: 'planted' }),
        call('shell', { command: 'ln -s /home/sandbox/planted-by-agent-link my-link && grep CapEff /proc/self/status' }),
        call('write_file', { path: 'my-link', content: 'planted' }),
        call('shell', { command: 'rm my-link link-out; ls -A /home/sandbox; echo listed' }),
        call('write_file', { path: 'sum.js', content: 'exports.sum = (a, b) => a + b;\n' }),
        call('shell', { command: "npm test 2>&1 | grep -E '^# (pass|fail)'" }),
        call('finish', { summary: 'sum adds now' }),
      ]);
      const id = await createTask(errand, { repo, prompt: '[real-pod] Fix sum.' });

      // Watch the pod while it lives: scheduled on the real node, running the sandbox image.
      const core = cp.kubeConfig().makeApiClient(CoreV1Api);
      let seen: V1Pod | undefined;
      const watcher = setInterval(() => {
        void core.readNamespacedPod({ name: `errand-${id}`, namespace: NS }).then((p) => {
          if (p.status?.phase === 'Running') seen = p;
        }, () => undefined);
      }, 250);
      const task = await waitForStatus(errand, id, 'completed', 300_000).finally(() => clearInterval(watcher));

      expect(seen?.spec?.nodeName).toBe(node.name);
      expect(seen?.status?.containerStatuses?.[0]).toMatchObject({ image: SANDBOX_IMAGE, ready: true });
      expect(seen?.status?.podIP).toMatch(new RegExp(`^${node.podCidr.split('.').slice(0, 2).join('\\.')}\\.`));
      const inside = lastToolResult(script.requests[1]!);
      expect(inside).toContain(`user 1000 on errand-${id}`);
      expect(inside).toContain('root is read-only');
      expect(inside).toContain('no service account token');
      expect(lastToolResult(script.requests[2]!)).toBe('error: link-out: outside the workspace; use a path inside it');
      expect(lastToolResult(script.requests[3]!)).toContain('CapEff:\t0000000000000000');
      expect(lastToolResult(script.requests[4]!)).toBe('error: my-link: outside the workspace; use a path inside it');
      expect(lastToolResult(script.requests[5]!)).not.toContain('planted');
      expect(lastToolResult(script.requests[7]!)).toMatch(/# pass 1/);
      expect(task.test).toMatchObject({ command: 'npm test', passed: true });
      expect(git(path.join(gitRoot, 'sum.git'), 'show', `errand/${id}:sum.js`)).toContain('a + b');
      const pods = await core.listNamespacedPod({ namespace: NS, labelSelector: `errand.dev/task=${id}` });
      expect(pods.items.filter((p) => !p.metadata?.deletionTimestamp)).toEqual([]);
    });
  },
);
