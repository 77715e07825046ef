// sandboxd: the small HTTP service that runs inside every sandbox. All work a task does in
// its sandbox (commands, file reads and writes) goes through it, authenticated with the
// sandbox's own token, so the worker never needs a shell on the sandbox's host.
import { spawn, type ChildProcess } from 'node:child_process';
import { timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import { z } from 'zod';
import {
  ExecRequest,
  ListRequest,
  ReadFileRequest,
  SearchRequest,
  WriteFileRequest,
  type ExecResponse,
  type SearchResponse,
  type SandboxdError,
} from './protocol.js';
import { HeadTailBuffer } from './truncate.js';
import { findExecutable } from './find-executable.js';
import { bubblewrapArgv, type Confinement } from './bubblewrap.js';
import { WorkspaceFiles, WorkspacePathError } from './workspace-files.js';

export interface SandboxdOptions {
  root: string;
  token: string;
  host?: string;
  port?: number;
  /** Environment every command starts from; the caller adds to it per call. */
  baseEnv: Record<string, string>;
  /** When set, every command runs inside bubblewrap; without it commands run as sandboxd does. */
  confine?: Confinement;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: SandboxdError['code'],
    message: string,
  ) {
    super(message);
  }
}

const MAX_BODY_BYTES = 20_000_000;
const PATH_ERRORS = {
  outside: [403, 'path_outside_workspace'],
  not_found: [404, 'not_found'],
  invalid: [400, 'bad_request'],
} as const;

