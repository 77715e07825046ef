// A production-shaped Temporal for tests: the real server binary (not the CLI's dev server) on a
// throwaway PostgreSQL cluster on loopback, with 4 history shards and SQL visibility, its schema
// applied by the server's own SQL tool. `npm run setup:cluster` builds the pinned server and SQL
// tool with `go install` into .tools/ (once; about two minutes) and installs PostgreSQL from
// Debian when it is missing; `startTemporalCluster` starts one (about ten seconds) and gives its
// address. Nothing of Errand's is registered here: Errand registers its own search attributes.
// With `authorization` the server checks every call's JWT (Temporal's default claim mapper and
// authorizer, keys from a JWKS URL; test/support/temporal-jwt.ts issues them), as a platform
// team's cluster does, and the server's own system workers reach it through an internal frontend
// that does not.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common';
import { findExecutable } from '../../activities/sandbox/sandboxd/find-executable.js';
import { PROJECT_ROOT } from '../../apps/cli/temporal-cli.js';
import { freeLowPort, freePort } from './free-port.js';

const run = promisify(execFile);

export const TEMPORAL_SERVER_VERSION = 'v1.29.1';
const MODULE = 'go.temporal.io/server';
const TOOLS = path.join(PROJECT_ROOT, '.tools', `temporal-server-${TEMPORAL_SERVER_VERSION}`);
const SERVER = path.join(TOOLS, 'server');
const SQL_TOOL = path.join(TOOLS, 'sql');
const SCHEMA = path.join(TOOLS, 'schema', 'postgresql', 'v12');
export const HISTORY_SHARDS = 4;
const START_TIMEOUT_MS = 120_000;

/** Where PostgreSQL's server programs are: Debian keeps them out of PATH. */
function postgresBin(): string | undefined {
  // Through a link on PATH (/usr/local/bin/initdb) to the directory with the rest (pg_isready).
  const fromPath = findExecutable('initdb');
  if (fromPath) return path.dirname(realpathSync(fromPath));
  const versions = existsSync('/usr/lib/postgresql') ? readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a)) : [];
  return versions.map((v) => `/usr/lib/postgresql/${v}/bin`).find((dir) => existsSync(path.join(dir, 'initdb')));
}

/** For describeWithPart: what the cluster lane lacks here, if anything. */
export function temporalClusterMissing(): string | undefined {
  if (!existsSync(SERVER) || !existsSync(SQL_TOOL) || !existsSync(SCHEMA)) return `the Temporal server ${TEMPORAL_SERVER_VERSION} is not built in ${TOOLS}`;
  if (!postgresBin()) return 'PostgreSQL is not installed';
  return undefined;
}

/** For describeWithPart, in a test that starts a cluster of its own. */
export const temporalClusterPart = {
  name: `the Temporal server ${TEMPORAL_SERVER_VERSION} and PostgreSQL`,
  missing: temporalClusterMissing(),
  install: 'run `npm run setup:cluster` (it builds the server with Go and installs PostgreSQL)',
};

/** Builds the server and its SQL tool (kept when built already) and installs PostgreSQL when it is missing and we may. */
export async function setupTemporalCluster(log: (msg: string) => void = console.error): Promise<void> {
  const go = findExecutable('go');
  if (!go) throw new Error(`Go is not installed; the cluster lane builds the Temporal server ${TEMPORAL_SERVER_VERSION} with it`);
  if (!existsSync(SERVER) || !existsSync(SQL_TOOL) || !existsSync(SCHEMA)) {
    log(`building the Temporal server ${TEMPORAL_SERVER_VERSION} and its SQL tool with go install (once; about two minutes)...`);
    mkdirSync(TOOLS, { recursive: true });
    const env = { ...process.env, GOBIN: TOOLS, GOFLAGS: '-buildvcs=false' };
    await run(go, ['install', `${MODULE}/cmd/server@${TEMPORAL_SERVER_VERSION}`, `${MODULE}/cmd/tools/sql@${TEMPORAL_SERVER_VERSION}`], { cwd: PROJECT_ROOT, env, maxBuffer: 64 * 1024 * 1024 });
    // The schema's versioned SQL files ship in the module's source, which go install just fetched.
    const modCache = (await run(go, ['env', 'GOMODCACHE'])).stdout.trim();
    cpSync(path.join(modCache, `${MODULE}@${TEMPORAL_SERVER_VERSION}`, 'schema'), path.join(TOOLS, 'schema'), { recursive: true });
  }
  if (!postgresBin()) {
    const aptGet = findExecutable('apt-get');
    if (process.getuid?.() !== 0 || !aptGet) throw new Error('PostgreSQL is not installed; install it (e.g. sudo apt-get install postgresql)');
    log('installing PostgreSQL from Debian packages (apt-get install postgresql)...');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    await run(aptGet, ['update', '-qq'], { env, maxBuffer: 16 * 1024 * 1024 });
    await run(aptGet, ['install', '-y', '-qq', '--no-install-recommends', 'postgresql'], { env, maxBuffer: 16 * 1024 * 1024 });
  }
  log(`Temporal server ${TEMPORAL_SERVER_VERSION}: ${SERVER}; PostgreSQL: ${postgresBin()}`);
}

