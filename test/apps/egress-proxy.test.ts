// The egress proxy of a local sandbox: what it lets a command reach (public addresses, and what
// the operator allows) and what never (Errand's own endpoints, loopback, cloud metadata, private
// networks, this host), decided on the addresses it resolved itself; and the proxy over real
// HTTP on a real socket, both for plain HTTP and for CONNECT.
import { mkdtempSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parseEgressRule, type EgressRule } from '../../activities/sandbox/sandboxd/egress.js';
import { decide, startEgressProxy } from '../../activities/sandbox/sandboxd/egress-proxy.js';

const rules = (...entries: string[]) => entries.map((e) => parseEgressRule(e)!) as EgressRule[];
const world = {
  resolve: async (host: string) => ({ 'registry.npmjs.org': ['104.16.1.34'], 'rebind.example': ['127.0.0.1'], 'mirror.internal': ['10.1.2.3'], 'api.internal': ['10.9.9.9'], 'two.example': ['10.0.0.1', '93.184.216.34'] })[host] ?? Promise.reject(Object.assign(new Error('nope'), { code: 'ENOTFOUND' })),
  local: () => ['127.0.0.1', '192.0.2.10'],
};
const policy = { controlPlane: rules('127.0.0.1:7233', 'api.internal:443'), allow: rules('mirror.internal:443', '192.0.2.10:4873', '127.0.0.1', 'api.internal'), deny: rules('104.16.0.0/12:22') };

describe('decide', () => {
  it.each([
    ['a public registry', 'registry.npmjs.org', 443, { address: '104.16.1.34' }],
    ['an allowed mirror on a private network', 'mirror.internal', 443, { address: '10.1.2.3' }],
    ['an allowed port of this host', '192.0.2.10', 4873, { address: '192.0.2.10' }],
    ['the first public address of a name with a private one too', 'two.example', 443, { address: '93.184.216.34' }],
  ])('lets a command reach %s', async (_what, host, port, expected) => {
    expect(await decide(policy, { host, port }, world)).toEqual(expected);
  });

  it.each([
    ['Temporal, though its host is allowed', '127.0.0.1', 7233, "one of Errand's own endpoints"],
    ['an Errand endpoint by name, though its host is allowed', 'api.internal', 443, "one of Errand's own endpoints"],
    ['cloud metadata', '169.254.169.254', 80, 'link-local (where cloud metadata and its credentials live)'],
    ['another port of this host', '192.0.2.10', 3000, 'an address of this host'],
    ['loopback through IPv6', '::1', 3000, 'loopback'],
    ['loopback dressed as IPv4-mapped IPv6', '::ffff:127.0.0.1', 3000, 'IPv4-mapped'],
    ['a name that resolves to loopback (DNS rebinding)', 'rebind.example', 80, '127.0.0.1'],
    ['a private network not allowed', '10.20.30.40', 443, 'a private network; the operator may allow it with ERRAND_SANDBOX_EGRESS_ALLOW'],
    ['a denied port of a public range', 'registry.npmjs.org', 22, 'denied by ERRAND_SANDBOX_EGRESS_DENY'],
    ['a name that does not resolve', 'nowhere.invalid', 443, 'does not resolve (ENOTFOUND)'],
  ])('refuses %s, saying why', async (_what, host, port, why) => {
    const d = await decide({ ...policy, allow: policy.allow.filter((r) => r.host !== '127.0.0.1' || host === '127.0.0.1') }, { host, port }, world);
    expect(d).toEqual({ refused: expect.stringContaining(why) });
  });
});

describe('the egress proxy', () => {
  let upstream: http.Server;
  let port: number;
  let proxy: Awaited<ReturnType<typeof startEgressProxy>>;
  let socket: string;

  beforeAll(async () => {
    upstream = http.createServer((req, res) => res.end(`upstream saw ${req.method} ${req.url} for ${req.headers.host}`));
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    port = (upstream.address() as AddressInfo).port;
    socket = path.join(mkdtempSync(path.join(os.tmpdir(), 'errand-egress-')), 'egress.sock');
    // Loopback is refused unless allowed: this one port is, as a package mirror would be.
    proxy = await startEgressProxy({ socket, controlPlane: [], allow: rules(`127.0.0.1:${port}`), deny: [] });
  });

  afterAll(async () => {
    await proxy?.close();
    upstream?.close();
  });

  const viaProxy = (target: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request({ socketPath: socket, method: 'GET', path: target, headers: { host: new URL(target).host } }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      });
      req.on('error', reject);
      req.end();
    });

  const tunnel = (authority: string) =>
    new Promise<string>((resolve, reject) => {
      const s = net.connect(socket, () => s.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`));
      let got = '';
      s.on('data', (c) => {
        got += c;
        if (got.startsWith('HTTP/1.1 200') && got.includes('\r\n\r\n') && !got.includes('upstream saw')) {
          s.write(`GET /through-tunnel HTTP/1.1\r\nHost: ${authority}\r\nConnection: close\r\n\r\n`);
        }
      });
      s.on('end', () => resolve(got));
      s.on('error', reject);
    });

  it('forwards plain HTTP and tunnels CONNECT to an allowed destination', async () => {
    expect(await viaProxy(`http://127.0.0.1:${port}/left-pad`)).toEqual({ status: 200, body: `upstream saw GET /left-pad for 127.0.0.1:${port}` });
    const tunnelled = await tunnel(`127.0.0.1:${port}`);
    expect(tunnelled).toMatch(/^HTTP\/1\.1 200 Connection Established/);
    expect(tunnelled).toContain(`upstream saw GET /through-tunnel for 127.0.0.1:${port}`);
  });

  it('answers 403 with the reason for anything else, by either route', async () => {
    const refused = await viaProxy(`http://127.0.0.1:${port + 1}/`);
    expect(refused.status).toBe(403);
    expect(refused.body).toContain(`refused: 127.0.0.1:${port + 1} (127.0.0.1) is loopback, on this host`);
    expect(await tunnel('169.254.169.254:80')).toMatch(/^HTTP\/1\.1 403 Forbidden[\s\S]*link-local/);
    expect((await viaProxy('https://example.com/')).status).toBe(400);
  });
});
