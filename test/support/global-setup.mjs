// Starts one real Temporal dev server (in memory, headless, on a free port) for the whole run,
// with the same code `errand dev` uses. Without the Temporal CLI this fails with the install
// hint: workflow tests never skip. Everything the run creates goes under one temporary
// directory (TMPDIR for the test workers and all they start), removed by global teardown.
// Plain ESM, loading the TypeScript through tsx, because jest loads global setup outside its
// transform pipeline.
import { tsImport } from 'tsx/esm/api';

export default async function globalSetup() {
  const { startTempRoot } = await tsImport('./temp-root.ts', import.meta.url);
  globalThis.__tempRoot = startTempRoot('test-run');
  const { startTemporalDevServer } = await tsImport('../../apps/cli/temporal-dev-server.ts', import.meta.url);
  const { freePort } = await tsImport('./free-port.ts', import.meta.url);
  const server = await startTemporalDevServer({ port: await freePort(), uiPort: 0, headless: true, startTimeoutMs: 90_000 });
  process.env.ERRAND_TEST_TEMPORAL_ADDRESS = server.address;
  globalThis.__temporal = server;
}
