// A real S3 server for tests: versitygw's posix backend serving a temporary directory on a free
// loopback port, with root credentials and one bucket, so the S3 store is tested against the S3
// protocol (signatures, conditional writes, listing) rather than a stand-in. It can be made
// unreachable for a while, as an endpoint is in an outage: pause() stops it, resume() starts it
// again on the same port and directory, with everything it held.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { findExecutable } from '../../activities/sandbox/sandboxd/find-executable.js';
import { freePort } from './free-port.js';
import { VERSITYGW, VERSITYGW_VERSION } from './s3-setup.js';

/** For describeWithPart: missing when `npm run setup:s3` has not built versitygw here. */
export const versitygwPart = {
  name: `versitygw ${VERSITYGW_VERSION}`,
  missing: findExecutable(path.basename(VERSITYGW), path.dirname(VERSITYGW)) ? undefined : `${VERSITYGW} is not there`,
  install: 'run `npm run setup:s3` (it builds versitygw with Go)',
};

export interface S3Server {
  /** `http://127.0.0.1:<port>`; the server wants path-style requests. */
  endpoint: string;
  region: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** A new client for the server, as a separate process would have. */
  client(): S3Client;
  /** Stops serving (connections are refused) and keeps the data. */
  pause(): Promise<void>;
  /** Serves again, on the same port, what it held. */
  resume(): Promise<void>;
  /** Stops it and removes its directory. */
  stop(): Promise<void>;
}

const REGION = 'us-east-1';
const START_TIMEOUT_MS = 15_000;

export async function startS3Server(bucket = 'errand-test'): Promise<S3Server> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'errand-s3-'));
  const port = await freePort();
  const accessKeyId = 'errand-test-root';
  const secretAccessKey = 'errand-test-secret';
  const args = ['--port', `127.0.0.1:${port}`, '--access', accessKeyId, '--secret', secretAccessKey, '--region', REGION, '--quiet', 'posix', dir];
  let gateway: ChildProcess | undefined = await startGateway(args, port);
  const endpoint = `http://127.0.0.1:${port}`;
  const client = () => new S3Client({ endpoint, region: REGION, forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } });
  const setupClient = client();
  await setupClient.send(new CreateBucketCommand({ Bucket: bucket }));
  setupClient.destroy();
  const pause = async () => {
    if (gateway) await stopGateway(gateway);
    gateway = undefined;
  };
  return {
    endpoint,
    region: REGION,
    bucket,
    accessKeyId,
    secretAccessKey,
    client,
    pause,
    async resume() {
      gateway ??= await startGateway(args, port);
    },
    async stop() {
      await pause();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Starts versitygw and waits until it accepts connections on `port`; fails with what it printed if it exits first. */
async function startGateway(args: string[], port: number): Promise<ChildProcess> {
  const child = spawn(VERSITYGW, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer) => void (output = (output + chunk.toString()).slice(-4_000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let exited = false;
  child.once('exit', () => void (exited = true));
  child.once('error', (e) => void (output += `\n${e.message}`));
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!(await accepts(port))) {
    if (exited || Date.now() > deadline) {
      if (!exited) await stopGateway(child);
      throw new Error(`versitygw did not start serving on 127.0.0.1:${port} (${exited ? `it exited: ${output.trim()}` : 'timed out'})`);
    }
    await sleep(50);
  }
  return child;
}

async function stopGateway(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** What an Errand process is given to keep its storage on `server`, as a deployment gives it (the AWS SDK's own chain reads the keys). */
export function s3StorageEnv(server: S3Server, prefix?: string): Record<string, string> {
  return {
    ERRAND_STORE: 's3',
    ERRAND_S3_BUCKET: server.bucket,
    ...(prefix && { ERRAND_S3_PREFIX: prefix }),
    ERRAND_S3_ENDPOINT: server.endpoint,
    ERRAND_S3_REGION: server.region,
    ERRAND_S3_FORCE_PATH_STYLE: 'true',
    AWS_ACCESS_KEY_ID: server.accessKeyId,
    AWS_SECRET_ACCESS_KEY: server.secretAccessKey,
  };
}
