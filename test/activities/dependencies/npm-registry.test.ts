// The local npm registry that dependency tests publish their fixtures to: a real `npm publish` and
// `npm install` work against it, and a backdated publish time is what the registry then serves.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { npmEnv, startNpmRegistry, type NpmRegistry } from '../../support/npm-registry.js';

const run = promisify(execFile);
const threeDaysAgo = new Date(Date.now() - 3 * 86_400_000);

describe('the local npm registry', () => {
  let registry: NpmRegistry;
  let project: string;

  beforeAll(async () => {
    project = await mkdtemp(path.join(os.tmpdir(), 'errand-npm-registry-test-'));
    registry = await startNpmRegistry();
    await registry.publish({ name: 'left-pad-fixture', version: '1.0.0' });
    await registry.publish({ name: 'left-pad-fixture', version: '1.0.1', repository: 'https://github.com/example/left-pad-fixture' });
    await registry.setPublishTime('left-pad-fixture', '1.0.1', threeDaysAgo);
  });

  afterAll(async () => {
    await registry?.stop();
    if (project) await rm(project, { recursive: true, force: true });
  });

  it('serves the published versions and the backdated publish time', async () => {
    const res = await fetch(`${registry.url}left-pad-fixture`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { versions: Record<string, unknown>; time: Record<string, string>; 'dist-tags': Record<string, string> };
    expect(Object.keys(doc.versions).sort()).toEqual(['1.0.0', '1.0.1']);
    expect(doc['dist-tags'].latest).toBe('1.0.1');
    expect(doc.time['1.0.1']).toBe(threeDaysAgo.toISOString());
    expect(Date.now() - Date.parse(doc.time['1.0.0'])).toBeLessThan(10 * 60_000);
    expect(doc.time.modified).toBe(doc.time['1.0.0']);
  });

  it('installs a fixture with the real npm client', async () => {
    await writeFile(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '0.0.0', private: true }));
    await run(
      'npm',
      ['install', 'left-pad-fixture@1.0.1', '--registry', registry.url, '--cache', path.join(project, '.npm-cache'), '--userconfig', path.join(project, '.npmrc'), '--no-audit', '--no-fund'],
      { cwd: project, env: npmEnv(), timeout: 60_000 },
    );
    const installed = JSON.parse(await readFile(path.join(project, 'node_modules/left-pad-fixture/package.json'), 'utf8')) as { version: string };
    expect(installed.version).toBe('1.0.1');
  });

  it('is a 404, not a trip to npmjs.org, for a package nobody published here', async () => {
    expect((await fetch(`${registry.url}left-pad`)).status).toBe(404);
  });
});
