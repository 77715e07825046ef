// A real npm registry (verdaccio) on a free local port, so that dependency tests can exercise the
// real npm client and real registry HTTP (packuments, publish times, tarballs) against packages
// they publish themselves, with nothing going to the internet. Each registry lives in its own temp
// dir (config, storage, users, npm cache), so tests depend on neither the machine's ~/.npmrc nor
// its npm cache.
import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { stopChild } from '../../apps/cli/stop-child.js';
import { freePort } from './free-port.js';

export interface FixturePackage {
  name: string;
  version: string;
  /** Relative path → content; defaults to an index.js naming the package and version. */
  files?: Record<string, string>;
  dependencies?: Record<string, string>;
  repository?: string;
  /** Lifecycle scripts (`install`, `postinstall`…): what a package runs on whoever installs it. */
  scripts?: Record<string, string>;
  /** The dist-tag (npm refuses to tag an older line `latest` implicitly, e.g. a 1.x after 2.0.0). */
  tag?: string;
}

export interface NpmRegistry {
  /** Ends with a slash, e.g. http://127.0.0.1:40123/ */
  url: string;
  port: number;
  /** Publishes with the real `npm publish`. */
  publish(pkg: FixturePackage): Promise<void>;
  /** Backdates (or postdates) when the registry says `version` was published. */
  setPublishTime(name: string, version: string, when: Date): Promise<void>;
  /** Kills verdaccio and removes every temp dir; safe to call twice. */
  stop(): Promise<void>;
}

const run = promisify(execFile);
const START_TIMEOUT_MS = 20_000;
const VERDACCIO_BIN = createRequire(import.meta.url).resolve('verdaccio/bin/verdaccio');

// No uplinks: a package not published here is a 404, never a fetch from npmjs.org. No web UI:
// it is only startup time.
const CONFIG = `storage: ./storage
auth:
  htpasswd:
    file: ./htpasswd
uplinks: {}
packages:
  '**':
    access: $all
    publish: $all
    unpublish: $all
max_body_size: 200mb
web:
  enable: false
log: { type: stdout, format: pretty, level: warn }
`;

/**
 * Starts verdaccio on `host` (another loopback address such as 127.0.0.2 when a sandbox must
 * reach it: the sandbox sends 127.0.0.1 to its own loopback, never through its egress proxy).
 */
export async function startNpmRegistry(host = '127.0.0.1'): Promise<NpmRegistry> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'errand-npm-registry-'));
  const port = await freePort();
  const url = `http://${host}:${port}/`;
  const userconfig = path.join(dir, 'npmrc');
  const cache = path.join(dir, 'npm-cache');
  await writeFile(path.join(dir, 'config.yaml'), CONFIG);

  const child = spawn(process.execPath, [VERDACCIO_BIN, '--config', 'config.yaml', '--listen', `${host}:${port}`], {
    cwd: dir,
    detached: false,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  // stop() is the normal path; this covers a test file that never reaches afterAll.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    process.off('exit', killOnExit);
    try {
      await stopChild(child, 5_000);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };

  try {
    await waitUntilUp(url, child, () => output);
    // npm refuses to publish without credentials even when the registry would accept anonymous
    // publishes, so make a user and hand npm its token through a private userconfig.
    const res = await fetch(`${url}-/user/org.couchdb.user:fixture`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'fixture', password: 'fixture-password' }),
    });
    const { token } = (await res.json()) as { token?: string };
    if (!res.ok || !token) throw new Error(`verdaccio did not create the fixture user (HTTP ${res.status})`);
    await writeFile(userconfig, `//${host}:${port}/:_authToken=${token}\n`);
  } catch (err) {
    await stop();
    throw err;
  }

  let staged = 0;
  return {
    url,
    port,
    stop,
    async publish(pkg) {
      const pkgDir = path.join(dir, 'publish', String(staged++));
      const files = pkg.files ?? { 'index.js': `module.exports = ${JSON.stringify(`${pkg.name}@${pkg.version}`)};\n` };
      for (const [rel, content] of Object.entries(files)) {
        await mkdir(path.dirname(path.join(pkgDir, rel)), { recursive: true });
        await writeFile(path.join(pkgDir, rel), content);
      }
      const manifest = { name: pkg.name, version: pkg.version, dependencies: pkg.dependencies, repository: pkg.repository, scripts: pkg.scripts };
      await writeFile(path.join(pkgDir, 'package.json'), JSON.stringify(manifest, null, 2));
      try {
        await run('npm', ['publish', '--registry', url, '--userconfig', userconfig, '--cache', cache, '--no-audit', '--no-fund', ...(pkg.tag ? ['--tag', pkg.tag] : [])], {
          cwd: pkgDir,
          env: npmEnv(),
          timeout: 60_000,
        });
      } catch (err) {
        const e = err as { stderr?: string; message: string };
        throw new Error(`npm publish ${pkg.name}@${pkg.version} failed: ${e.stderr || e.message}`);
      }
    },
    async setPublishTime(name, version, when) {
      // Verdaccio keeps the packument on disk and reads it on every request, so editing it is the
      // registry's own record changing, not a stale copy.
      const file = path.join(dir, 'storage', name, 'package.json');
      const doc = JSON.parse(await readFile(file, 'utf8')) as { versions: Record<string, unknown>; time: Record<string, string> };
      if (!doc.versions[version]) throw new Error(`${name}@${version} is not published on this registry`);
      doc.time[version] = when.toISOString();
      // created/modified bracket the version times, as if the history really happened this way.
      const times = Object.keys(doc.versions).map((v) => doc.time[v]).filter(Boolean).sort();
      doc.time.created = times[0];
      doc.time.modified = times[times.length - 1];
      await writeFile(file, JSON.stringify(doc, null, '\t'));
      // A future verdaccio that caches packuments would make this silently ineffective; fail instead.
      const served = (await (await fetch(`${url}${name.replace('/', '%2f')}`)).json()) as { time?: Record<string, string> };
      if (served.time?.[version] !== when.toISOString()) throw new Error(`verdaccio still serves the old publish time of ${name}@${version}`);
    },
  };
}

async function waitUntilUp(url: string, child: ReturnType<typeof spawn>, output: () => string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`verdaccio exited (${child.exitCode ?? child.signalCode}) before answering:\n${output()}`);
    }
    try {
      if ((await fetch(`${url}-/ping`)).ok) return;
    } catch {
      // Not listening yet.
    }
    await sleep(100);
  }
  throw new Error(`verdaccio did not answer ${url}-/ping within ${START_TIMEOUT_MS / 1000} s:\n${output()}`);
}

/** The environment for npm commands against a test registry: without the npm_config_* an outer `npm test` sets. */
export function npmEnv(): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_config_/i.test(k)));
  return { ...env, npm_config_update_notifier: 'false' };
}
