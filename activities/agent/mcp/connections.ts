// The worker's connections to MCP servers, one per task and server: a remote server over
// streamable HTTP (falling back to SSE), a stdio server as a child of the worker, never inside
// the agent's sandbox, confined by bubblewrap in a confinement of its own (a directory of its
// own as home and TMPDIR, the host read-only, Errand's state hidden, its own pid namespace, no
// root) with only the environment the operator gave it. The agent's commands cannot read that
// environment or reach the process: they run in another pid namespace, with Errand's state
// hidden, and the pipe is the worker's. Connections close when idle (their task may have moved
// to another worker or ended) or when one breaks.
import { chown, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { pathBetween, SANDBOX_UID, type RunAs } from '../../sandbox/sandboxd/bubblewrap.js';
import { secretsFor, withSecrets, type Secret } from '../../../lib/secrets/secrets.js';
import type { McpServer } from './servers.js';

/** How long a server may take to start and answer its first request. */
export const MCP_START_SECONDS = 15;
/** A connection nobody used for this long is closed (its task may have ended on another worker). */
const IDLE_MS = 5 * 60_000;
const STDERR_TAIL = 2_000;

export interface McpConfinement {
  bwrap: string;
  runAs?: RunAs;
  /** Hidden from the server (Errand's state); its own directory is bound back in beneath it. */
  hide: string[];
}

export interface McpConnectionOptions {
  secrets: readonly Secret[];
  /** Where each stdio server gets a directory of its own (its HOME and working directory). */
  dir: string;
  /** Undefined: stdio servers run unconfined (the worker warned once at start-up). */
  confinement?: McpConfinement;
  version: string;
}

interface Open {
  client: Client;
  idle: NodeJS.Timeout;
  stderr: () => string;
}

export class McpConnections {
  private readonly open = new Map<string, Promise<Open>>();

  constructor(private readonly opts: McpConnectionOptions) {}

  /** The client for `server` on behalf of `taskId` (connected on first use). */
  async client(taskId: string, repo: string, name: string, server: McpServer): Promise<Client> {
    const key = `${taskId}\0${name}`;
    let pending = this.open.get(key);
    if (!pending) {
      pending = this.connect(taskId, repo, name, server);
      this.open.set(key, pending);
      pending.catch(() => this.open.delete(key));
    }
    const open = await pending;
    open.idle.refresh();
    return open.client;
  }

  /** What a stdio server wrote to stderr lately, to explain a crash. */
  async stderrOf(taskId: string, name: string): Promise<string> {
    const open = await this.open.get(`${taskId}\0${name}`)?.catch(() => undefined);
    return open?.stderr() ?? '';
  }

  /** Forgets and closes one connection (it broke, or its call's outcome is unknown). */
  async drop(taskId: string, name: string): Promise<void> {
    const key = `${taskId}\0${name}`;
    const pending = this.open.get(key);
    this.open.delete(key);
    const open = await pending?.catch(() => undefined);
    if (open) await close(open);
  }

  async closeTask(taskId: string): Promise<void> {
    const names = [...this.open.keys()].filter((k) => k.startsWith(`${taskId}\0`)).map((k) => k.slice(taskId.length + 1));
    await Promise.all(names.map((n) => this.drop(taskId, n)));
  }

  async closeAll(): Promise<void> {
    const all = [...this.open.values()];
    this.open.clear();
    await Promise.all(all.map(async (p) => close(await p.catch(() => undefined))));
  }

  private async connect(taskId: string, repo: string, name: string, server: McpServer): Promise<Open> {
    const secrets = secretsFor(this.opts.secrets, repo, `mcp:${name}`);
    const client = new Client({ name: 'errand', version: this.opts.version });
    let tail = '';
    const timeout = AbortSignal.timeout(MCP_START_SECONDS * 1000);
    if (!('url' in server)) {
      const transport = await this.stdio(taskId, name, server, secrets);
      transport.stderr?.on('data', (chunk: Buffer) => (tail = (tail + chunk.toString('utf8')).slice(-STDERR_TAIL)));
      try {
        await client.connect(transport, { signal: timeout, timeout: MCP_START_SECONDS * 1000 });
      } catch (err) {
        await new Promise((r) => setTimeout(r, 100)); // what it said as it died may still be in the pipe
        await client.close().catch(() => undefined);
        throw new Error(`${(err as Error).message}${tail.trim() ? `; its stderr ends: ${tail.trim().slice(-500)}` : ''}`);
      }
    } else {
      const headers = Object.fromEntries(Object.entries(server.headers).map(([k, v]) => [k, withSecrets(v, secrets, `the header ${k} of MCP server ${name}`)]));
      const url = new URL(server.url);
      const attempt = (transport: Transport) => client.connect(transport, { signal: timeout, timeout: MCP_START_SECONDS * 1000 });
      if (server.type === 'sse') await attempt(new SSEClientTransport(url, { requestInit: { headers } }));
      else {
        try {
          await attempt(new StreamableHTTPClientTransport(url, { requestInit: { headers } }));
        } catch (err) {
          if (timeout.aborted) throw err;
          // An older server speaks only the HTTP+SSE transport of 2024-11-05.
          await attempt(new SSEClientTransport(url, { requestInit: { headers } }));
        }
      }
    }
    const idle = setTimeout(() => void this.drop(taskId, name), IDLE_MS).unref();
    client.onclose = () => {
      // The server went away (crashed, or closed the stream): the next call starts it again.
      if (this.open.get(`${taskId}\0${name}`)) this.open.delete(`${taskId}\0${name}`);
    };
    return { client, idle, stderr: () => tail };
  }

  private async stdio(taskId: string, name: string, server: Exclude<McpServer, { url: string }>, secrets: Record<string, string>): Promise<StdioClientTransport> {
    const home = path.join(this.opts.dir, safe(taskId), name);
    await mkdir(home, { recursive: true, mode: 0o700 });
    const c = this.opts.confinement;
    if (c?.runAs) await chown(home, c.runAs.uid, c.runAs.gid);
    // The environment is exactly this: the worker's own never reaches the server.
    const env = {
      PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
      HOME: home,
      TMPDIR: home,
      // `${HOME}`: its own directory, for a server that keeps state in a file.
      ...Object.fromEntries(Object.entries(server.env).map(([k, v]) => [k, withSecrets(v, { ...secrets, HOME: home }, `the variable ${k} of MCP server ${name}`)])),
    };
    const argv = c ? confinedArgv(c, home, server.network, [server.command, ...server.args]) : [server.command, ...server.args];
    return new StdioClientTransport({ command: argv[0]!, args: argv.slice(1), env, cwd: home, stderr: 'pipe' });
  }
}

/**
 * bubblewrap around a stdio server: the host read-only, Errand's state hidden but for the
 * server's own directory, pid, ipc and uts namespaces of its own (the network
 * too when the operator says it needs none), no root. No --clearenv: the environment it starts
 * with is already only the server's (values never go on a command line, which others can read).
 */
export function confinedArgv(c: McpConfinement, home: string, network: boolean, argv: string[]): string[] {
  // The host's /tmp stays (read-only, like the rest): a server may be installed there; it writes
  // temporary files in its own directory (TMPDIR).
  const args = [c.bwrap, '--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc'];
  const hidden = [...c.hide].sort((a, b) => a.length - b.length);
  for (const dir of hidden) args.push('--tmpfs', dir);
  for (const dir of pathBetween(hidden, home)) args.push('--perms', '0755', '--dir', dir);
  args.push('--bind', home, home, '--unshare-ipc', '--unshare-pid', '--unshare-uts', '--unshare-cgroup-try');
  if (!network) args.push('--unshare-net');
  if (c.runAs) {
    const { setpriv, uid, gid } = c.runAs;
    args.push('--die-with-parent', '--new-session', '--chdir', home, '--', setpriv, `--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', '--');
  } else {
    args.push('--unshare-user', '--uid', String(SANDBOX_UID), '--gid', String(SANDBOX_UID), '--cap-drop', 'ALL', '--die-with-parent', '--new-session', '--chdir', home, '--');
  }
  return [...args, ...argv];
}

const safe = (id: string) => id.replace(/[^A-Za-z0-9_.-]/g, '_');

async function close(open: Open | undefined): Promise<void> {
  if (!open) return;
  clearTimeout(open.idle);
  await open.client.close().catch(() => undefined);
}
