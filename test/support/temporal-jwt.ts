// A JWT issuer for a Temporal server that authorizes callers (temporal-cluster.ts, `authorization`):
// an RSA key made here, its public half served as a JWKS on loopback for the server's
// jwtKeyProvider.keySourceURIs, and RS256 tokens carrying a `permissions` claim as Temporal's
// default claim mapper reads it: "<namespace>:<read|write|worker|admin>", and
// "temporal-system:<role>" for the whole cluster.
import { generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface JwtIssuer {
  /** Where the server fetches the public key from (it does at start: start the issuer first). */
  jwksUrl: string;
  /** A signed token for `permissions`, valid for an hour. */
  token(permissions: string[], subject?: string): string;
  stop(): Promise<void>;
}

/** Every permission there is: Temporal's default authorizer lets a system admin call everything. */
export const SYSTEM_ADMIN = ['temporal-system:admin'];

export async function startJwtIssuer(): Promise<JwtIssuer> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = randomBytes(8).toString('hex');
  const jwks = JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' }] });
  const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(jwks));
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    jwksUrl: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    token: (permissions, subject = 'errand-test') => signJwt(privateKey, kid, { sub: subject, permissions }),
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function signJwt(key: KeyObject, kid: string, claims: Record<string, unknown>): string {
  const now = Math.floor(Date.now() / 1000);
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const unsigned = `${part({ alg: 'RS256', typ: 'JWT', kid })}.${part({ ...claims, iat: now, exp: now + 3_600 })}`;
  // RS256: RSASSA-PKCS1-v1_5 with SHA-256, node's default padding for an RSA key.
  return `${unsigned}.${sign('sha256', Buffer.from(unsigned), key).toString('base64url')}`;
}
