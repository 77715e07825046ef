// Starts one real Temporal for the whole run: the dev server (in memory, headless, on a free
// port; the same code `errand dev` uses), or with ERRAND_TEST_TEMPORAL=cluster the production-
// shaped one (the server binary on PostgreSQL, 4 shards, SQL visibility; temporal-cluster.ts).
// Without what it needs this fails with the install hint: workflow tests never skip. Everything
// the run creates goes under one temporary directory (TMPDIR for the test workers and all they
// start), removed by global teardown. Plain ESM, loading the TypeScript through tsx, because jest
// loads global setup outside its transform pipeline.
import { tsImport } from 'tsx/esm/api';

export default async function globalSetup() {
  const { startTempRoot } = await tsImport('./temp-root.ts', import.meta.url);
  globalThis.__tempRoot = startTempRoot('test-run');
  if (process.env.ERRAND_TEST_TEMPORAL === 'cluster') {
    const { startTemporalCluster } = await tsImport('./temporal-cluster.ts', import.meta.url);
    const cluster = await startTemporalCluster({ log: console.error });
    process.env.ERRAND_TEST_TEMPORAL_ADDRESS = cluster.address;
    globalThis.__temporal = cluster;
    return;
  }
  const { startTemporalDevServer } = await tsImport('../../apps/cli/temporal-dev-server.ts', import.meta.url);
  const { freePort } = await tsImport('./free-port.ts', import.meta.url);
  const server = await startTemporalDevServer({ port: await freePort(), uiPort: 0, headless: true, startTimeoutMs: 90_000 });
  process.env.ERRAND_TEST_TEMPORAL_ADDRESS = server.address;
  globalThis.__temporal = server;
}
