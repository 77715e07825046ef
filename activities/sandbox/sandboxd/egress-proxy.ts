// sandboxd's egress proxy: the only way out of a local sandbox whose task allows the network.
// Commands reach it as an HTTP proxy (CONNECT for TLS, absolute URLs for plain HTTP) through a
// socket bound into their sandbox; it resolves each destination itself, checks every address
// against the egress policy (activities/sandbox/egress.ts), and connects only to an address it
// checked, so DNS tricks cannot swap in another. A refusal is a 403 that says why.
import dns from 'node:dns/promises';
import { chmod, rm } from 'node:fs/promises';
import http from 'node:http';
import net, { BlockList, isIP } from 'node:net';
import os from 'node:os';
import type { Duplex } from 'node:stream';
import type { EgressPolicy, EgressRule } from './egress.js';

/** Ranges a sandbox never reaches unless the operator allows a destination in them. */
const BUILT_IN: [string, number, string][] = [
  ['0.0.0.0', 8, 'not a destination'],
  ['127.0.0.0', 8, 'loopback, on this host'],
  ['169.254.0.0', 16, 'link-local (where cloud metadata and its credentials live)'],
  ['10.0.0.0', 8, 'a private network'],
  ['172.16.0.0', 12, 'a private network'],
  ['192.168.0.0', 16, 'a private network'],
  ['100.64.0.0', 10, 'a shared (carrier-grade NAT) network'],
  ['192.0.0.0', 24, 'reserved'],
  ['198.18.0.0', 15, 'reserved'],
  ['224.0.0.0', 3, 'multicast or reserved'],
  ['::', 128, 'not a destination'],
  ['::1', 128, 'loopback, on this host'],
  ['::ffff:0:0', 96, 'an IPv4-mapped address (use the IPv4 address)'],
  ['64:ff9b::', 96, 'a NAT64 address (use the IPv4 address)'],
  ['fe80::', 10, 'link-local'],
  ['fc00::', 7, 'a private network'],
  ['ff00::', 8, 'multicast'],
];

const family = (address: string) => (isIP(address) === 6 ? 'ipv6' : 'ipv4');

function contains(rule: EgressRule, address: string): boolean {
  if (!isIP(rule.host) || isIP(rule.host) !== isIP(address)) return false;
  const list = new BlockList();
  if (rule.prefix !== undefined) list.addSubnet(rule.host, rule.prefix, family(rule.host));
  else list.addAddress(rule.host, family(rule.host));
  return list.check(address, family(address));
}

export interface Destination {
  host: string;
  port: number;
}

/**
 * Where a connection to `to` may go: the first of its addresses the policy allows, or why
 * none is. `resolve` and `local` are the world's (DNS, this host's addresses), given for tests.
 */
export async function decide(
  policy: Pick<EgressPolicy, 'controlPlane' | 'allow' | 'deny'>,
  to: Destination,
  world: { resolve?: (host: string) => Promise<string[]>; local?: () => string[] } = {},
): Promise<{ address: string } | { refused: string }> {
  const resolve = world.resolve ?? (async (host: string) => (await dns.lookup(host, { all: true, verbatim: true })).map((a) => a.address));
  const local = new Set((world.local ?? localAddresses)());
  const host = to.host.replace(/^\[|\]$/g, '').toLowerCase();
  const matches = async (rules: EgressRule[], address: string) => {
    for (const rule of rules) {
      if (rule.port !== undefined && rule.port !== to.port) continue;
      if (isIP(rule.host) ? contains(rule, address) : rule.host === host || (await resolve(rule.host).catch((): string[] => [])).includes(address)) return true;
    }
    return false;
  };
  const refusal = async (address: string): Promise<string | undefined> => {
    if (await matches(policy.controlPlane, address)) return "one of Errand's own endpoints (its API, Temporal, a model endpoint), which no sandbox may reach";
    if (await matches(policy.deny, address)) return 'denied by ERRAND_SANDBOX_EGRESS_DENY';
    if (await matches(policy.allow, address)) return undefined;
    const range = BUILT_IN.find(([base, prefix]) => contains({ host: base, prefix }, address))?.[2] ?? (local.has(address) ? 'an address of this host' : undefined);
    return range && `${range}; the operator may allow it with ERRAND_SANDBOX_EGRESS_ALLOW (a package mirror, say)`;
  };
  let addresses: string[];
  try {
    addresses = isIP(host) ? [host] : await resolve(host);
  } catch (err) {
    return { refused: `${host} does not resolve (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` };
  }
  let first: string | undefined;
  for (const address of addresses) {
    const why = await refusal(address);
    if (!why) return { address };
    first ??= `${host}:${to.port} (${address}) is ${why}`;
  }
  return { refused: first ?? `${host} has no address` };
}

function localAddresses(): string[] {
  return Object.values(os.networkInterfaces())
    .flat()
    .map((a) => a?.address)
    .filter((a): a is string => Boolean(a));
}

/** Starts the proxy on `policy.socket`, which only the sandbox's commands are given. */
export async function startEgressProxy(policy: EgressPolicy, log: (fields: Record<string, unknown>) => void = () => undefined): Promise<{ close(): Promise<void> }> {
  const refuse = (to: string, why: string) => {
    log({ msg: 'egress refused', to, why });
    return `errand egress proxy: refused: ${why}\n`;
  };

  const server = http.createServer((req, res) => {
    let url: URL;
    try {
      url = new URL(req.url ?? '');
      if (url.protocol !== 'http:') throw new Error('not http');
    } catch {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('errand egress proxy: send absolute http:// URLs, or CONNECT for https\n');
      return;
    }
    const port = Number(url.port || 80);
    void decide(policy, { host: url.hostname, port }).then((d) => {
      if ('refused' in d) return void res.writeHead(403, { 'content-type': 'text/plain' }).end(refuse(url.host, d.refused));
      const headers: http.OutgoingHttpHeaders = { ...req.headers, host: url.host };
      for (const h of ['proxy-connection', 'proxy-authorization', 'connection', 'keep-alive']) delete headers[h];
      const upstream = http.request({ host: d.address, port, method: req.method, path: `${url.pathname}${url.search}`, headers, setHost: false }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      upstream.on('error', (err) => {
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`errand egress proxy: ${url.host}: ${err.message}\n`);
      });
      req.pipe(upstream);
    });
  });

  const tunnels = new Set<Duplex>();
  server.on('connect', (req: http.IncomingMessage, client: Duplex, head: Buffer) => {
    tunnels.add(client);
    client.on('close', () => tunnels.delete(client));
    const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(req.url ?? '');
    if (!m) return void client.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\nerrand egress proxy: CONNECT host:port\n');
    const to = { host: m[1]!, port: Number(m[2]) };
    void decide(policy, to).then((d) => {
      if ('refused' in d) {
        const body = refuse(req.url!, d.refused);
        return void client.end(`HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
      }
      const upstream = net.connect({ host: d.address, port: to.port }, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        if (head.length) upstream.write(head);
        upstream.pipe(client);
        client.pipe(upstream);
      });
      upstream.on('error', (err) => {
        if (client.writable) client.end(`HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\n\r\nerrand egress proxy: ${req.url}: ${err.message}\n`);
      });
      client.on('error', () => upstream.destroy());
      client.on('close', () => upstream.destroy());
    });
  });

  await rm(policy.socket, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(policy.socket, resolve);
  });
  // The sandbox user connects to it; nobody else is given its path.
  await chmod(policy.socket, 0o666);
  return {
    close: async () => {
      server.closeAllConnections();
      for (const t of tunnels) t.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(policy.socket, { force: true });
    },
  };
}
