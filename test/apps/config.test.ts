import { describe, expect, it } from '@jest/globals';
import { loadConfig } from '../../apps/config.js';

describe('loadConfig', () => {
  it('has working defaults with no environment', () => {
    const c = loadConfig({});
    expect(c.api.port).toBe(3000);
    expect(c.temporal).toMatchObject({ address: '127.0.0.1:7233', namespace: 'default', taskQueue: 'errand' });
    expect(c.model).toBeUndefined();
  });

  it('names the variable when a value is bad', () => {
    expect(() => loadConfig({ ERRAND_API_PORT: 'eighty' })).toThrow(/ERRAND_API_PORT/);
    expect(() => loadConfig({ ERRAND_MODEL_BASE_URL: 'not a url', ERRAND_MODEL: 'm' })).toThrow(/ERRAND_MODEL_BASE_URL/);
  });

  it('asks for both model variables when only one is set', () => {
    expect(() => loadConfig({ ERRAND_MODEL: 'gpt' })).toThrow(/set both ERRAND_MODEL_BASE_URL and ERRAND_MODEL/);
  });
});
