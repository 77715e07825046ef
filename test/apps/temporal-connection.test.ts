import { describe, expect, it } from '@jest/globals';
import { loadConfig } from '../../apps/config.js';
import { temporalConnectionOptions } from '../../apps/temporal-connection.js';

const options = (env: Record<string, string>) => temporalConnectionOptions(loadConfig(env));

describe('temporalConnectionOptions', () => {
  it('is plaintext without a key, TLS with one (Temporal Cloud), and plaintext with one when ERRAND_TEMPORAL_TLS=false says so', () => {
    expect(options({})).toEqual({ address: '127.0.0.1:7233', apiKey: undefined });
    expect(options({ ERRAND_TEMPORAL_API_KEY: 'key' })).toEqual({ address: '127.0.0.1:7233', apiKey: 'key', tls: true });
    expect(options({ ERRAND_TEMPORAL_API_KEY: 'jwt', ERRAND_TEMPORAL_TLS: 'false' })).toEqual({ address: '127.0.0.1:7233', apiKey: 'jwt', tls: false });
    expect(options({ ERRAND_TEMPORAL_TLS: 'true', ERRAND_TEMPORAL_TLS_SERVER_NAME: 'temporal.internal' })).toMatchObject({ tls: { serverNameOverride: 'temporal.internal' } });
  });
});
