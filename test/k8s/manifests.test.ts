// k8s/ and the Helm chart against a real, pinned kube-apiserver: helm lint; helm template with
// default and full values; every rendered object applied with strict field validation (the
// apiserver's own OpenAPI schemas); values the schema must refuse; and the worker's RBAC
// exercised as the worker's ServiceAccount.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, expect, it } from '@jest/globals';
import { parseAllDocuments } from 'yaml';
import { CoreV1Api, NetworkingV1Api, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { loadConfig } from '../../apps/config.js';
import { controlPlaneMissing } from '../support/control-plane.js';
import { PROJECT_ROOT } from '../support/errand-process.js';
import { HELM, KUBERNETES_VERSION } from '../support/k8s-setup.js';
import { applyManifests, request, workerToken } from '../support/kube-apply.js';
import { eventually } from '../support/errand-process.js';
import { describeWithPart } from '../support/required-part.js';
import { useControlPlane } from '../support/use.js';

const run = promisify(execFile);
const CHART = path.join(PROJECT_ROOT, 'helm', 'errand');
const FULL = path.join(PROJECT_ROOT, 'test', 'k8s', 'values-full.yaml');
const OBJECT_STORAGE = path.join(PROJECT_ROOT, 'test', 'k8s', 'values-object-storage.yaml');
const helm = async (...args: string[]) => run(HELM, args, { maxBuffer: 16 * 1024 * 1024 }).then(
  (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
  (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: e.code ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' }),
);
const template = (...args: string[]) => helm('template', 'errand', CHART, '--namespace', 'errand', '--kube-version', KUBERNETES_VERSION, ...args);

let k: ReturnType<typeof useControlPlane>;

describeWithPart(
  { name: 'a Kubernetes control plane and helm', missing: controlPlaneMissing(), install: 'run `npm run setup:k8s` (builds kube-apiserver and helm with Go, installs etcd from Debian)' },
  'k8s/ and the Helm chart',
  () => {
    k = useControlPlane({ manifests: false });
    beforeAll(async () => {
      // The namespaces the chart's objects live in: a dry run of the chart creates none.
      await applyManifests(k.cp, readFileSync(path.join(PROJECT_ROOT, 'k8s', 'namespaces.yaml'), 'utf8'));
      // The alerts' kind, as the prometheus-operator defines it (a stand-in CRD), once it serves.
      await applyManifests(k.cp, readFileSync(path.join(PROJECT_ROOT, 'test', 'k8s', 'prometheusrule-crd.yaml'), 'utf8'));
      await eventually(async () => ((await request(k.cp, 'GET', '/apis/monitoring.coreos.com/v1/namespaces/errand/prometheusrules')).status === 200 ? true : undefined), 30_000, 'the PrometheusRule CRD to serve');
    });

    it('runs the pinned Kubernetes version', async () => {
      const version = JSON.parse((await request(k.cp, 'GET', '/version')).body) as { gitVersion: string };
      expect(version.gitVersion).toBe(KUBERNETES_VERSION);
    });

    it('applies every manifest in k8s/ to the API server, strictly validated', async () => {
      const files = readdirSync(path.join(PROJECT_ROOT, 'k8s')).filter((f) => f.endsWith('.yaml')).sort((a) => (a === 'namespaces.yaml' ? -1 : 0));
      expect(files).toEqual(expect.arrayContaining(['namespaces.yaml', 'rbac.yaml', 'networkpolicy.yaml', 'config.example.yaml']));
      for (const file of files) {
        const applied = await applyManifests(k.cp, readFileSync(path.join(PROJECT_ROOT, 'k8s', file), 'utf8'));
        expect(applied.filter((a) => a.status >= 300)).toEqual([]);
      }
      const ns = await k.cp.kubeConfig().makeApiClient(CoreV1Api).readNamespace({ name: 'errand-sandboxes' });
      expect(ns.metadata?.labels?.['pod-security.kubernetes.io/enforce']).toBe('restricted');
      const deny = await k.cp.kubeConfig().makeApiClient(NetworkingV1Api).readNamespacedNetworkPolicy({ name: 'default-deny', namespace: 'errand-sandboxes' });
      expect(deny.spec).toMatchObject({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
    });

    it('limits the worker to what it needs in the sandbox namespace, and nothing cluster-wide', async () => {
      const worker = k.cp.kubeConfig(await workerToken(k.cp));
      const asWorker = worker.makeApiClient(CoreV1Api);
      const secret = await asWorker.createNamespacedSecret({ namespace: 'errand-sandboxes', body: { metadata: { name: 'rbac-probe' }, stringData: { token: 'x' } } });
      expect(secret.metadata?.name).toBe('rbac-probe');
      await asWorker.deleteNamespacedSecret({ name: 'rbac-probe', namespace: 'errand-sandboxes' });
      await expect(asWorker.listNamespacedPod({ namespace: 'errand-sandboxes' })).resolves.toBeDefined();
      const refused = async (call: Promise<unknown>) => call.then(() => 200, (e: { code?: number }) => e.code);
      expect(await refused(asWorker.listNamespacedPod({ namespace: 'errand' }))).toBe(403);
      expect(await refused(asWorker.listNamespacedSecret({ namespace: 'kube-system' }))).toBe(403);
      expect(await refused(asWorker.listNamespace())).toBe(403);
      expect(await refused(asWorker.readNamespacedSecret({ name: 'errand-secrets', namespace: 'errand' }))).toBe(403);
      expect(await refused(worker.makeApiClient(RbacAuthorizationV1Api).createClusterRole({ body: { metadata: { name: 'escalate' }, rules: [] } }))).toBe(403);
    });

    it('lints the chart with default and with full values', async () => {
      for (const values of [[], ['-f', FULL]]) {
        const lint = await helm('lint', CHART, '--strict', '--kube-version', KUBERNETES_VERSION, ...values);
        expect({ values, code: lint.code, out: lint.stdout + lint.stderr }).toMatchObject({ code: 0, out: expect.stringContaining('0 chart(s) failed') });
      }
    });

    it.each([['default values', []], ['full values', ['-f', FULL]], ['object storage', ['-f', OBJECT_STORAGE]]])('renders objects the API server accepts (%s)', async (_what, values) => {
      const rendered = await template(...values);
      expect(rendered.stderr).toBe('');
      const applied = await applyManifests(k.cp, rendered.stdout, { dryRun: true, namespace: 'errand' });
      expect(applied.filter((a) => a.status >= 300)).toEqual([]);
      const kinds = applied.map((a) => a.kind);
      for (const kind of ['Deployment', 'Service', 'ConfigMap', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'Role', 'RoleBinding', 'NetworkPolicy', 'ServiceAccount']) {
        expect(kinds).toContain(kind);
      }
      if (values.includes(FULL)) expect(kinds).toEqual(expect.arrayContaining(['Ingress', 'PrometheusRule']));
    });

    it('on object storage makes no volume at all, and hands the store to both processes as their configuration reads it', async () => {
      const docs = parseAllDocuments((await template('-f', OBJECT_STORAGE)).stdout).map((d) => d.toJS() as any);
      expect(docs.filter((d) => d?.kind === 'PersistentVolumeClaim')).toEqual([]);
      const configMap = docs.find((d) => d?.kind === 'ConfigMap' && d.data?.ERRAND_TASK_QUEUE);
      expect(loadConfig({ ...configMap.data, ERRAND_GITHUB_TOKEN: 'from-the-secret' }).storage).toEqual({
        kind: 's3',
        s3: { bucket: 'errand-artifacts', prefix: 'prod/errand', region: 'us-east-1', endpoint: 'http://s3.storage.svc:7070', forcePathStyle: true },
      });
      for (const component of ['api', 'worker']) {
        const pod = docs.find((d) => d?.kind === 'Deployment' && d.metadata.name.endsWith(`-${component}`)).spec.template.spec;
        expect(pod.volumes.find((v: { name: string }) => v.name === 'state')).toEqual({ name: 'state', emptyDir: {} });
        expect(JSON.stringify(pod.volumes)).not.toContain('persistentVolumeClaim');
        // Keys from the Secret, never in the ConfigMap; the workload identity on the ServiceAccount.
        expect(pod.containers[0].env).toEqual(expect.arrayContaining([
          { name: 'AWS_ACCESS_KEY_ID', valueFrom: { secretKeyRef: { name: 'errand-s3', key: 'AWS_ACCESS_KEY_ID' } } },
          { name: 'AWS_SECRET_ACCESS_KEY', valueFrom: { secretKeyRef: { name: 'errand-s3', key: 'AWS_SECRET_ACCESS_KEY' } } },
        ]));
        const account = docs.find((d) => d?.kind === 'ServiceAccount' && d.metadata.name === pod.serviceAccountName);
        expect(account.metadata.annotations).toEqual({ 'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/errand' });
      }
      // Without it, the volume as before.
      const local = parseAllDocuments((await template()).stdout).map((d) => d.toJS() as any);
      expect(local.filter((d) => d?.kind === 'PersistentVolumeClaim')).toHaveLength(1);
    });

    it('hands the admission limits and the tracing endpoint to the API and the workers as their configuration reads them', async () => {
      const configMap = parseAllDocuments((await template('-f', FULL)).stdout)
        .map((d) => d.toJS() as { kind?: string; data?: Record<string, string> })
        .find((o) => o?.kind === 'ConfigMap' && o.data?.ERRAND_TASK_QUEUE)!;
      // (The forge's token comes from a Secret.)
      expect(loadConfig({ ...configMap.data, ERRAND_GITHUB_TOKEN: 'from-the-secret' }).admission).toEqual({
        maxRunning: 40,
        maxRunningPerRepo: 3,
        repoLimits: [
          { glob: 'acme/legacy-*', max: 1 },
          { glob: 'acme/monorepo', max: 8 },
        ],
        dailyBudgetUsd: 25,
        sweepSeconds: 60,
      });
      expect(configMap.data?.OTEL_EXPORTER_OTLP_ENDPOINT).toBe('http://otel-collector.observability:4318');
    });

    it('ships the alerts and the Grafana dashboard, over the metrics Errand serves, and says where to scrape', async () => {
      const docs = parseAllDocuments((await template('-f', FULL)).stdout).map((d) => d.toJS() as any);
      const rule = docs.find((d) => d?.kind === 'PrometheusRule');
      expect(rule.metadata.labels).toMatchObject({ release: 'kube-prometheus-stack' });
      const alerts = rule.spec.groups.flatMap((g: any) => g.rules);
      expect(alerts.map((a: any) => a.alert)).toEqual(['ErrandTasksFailing', 'ErrandWorkBackingUp', 'ErrandSandboxStartsSlow', 'ErrandWorkerDown']);
      const dashboard = JSON.parse(docs.find((d) => d?.kind === 'ConfigMap' && d.metadata.name.endsWith('-dashboard')).data['errand.json']);
      expect(dashboard.panels.length).toBeGreaterThanOrEqual(10);
      // Every Errand metric they read is one the API or the worker defines.
      const defined = ['apps/worker/metrics.ts', 'apps/api/metrics/api-metrics.ts'].map((f) => readFileSync(path.join(PROJECT_ROOT, f), 'utf8')).join('\n');
      const used = [...JSON.stringify({ alerts, dashboard }).matchAll(/\b(errand_[a-z_]+?)(_bucket|_count|_sum)?\b/g)].map((m) => m[1]!);
      expect(used.length).toBeGreaterThan(10);
      for (const name of new Set(used)) expect({ name, defined: defined.includes(`'${name}'`) }).toEqual({ name, defined: true });
      const worker = docs.find((d) => d?.kind === 'Deployment' && d.metadata.name.endsWith('-worker'));
      expect(worker.spec.template.metadata.annotations).toMatchObject({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9100', 'prometheus.io/path': '/metrics' });
      expect(worker.spec.template.spec.containers[0].ports).toEqual([{ name: 'metrics', containerPort: 9100 }]);
      expect(docs.find((d) => d?.kind === 'ConfigMap' && d.data?.ERRAND_WORKER_METRICS_PORT)?.data.ERRAND_WORKER_METRICS_PORT).toBe('9100');
    });

    it('mounts the MCP servers and the scoped secrets in the API and the workers, as files their configuration reads', async () => {
      const docs = parseAllDocuments((await template('-f', FULL)).stdout).map((d) => d.toJS() as any);
      const configMap = docs.find((d) => d?.kind === 'ConfigMap' && d.data?.ERRAND_TASK_QUEUE);
      const agentConfig = docs.find((d) => d?.kind === 'ConfigMap' && d.metadata.name === 'errand-agent-config');
      expect(Object.keys(agentConfig.data).sort()).toEqual(['mcp.json', 'secrets.json']);
      // Where each secret is, never what: its value stays in the operator's Secret.
      expect(JSON.parse(agentConfig.data['secrets.json']).secrets).toEqual({
        DOCS_TOKEN: { file: 'secrets/docs-token', scopes: ['mcp:docs', 'setup'], repos: ['acme/*'] },
        GITHUB_MCP_TOKEN: { file: 'secrets/github-mcp-token', scopes: ['mcp:github'] },
        SENTRY_TOKEN: { file: 'secrets/SENTRY_TOKEN', scopes: ['mcp:sentry'], repos: ['acme/web'] },
      });
      for (const component of ['api', 'worker']) {
        const pod = docs.find((d) => d?.kind === 'Deployment' && d.metadata.name === `errand-${component}`).spec.template.spec;
        const container = pod.containers[0];
        const mount = container.volumeMounts.find((m: { name: string }) => m.name === 'agent-config');
        expect(mount).toEqual({ name: 'agent-config', mountPath: '/etc/errand/agent', readOnly: true });
        const env = Object.fromEntries(container.env.map((e: { name: string; value?: string }) => [e.name, e.value]));
        expect(env).toMatchObject({ ERRAND_MCP_CONFIG: '/etc/errand/agent/mcp.json', ERRAND_SECRETS_FILE: '/etc/errand/agent/secrets.json' });
        expect(JSON.stringify(container.env)).not.toContain('errand-agent-secrets');
        // The volume laid out as the kubelet would, a stand-in value (and newline) per key of the Secret.
        const dir = mkdtempSync(path.join(os.tmpdir(), `errand-agent-config-${component}-`));
        try {
          const sources = pod.volumes.find((v: { name: string }) => v.name === 'agent-config').projected.sources;
          expect(sources).toHaveLength(2);
          for (const source of sources) {
            if (source.configMap) {
              expect(source.configMap.name).toBe(agentConfig.metadata.name);
              for (const [file, text] of Object.entries(agentConfig.data)) writeFileSync(path.join(dir, file), text as string);
            } else {
              expect(source.secret.name).toBe('errand-agent-secrets');
              for (const { key, path: file } of source.secret.items) {
                mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
                writeFileSync(path.join(dir, file), `value of ${key}\n`);
              }
            }
          }
          const inPod = (file: string) => path.join(dir, path.relative(mount.mountPath, file));
          const config = loadConfig({ ...configMap.data, ERRAND_GITHUB_TOKEN: 'from-the-secret', ERRAND_MCP_CONFIG: inPod(env.ERRAND_MCP_CONFIG), ERRAND_SECRETS_FILE: inPod(env.ERRAND_SECRETS_FILE) });
          expect(config.mcp).toEqual({
            mcpServers: {
              github: { type: 'http', url: 'https://api.githubcopilot.com/mcp/', headers: { Authorization: 'Bearer ${GITHUB_MCP_TOKEN}' }, tools: ['get_issue', 'search_code'], readOnlyTools: ['get_issue', 'search_code'] },
              docs: { type: 'stdio', command: 'npx', args: ['-y', '@acme/docs-mcp'], env: { DOCS_TOKEN: '${DOCS_TOKEN}' }, network: false, tools: ['lookup'] },
            },
            repos: { 'acme/web': { mcpServers: { sentry: { type: 'sse', url: 'https://mcp.sentry.dev/sse', headers: { Authorization: 'Bearer ${SENTRY_TOKEN}' }, tools: ['get_issue'] } } } },
          });
          expect(config.scopedSecrets).toEqual([
            { name: 'DOCS_TOKEN', value: 'value of docs-token', scopes: ['mcp:docs', 'setup'], repos: ['acme/*'] },
            { name: 'GITHUB_MCP_TOKEN', value: 'value of github-mcp-token', scopes: ['mcp:github'] },
            { name: 'SENTRY_TOKEN', value: 'value of SENTRY_TOKEN', scopes: ['mcp:sentry'], repos: ['acme/web'] },
          ]);
          // Values the logs redact; and none of them in any ConfigMap.
          expect(config.secrets).toEqual(expect.arrayContaining(['value of docs-token', 'value of github-mcp-token', 'value of SENTRY_TOKEN']));
          expect(JSON.stringify(docs.filter((d) => d?.kind === 'ConfigMap'))).not.toMatch(/value of /);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }
      // Unset (the defaults), nothing of it is rendered.
      expect((await template()).stdout).not.toMatch(/agent-config|ERRAND_MCP_CONFIG|ERRAND_SECRETS_FILE/);
    });

    it('probes the API on its health endpoints and runs both processes unprivileged', async () => {
      const docs = (await template('-f', FULL)).stdout;
      expect(docs).toContain('path: /health/live');
      expect(docs).toContain('path: /health/ready');
      expect(docs.match(/runAsNonRoot: true/g)).toHaveLength(2);
      expect(docs.match(/readOnlyRootFilesystem: true/g)).toHaveLength(2);
      expect(docs).toContain('ERRAND_TEMPORAL_TLS_CERT_FILE: /etc/errand/temporal-tls/tls.crt');
      expect(docs).toContain('name: ERRAND_GITHUB_APP_PRIVATE_KEY');
      // The API's tokens file comes mounted from its Secret; no token is in the environment.
      expect(docs).toContain('value: /etc/errand/tokens/tokens.yaml');
      expect(docs).toContain('mountPath: /etc/errand/tokens');
      expect(docs).not.toContain('ERRAND_API_TOKENS\n');
      expect(docs).not.toMatch(/replace-me|BEGIN .*PRIVATE KEY/);
    });

    it.each([
      ['a worker count below one', ['--set', 'worker.replicas=0'], "at '/worker/replicas': minimum: got 0, want 1"],
      ['an unknown forge', ['--set', 'forge.kind=gitlab'], "at '/forge/kind': value must be one of 'github', 'local'"],
      ['a misspelled key', ['--set', 'api.replicaz=2'], "at '/api': additional properties 'replicaz' not allowed"],
      ['an egress rule that is not a CIDR', ['--set', 'sandbox.egress.allowlist[0]=github.com'], "at '/sandbox/egress/allowlist/0': 'github.com' does not match pattern"],
      ['a Temporal address without a port', ['--set', 'temporal.address=temporal'], "at '/temporal/address'"],
      ['object storage without a bucket', ['--set', 'objectStorage.endpoint=http://s3.storage.svc:7070'], "at '/objectStorage/bucket'"],
      ['a bucket with neither its region nor an endpoint', ['--set', 'objectStorage.bucket=errand-artifacts'], "at '/objectStorage'"],
      ['a bucket name S3 would refuse', ['--set', 'objectStorage.bucket=Errand_Artifacts', '--set', 'objectStorage.region=us-east-1'], "at '/objectStorage/bucket'"],
      ['an MCP server without its tools', ['--set', 'mcp.servers.github.url=https://mcp.example.com/'], "at '/mcp/servers/github'"],
      ['secret scopes without the Secret holding their values', ['--set', 'secrets.scopes.NPM_TOKEN.scopes[0]=setup'], "at '/secrets/existingSecret'"],
      ['a secret scope other than setup or mcp:<server>', ['--set', 'secrets.existingSecret=errand-agent-secrets', '--set', 'secrets.scopes.NPM_TOKEN.scopes[0]=agent'], "at '/secrets/scopes/NPM_TOKEN/scopes/0'"],
    ])('refuses %s with a message naming the value', async (_what, args, message) => {
      const rendered = await template(...args);
      expect(rendered.code).not.toBe(0);
      expect(rendered.stderr).toContain(message);
    });
  },
);