/** A server that authorizes callers by JWT: keys from `jwksUrl`; `adminToken`, a system admin's, for the launcher's own calls. */
export interface ClusterAuthorization {
  jwksUrl: string;
  adminToken: string;
}

export interface TemporalCluster {
  address: string;
  namespace: string;
  /** The processes it runs (the server; PostgreSQL, whose backends are its children), for the bench's CPU figures. */
  pids: number[];
  stop(): Promise<void>;
}

/** A PostgreSQL cluster of its own in a temporary directory, then the Temporal server on it, then the `default` namespace. */
export async function startTemporalCluster(opts: { namespace?: string; log?: (msg: string) => void; authorization?: ClusterAuthorization } = {}): Promise<TemporalCluster> {
  const missing = temporalClusterMissing();
  if (missing) throw new Error(`${missing}: run npm run setup:cluster`);
  const root = mkdtempSync(path.join(os.tmpdir(), 'errand-cluster-'));
  const started: ChildProcess[] = [];
  const stop = async () => {
    for (const child of started.reverse()) await stopChild(child);
    rmSync(root, { recursive: true, force: true });
  };
  try {
    const pgPort = await freePort();
    started.push(await startPostgres(root, pgPort));
    const sql = (db: string, ...args: string[]) => run(SQL_TOOL, ['--plugin', 'postgres12', '--ep', '127.0.0.1', '-p', String(pgPort), '-u', 'postgres', '--pw', '', '--db', db, ...args], { maxBuffer: 16 * 1024 * 1024 });
    for (const [db, schema] of [['temporal', 'temporal'], ['temporal_visibility', 'visibility']] as const) {
      await sql(db, 'create-database');
      await sql(db, 'setup-schema', '-v', '0.0');
      await sql(db, 'update-schema', '-d', path.join(SCHEMA, schema, 'versioned'));
    }
    const ports = { frontend: await freePort(), history: await freePort(), matching: await freePort(), worker: await freePort(), http: await freePort() };
    // Membership ports are kept in a smallint column: below 32768.
    const membership = { frontend: await freeLowPort(), history: await freeLowPort(), matching: await freeLowPort(), worker: await freeLowPort() };
    const authorization = opts.authorization && { jwksUrl: opts.authorization.jwksUrl, internalFrontend: { grpc: await freePort(), http: await freePort(), membership: await freeLowPort() } };
    mkdirSync(path.join(root, 'config'), { recursive: true });
    writeFileSync(path.join(root, 'config', 'development.yaml'), serverConfig(pgPort, ports, membership, path.join(root, 'config', 'dynamicconfig.yaml'), authorization));
    writeFileSync(path.join(root, 'config', 'dynamicconfig.yaml'), DYNAMIC_CONFIG);
    // Without an authorizer the server wants to be told that is meant; with one, it runs the internal frontend too.
    const args = opts.authorization
      ? ['start', ...['frontend', 'internal-frontend', 'history', 'matching', 'worker'].flatMap((name) => ['--service', name])]
      : ['--allow-no-auth', 'start'];
    const server = spawn(SERVER, ['--root', root, '--config', 'config', '--env', 'development', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    started.push(server);
    let output = '';
    const keep = (chunk: Buffer) => void (output = (output + chunk.toString()).slice(-8_000));
    server.stdout!.on('data', keep);
    server.stderr!.on('data', keep);
    const address = `127.0.0.1:${ports.frontend}`;
    const namespace = opts.namespace ?? 'default';
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (server.exitCode !== null) throw new Error(`the Temporal server exited (${server.exitCode}): ${output.slice(-3_000)}`);
      const ready = await registerNamespace(address, namespace, opts.authorization?.adminToken).then(
        () => true,
        () => false,
      );
      if (ready) break;
      if (Date.now() > deadline) throw new Error(`the Temporal server did not serve namespace ${namespace} within ${START_TIMEOUT_MS / 1000} s: ${output.slice(-3_000)}`);
      await sleep(500);
    }
    opts.log?.(`Temporal cluster (server ${TEMPORAL_SERVER_VERSION}, PostgreSQL, ${HISTORY_SHARDS} shards, SQL visibility${authorization ? ', JWT authorization' : ''}) on ${address}`);
    return { address, namespace, pids: started.map((child) => child.pid!).filter(Boolean), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Registers `namespace` (a namespace that exists already is fine) and waits until it is served. */
async function registerNamespace(address: string, namespace: string, token?: string): Promise<void> {
  // The token as a bearer over plaintext gRPC: this server has no TLS (the SDK's `apiKey` would turn TLS on by itself).
  const connection = await Connection.connect({ address, connectTimeout: 2_000, ...(token && { apiKey: token, tls: false }) });
  try {
    await connection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs('3 days') }).catch((err: { code?: number }) => {
      if (err.code !== 6) throw err; // ALREADY_EXISTS
    });
    await connection.workflowService.describeNamespace({ namespace });
    // Served by the frontend's namespace cache, not only stored.
    await connection.operatorService.listSearchAttributes({ namespace });
  } finally {
    await connection.close();
  }
}

/** PostgreSQL on 127.0.0.1:`port`, its data and socket under `root`, trusting local connections; fsync off (a test's data lives for a run). */
async function startPostgres(root: string, port: number): Promise<ChildProcess> {
  const bin = postgresBin()!;
  const data = path.join(root, 'pgdata');
  const socketDir = path.join(root, 'pgsocket');
  mkdirSync(data, { recursive: true });
  mkdirSync(socketDir, { recursive: true });
  // PostgreSQL refuses to run as root: as root, it runs as Debian's `postgres` user.
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const uid = Number(stdout.trim());
    const gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim());
    for (const dir of [root, data, socketDir]) chownSync(dir, uid, gid);
  }
  const as = (program: string, args: string[]) => (asRoot ? ['runuser', ['-u', 'postgres', '--', path.join(bin, program), ...args]] : [path.join(bin, program), args]) as [string, string[]];
  const [initdb, initArgs] = as('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8']);
  await run(initdb, initArgs, { maxBuffer: 16 * 1024 * 1024 });
  const settings = ['-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${socketDir}`, '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=300'];
  const [postgres, args] = as('postgres', ['-D', data, '-p', String(port), ...settings]);
  const child = spawn(postgres, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stderr!.on('data', (c: Buffer) => void (output = (output + c.toString()).slice(-4_000)));
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ready = await run(path.join(bin, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres']).then(
      () => true,
      () => false,
    );
    if (ready) return child;
    if (child.exitCode !== null || Date.now() > deadline) {
      await stopChild(child);
      throw new Error(`PostgreSQL did not start: ${output.slice(-2_000)}`);
    }
    await sleep(200);
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGINT'); // PostgreSQL's fast shutdown; the Temporal server's graceful stop
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/**
 * The server's static configuration: development-postgres12.yaml as the server ships it, on these
 * ports; with `authorization`, the JWT block of the server's docker.yaml (default claim mapper and
 * authorizer) and the internal frontend its system workers use instead of the authorizing one.
 */
function serverConfig(
  pgPort: number,
  grpc: Record<'frontend' | 'history' | 'matching' | 'worker' | 'http', number>,
  membership: Record<'frontend' | 'history' | 'matching' | 'worker', number>,
  dynamicConfig: string,
  authorization?: { jwksUrl: string; internalFrontend: { grpc: number; http: number; membership: number } },
): string {
  const store = (db: string, conns: number) => `
      sql:
        pluginName: "postgres12"
        databaseName: "${db}"
        connectAddr: "127.0.0.1:${pgPort}"
        connectProtocol: "tcp"
        user: "postgres"
        password: ""
        maxConns: ${conns}
        maxIdleConns: ${conns}
        maxConnLifetime: "1h"`;
  const service = (name: 'history' | 'matching' | 'worker') => `
  ${name}:
    rpc:
      grpcPort: ${grpc[name]}
      membershipPort: ${membership[name]}
      bindOnLocalHost: true`;
  const authorizationBlock = authorization
    ? `
  authorization:
    jwtKeyProvider:
      keySourceURIs:
        - "${authorization.jwksUrl}"
      refreshInterval: 1m
    permissionsClaimName: permissions
    authorizer: default
    claimMapper: default`
    : '';
  const internalFrontend = authorization
    ? `
  internal-frontend:
    rpc:
      grpcPort: ${authorization.internalFrontend.grpc}
      membershipPort: ${authorization.internalFrontend.membership}
      bindOnLocalHost: true
      httpPort: ${authorization.internalFrontend.http}`
    : '';
  return `log:
  stdout: true
  level: warn
persistence:
  defaultStore: postgres-default
  visibilityStore: postgres-visibility
  numHistoryShards: ${HISTORY_SHARDS}
  datastores:
    postgres-default:${store('temporal', 20)}
    postgres-visibility:${store('temporal_visibility', 10)}
global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: "127.0.0.1"${authorizationBlock}
services:
  frontend:
    rpc:
      grpcPort: ${grpc.frontend}
      membershipPort: ${membership.frontend}
      bindOnLocalHost: true
      httpPort: ${grpc.http}${internalFrontend}${service('matching')}${service('history')}${service('worker')}
clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: "active"
  currentClusterName: "active"
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: "frontend"
      rpcAddress: "127.0.0.1:${grpc.frontend}"
dcRedirectionPolicy:
  policy: "noop"
dynamicConfigClient:
  filepath: "${dynamicConfig}"
  pollInterval: "10s"
`;
}

/**
 * The dynamic configuration the dev server is started with (apps/cli/temporal-dev-server.ts), so
 * the two lanes differ in their engine (PostgreSQL, shards, separate services), not in tuning.
 */
const DYNAMIC_CONFIG = `history.transferProcessorMaxPollRPS:
  - value: 1000
system.enableActivityEagerExecution:
  - value: true
`;
