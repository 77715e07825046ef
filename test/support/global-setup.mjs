// Starts one real Temporal dev server (in memory, headless, on a free port) for the whole run,
// with the same code `errand dev` uses. Without the Temporal CLI this fails with the install
// hint: workflow tests never skip. Plain ESM, loading the TypeScript through tsx, because jest
// loads global setup outside its transform pipeline.
import { tsImport } from 'tsx/esm/api';

export default async function globalSetup() {
  const { startTemporalDevServer } = await tsImport('../../apps/cli/temporal-dev-server.ts', import.meta.url);
  const { freePort } = await tsImport('./free-port.ts', import.meta.url);
  const server = await startTemporalDevServer({ port: await freePort(), uiPort: 0, headless: true, startTimeoutMs: 90_000 });
  process.env.ERRAND_TEST_TEMPORAL_ADDRESS = server.address;
  globalThis.__temporal = server;
}
