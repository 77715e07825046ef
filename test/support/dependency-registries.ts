// The package registries a dependency bump reads, set up where a sandbox can reach them, for the
// dependency-bump tests and the history recorder alike: this machine's own network address, the
// Errand environment that sends a sandbox's package managers there, and an npm project whose
// lockfile real npm wrote against the test registry.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { probeBubblewrap } from '../../apps/worker/confinement.js';
import { makeOriginRepo } from '../fixtures/repos.js';
import type { GoProxy } from './go-proxy.js';
import { npmEnv, type NpmRegistry } from './npm-registry.js';

const run = promisify(execFile);

/**
 * The address the registries listen on: this machine's own network address, as a company mirror
 * would on its. A sandbox sends loopback addresses to its own loopback (and Go never proxies
 * them), so it reaches these through its egress proxy, which the operator's allowlist lets through.
 */
export function registryHost(): string {
  const host = Object.values(os.networkInterfaces())
    .flat()
    .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
  if (!host) throw new Error('the dependency-bump tests need a non-loopback IPv4 address on this machine for their registries');
  return host;
}

/** Errand's environment for sandboxes that install from `npm` (and `goProxy`): the registries, and the egress allowlist that lets them through. */
export async function registriesEnv(registries: { npm: NpmRegistry; goProxy?: GoProxy }): Promise<Record<string, string>> {
  const { npm, goProxy } = registries;
  return {
    ERRAND_NPM_REGISTRY: npm.url,
    ...(goProxy && { ERRAND_GOPROXY: goProxy.url, ERRAND_GOSUMDB: 'off' }),
    ERRAND_SANDBOX_EGRESS_ALLOW: [npm, goProxy].flatMap((r) => (r ? [new URL(r.url).host] : [])).join(','),
    // Confined where this machine can confine, so the egress proxy is what lets the sandbox out.
    ERRAND_SANDBOX_CONFINEMENT: 'bwrap' in (await probeBubblewrap()) ? 'bubblewrap' : 'none',
  };
}

/** An npm project on `deps` (name → version, saved as `^version`) with `test` as its one test file's body, and the lockfile real npm writes against `npm`. */
export async function npmOriginRepo(npm: NpmRegistry, deps: Record<string, string>, test: string): Promise<string> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'errand-npm-fixture-'));
  try {
    const pkg = { name: 'shop', version: '1.0.0', private: true, scripts: { test: 'node --test' } };
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify(pkg, null, 2));
    const specs = Object.entries(deps).map(([name, version]) => `${name}@${version}`);
    await run('npm', ['install', '--package-lock-only', '--no-audit', '--no-fund', '--registry', npm.url, '--cache', path.join(dir, '.cache'), ...specs], { cwd: dir, env: npmEnv() });
    return makeOriginRepo({
      'package.json': readFileSync(path.join(dir, 'package.json'), 'utf8'),
      'package-lock.json': readFileSync(path.join(dir, 'package-lock.json'), 'utf8'),
      '.gitignore': 'node_modules/\n',
      'shop.test.js': `const test = require('node:test');\nconst assert = require('node:assert');\n${test}\n`,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
