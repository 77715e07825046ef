// `.errand/sandbox.json` is the repository's: hostile. What it may say of its environment.
import { describe, expect, it } from '@jest/globals';
import { parseSandboxConfig } from '../../../activities/environment/sandbox-config.js';

describe("a repository's sandbox.json", () => {
  it('takes glob patterns for its environment inputs, and refuses control characters, odd shapes and unknown fields', () => {
    expect(parseSandboxConfig('{"environment": {"inputs": ["package-lock.json", "tools/*.lock", "café/\\"quoted\\" name.lock"]}}')).toEqual({ environment: { inputs: ['package-lock.json', 'tools/*.lock', 'café/"quoted" name.lock'] } });
    for (const bad of ['{"environment": {"inputs": ["a\\u0000b"]}}', '{"environment": {"inputs": ["a\\nb"]}}', '{"environment": {"inputs": []}}', '{"environment": {"inputs": "x"}}', '{"environment": {"cache": "no"}}', '{"shell": "rm -rf /"}', 'not json']) {
      expect(parseSandboxConfig(bad)).toHaveProperty('error');
    }
  });
});
