// `npm run setup:cluster`: the production-shaped Temporal of the cluster lane (see temporal-cluster.ts).
import { setupTemporalCluster } from './temporal-cluster.js';

setupTemporalCluster().catch((err: Error) => {
  console.error(`setup:cluster failed: ${err.message}`);
  process.exit(1);
});
