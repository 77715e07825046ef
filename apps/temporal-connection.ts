// How Errand's processes reach Temporal: the address, TLS (server CA, client certificate for
// mTLS, SNI name) and an API key (Temporal Cloud's, or a JWT for a self-hosted server that checks
// them), for the worker's native connection and the API's client alike.
import { readFileSync } from 'node:fs';
import type { TLSConfig } from '@temporalio/client';
import type { Config } from './config.js';

export function temporalConnectionOptions(config: Config): { address: string; tls?: TLSConfig | boolean; apiKey?: string } {
  const { address, tls, apiKey } = config.temporal;
  // An API key turns TLS on unless ERRAND_TEMPORAL_TLS=false says the connection is plaintext.
  if (!tls) return { address, apiKey, ...(apiKey ? { tls: tls !== false } : {}) };
  const read = (file?: string) => (file ? readFileSync(file) : undefined);
  const crt = read(tls.certFile);
  const key = read(tls.keyFile);
  return {
    address,
    apiKey,
    tls: {
      serverNameOverride: tls.serverName,
      serverRootCACertificate: read(tls.caFile),
      ...(crt && key ? { clientCertPair: { crt, key } } : {}),
    },
  };
}
