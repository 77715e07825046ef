// What a local sandbox's commands may reach when their task lets them use the network. They
// never share the host's network: each command has a network namespace of its own with only
// loopback, and an HTTP(S) proxy (sandboxd's egress proxy, through a socket bound into the
// sandbox) is the way out. The proxy connects only to what this policy allows: never loopback,
// link-local addresses (cloud metadata), private networks or this host's own addresses, unless
// the operator allows a destination by name; never Errand's own endpoints (its API, Temporal,
// the model endpoints), even then. Shared by the worker, which builds the policy from its
// configuration, and sandboxd, which enforces it.
import { isIP } from 'node:net';
import { z } from 'zod';

/** `host[:port]`, `cidr[:port]`, `[ipv6]:port`; without a port, every port. */
export interface EgressRule {
  host: string;
  /** Prefix length when `host` is an address range. */
  prefix?: number;
  port?: number;
}

export const EgressRuleSchema = z.strictObject({ host: z.string().min(1), prefix: z.number().int().min(0).max(128).optional(), port: z.number().int().min(1).max(65535).optional() });

export const EgressPolicy = z.strictObject({
  /** The socket sandboxd's egress proxy listens on, bound into each sandbox at the same path. */
  socket: z.string().startsWith('/'),
  /** Errand's own endpoints: never reachable, whatever `allow` says. */
  controlPlane: z.array(EgressRuleSchema).default([]),
  /** Reachable although they are loopback, private or this host (a registry mirror, say). */
  allow: z.array(EgressRuleSchema).default([]),
  /** Never reachable, besides the built-in ranges. */
  deny: z.array(EgressRuleSchema).default([]),
});
export type EgressPolicy = z.output<typeof EgressPolicy>;

/** The port commands reach the proxy on, inside their own network namespace. */
export const EGRESS_PROXY_PORT = 3128;

/** Parses one rule; undefined when it is not `host[:port]` or `cidr[:port]`. */
export function parseEgressRule(entry: string): EgressRule | undefined {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+|[0-9A-Fa-f:.]+)(?:\/(\d{1,3}))?(?::(\d{1,5}))?$/.exec(entry.trim());
  if (!m) return undefined;
  const host = m[1]!.replace(/^\[|\]$/g, '');
  const prefix = m[2] === undefined ? undefined : Number(m[2]);
  const port = m[3] === undefined ? undefined : Number(m[3]);
  if (prefix !== undefined && (!isIP(host) || prefix > (isIP(host) === 4 ? 32 : 128))) return undefined;
  if (port !== undefined && (port < 1 || port > 65535)) return undefined;
  return { host: host.toLowerCase(), ...(prefix !== undefined && { prefix }), ...(port !== undefined && { port }) };
}

/** The rule for an endpoint URL or `host:port` address of Errand's own (default ports filled in). */
export function endpointRule(endpoint: string): EgressRule | undefined {
  try {
    const url = new URL(endpoint.includes('://') ? endpoint : `tcp://${endpoint}`);
    const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : url.protocol === 'http:' ? 80 : undefined;
    const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
    return host ? { host, ...(port && { port }) } : undefined;
  } catch {
    return undefined;
  }
}