export async function startSandboxd(opts: SandboxdOptions): Promise<{ server: http.Server; port: number; close: () => Promise<void> }> {
  // Every path a call names is resolved beneath the workspace through this, never by hand.
  const files = await WorkspaceFiles.open(opts.root, opts.confine?.runAs);
  const root = files.root;
  const running = new Set<ChildProcess>();
  const expected = Buffer.from(`Bearer ${opts.token}`);
  const rgPath = findExecutable('rg', opts.baseEnv.PATH);

  const routes: Record<string, (body: unknown, req: http.IncomingMessage) => Promise<unknown>> = {
    '/exec': (body, req) => exec(ExecRequest.parse(body), req),
    '/files/read': async (body) => {
      const r = ReadFileRequest.parse(body);
      const { content, size } = await files.readFile(r.path, r.offset, r.maxBytes);
      return { content: content.toString(r.encoding), size, truncated: r.offset + content.length < size };
    },
    '/files/list': async (body) => ({ entries: await files.list(ListRequest.parse(body).path) }),
    '/search': (body, req) => search(SearchRequest.parse(body), req),
    '/files/write': async (body) => {
      const r = WriteFileRequest.parse(body);
      return { bytes: await files.writeFile(r.path, Buffer.from(r.content, r.encoding)) };
    },
  };

  async function exec(r: z.output<typeof ExecRequest>, req: http.IncomingMessage): Promise<ExecResponse> {
    const cwd = path.join(root, ...(await files.resolve(r.cwd ?? '.', 'dir')));
    const run = await runProcess(['/bin/bash', '-c', r.cmd], { cwd, env: r.env, timeoutMs: r.timeoutMs, maxOutputBytes: r.maxOutputBytes, network: r.network }, req);
    return {
      ...run,
      stderr: run.timedOut ? `${run.stderr}\n[killed after ${r.timeoutMs} ms timeout]` : run.stderr,
    };
  }

  async function search(r: z.output<typeof SearchRequest>, req: http.IncomingMessage): Promise<SearchResponse> {
    const target = (await files.resolve(r.path)).join('/') || '.';
    const engine = rgPath ? 'ripgrep' : 'grep';
    const argv = rgPath
      ? [rgPath, '--line-number', '--no-heading', '--color', 'never', ...(r.glob ? ['--glob', r.glob] : []), '-e', r.pattern, '--', target]
      : ['grep', '-rnI', '--exclude-dir=.git', ...(r.glob ? [`--include=${r.glob}`] : []), '-e', r.pattern, '--', target];
    const run = await runProcess(argv, { cwd: root, timeoutMs: r.timeoutMs, maxOutputBytes: r.maxOutputBytes }, req);
    if (run.timedOut) throw new HttpError(400, 'bad_request', `search timed out after ${r.timeoutMs / 1000} s; narrow its path, glob or pattern`);
    // Both exit 1 for "no match"; 2 and up is a real error (a bad regex, say).
    if (run.exitCode !== 0 && run.exitCode !== 1) throw new HttpError(400, 'bad_request', `search failed: ${run.stderr.trim() || `exit ${run.exitCode}`}`);
    return { matches: run.stdout.replace(/^\.\//gm, ''), truncated: run.truncated, engine };
  }

  async function runProcess(
    argv: string[],
    o: { cwd: string; env?: Record<string, string>; timeoutMs: number; maxOutputBytes: number; network?: boolean },
    req: http.IncomingMessage,
  ): Promise<ExecResponse> {
    const started = Date.now();
    const env = { ...opts.baseEnv, ...o.env };
    const command = opts.confine
      ? bubblewrapArgv(opts.confine, { argv, cwd: o.cwd, env, network: o.network, writable: [root] })
      : argv;
    // detached: the command leads its own process group, so a timeout kills its children too
    // (and, confined, bubblewrap's pid namespace takes every descendant down with it).
    const child = spawn(command[0]!, command.slice(1), {
      cwd: o.cwd,
      env: opts.confine ? {} : env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.add(child);
    const out = new HeadTailBuffer(o.maxOutputBytes);
    const err = new HeadTailBuffer(o.maxOutputBytes);
    child.stdout!.on('data', (c: Buffer) => out.push(c));
    child.stderr!.on('data', (c: Buffer) => err.push(c));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child);
    }, o.timeoutMs);
    // The caller gave up (activity cancelled or worker died): the command must not run on.
    const onAbort = () => killGroup(child);
    req.socket.once('close', onAbort);
    const [exitCode, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => {
      child.once('close', (code, sig) => resolve([code, sig]));
      child.once('error', () => resolve([127, null]));
    });
    clearTimeout(timer);
    req.socket.off('close', onAbort);
    running.delete(child);
    killGroup(child); // reap anything the command left behind in its group
    const stdout = out.result();
    const stderr = err.result();
    return {
      exitCode,
      signal,
      timedOut,
      stdout: stdout.text,
      stderr: stderr.text,
      truncated: stdout.truncated || stderr.truncated,
      durationMs: Date.now() - started,
    };
  }

  const server = http.createServer((req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const auth = Buffer.from(req.headers.authorization ?? '');
    if (req.method === 'GET' && req.url === '/health') return send(200, { ok: true });
    if (auth.length !== expected.length || !timingSafeEqual(auth, expected)) {
      return send(401, { code: 'unauthorized', message: 'missing or wrong sandbox token' });
    }
    const route = req.method === 'POST' ? routes[req.url ?? ''] : undefined;
    if (!route) return send(404, { code: 'not_found', message: `no route ${req.method} ${req.url}` });
    readJson(req)
      .then((body) => route(body, req))
      .then((result) => send(200, result))
      .catch((e: unknown) => {
        if (e instanceof HttpError) return send(e.status, { code: e.code, message: e.message });
        if (e instanceof WorkspacePathError) {
          const [status, code] = PATH_ERRORS[e.kind];
          return send(status, { code, message: e.message });
        }
        if (e instanceof z.ZodError) return send(400, { code: 'bad_request', message: z.prettifyError(e) });
        send(500, { code: 'io_error', message: e instanceof Error ? e.message : String(e) });
      });
  });
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    server,
    port,
    close: async () => {
      // A sandbox going away answers nothing more: calls in flight are cut off, so their callers
      // see a lost sandbox, not a command that "exited" because it was killed on the way out.
      server.closeAllConnections();
      for (const child of running) killGroup(child);
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await files.close();
    },
  };
}

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // the group is already gone
  }
}

async function readJson(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413 as number, 'bad_request', 'request body too large');
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
  } catch {
    throw new HttpError(400, 'bad_request', 'body is not valid JSON');
  }
}
