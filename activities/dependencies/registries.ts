// What the registries say a package has: its versions, when each was published, and where its
// source lives (for release notes). Asked from the worker, over HTTP(S) or a file:// Go proxy:
// the answers are public data, and the decisions made from them (policy.ts) are pure.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { PublishedVersion } from './policy.js';

/** Where Errand asks, and where the sandbox's package managers fetch from. */
export interface Registries {
  npm: string;
  /** GOPROXY: the first http(s) or file URL of the list is the one asked. */
  goProxy: string;
  /** GOSUMDB for the sandbox's go commands (`off` for a private proxy). */
  goSumDb?: string;
}

const TIMEOUT_MS = 30_000;

export interface PackageVersions {
  versions: PublishedVersion[];
  /** Where its release notes are, when the registry names a repository on a known forge. */
  notes?: string;
}

/** An npm package's versions with their publish times; none when the registry does not know it. */
export async function npmVersions(registry: string, name: string, signal?: AbortSignal): Promise<PackageVersions> {
  const url = `${registry.replace(/\/$/, '')}/${name.replace('/', '%2f')}`;
  const res = await fetch(url, { headers: { accept: 'application/json' }, signal: anySignal(signal) });
  if (res.status === 404) return { versions: [] };
  if (!res.ok) throw new Error(`the npm registry answered ${res.status} for ${name} (${url})`);
  type Repository = { url?: string } | string | undefined;
  const doc = (await res.json()) as { versions?: Record<string, { deprecated?: unknown; repository?: Repository }>; time?: Record<string, string>; repository?: Repository; 'dist-tags'?: { latest?: string } };
  const versions = Object.entries(doc.versions ?? {}).map(([version, meta]) => ({
    version,
    time: doc.time?.[version] ? new Date(doc.time[version]!) : undefined,
    deprecated: Boolean(meta?.deprecated),
  }));
  // The npm registry copies the latest version's repository to the top; not every registry does.
  const named = doc.repository ?? doc.versions?.[doc['dist-tags']?.latest ?? '']?.repository;
  return { versions, notes: releaseNotesUrl(typeof named === 'string' ? named : named?.url) };
}

/** A Go module's versions (from the proxy's list) with their times (from each `.info`). */
export async function goVersions(proxy: string, module: string, newerThan: (version: string) => boolean, signal?: AbortSignal): Promise<PackageVersions> {
  const base = `${goProxyUrl(proxy).replace(/\/$/, '')}/${escapeModulePath(module)}/@v`;
  const list = await readProxy(`${base}/list`, signal);
  const candidates = (list ?? '').split('\n').map((v) => v.trim()).filter((v) => v && newerThan(v));
  const versions = await Promise.all(
    candidates.map(async (version) => {
      const info = await readProxy(`${base}/${version}.info`, signal);
      const time = info ? (JSON.parse(info) as { Time?: string }).Time : undefined;
      return { version, time: time ? new Date(time) : undefined };
    }),
  );
  return { versions, notes: releaseNotesUrl(`https://${module}`) };
}

/** The first proxy of a GOPROXY list Errand can read (`direct` and `off` are not proxies). */
export function goProxyUrl(goProxy: string): string {
  const url = goProxy.split(/[,|]/).map((p) => p.trim()).find((p) => /^(https?|file):\/\//.test(p));
  if (!url) throw new Error(`GOPROXY "${goProxy}" names no proxy Errand can ask (an http(s):// or file:// URL)`);
  return url;
}

/** The proxy protocol's case encoding: each upper-case letter as `!` and the lower-case one. */
export function escapeModulePath(module: string): string {
  return module.replace(/[A-Z]/g, (c) => `!${c.toLowerCase()}`);
}

/**
 * github.com, gitlab.com or codeberg.org repositories: their releases page. Also npm's short forms
 * of a repository field: `owner/name` (GitHub), `github:owner/name`, `gitlab:owner/name`.
 */
export function releaseNotesUrl(repository: string | undefined): string | undefined {
  const text = repository?.trim() ?? '';
  const m = /^(?:git\+)?(?:https?:\/\/|git:\/\/|ssh:\/\/git@|git@)?(github\.com|gitlab\.com|codeberg\.org)[/:]([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+?)(?:\.git)?(?:[/#].*)?$/.exec(text);
  if (m) return `https://${m[1]}/${m[2]}/${m[3]}/releases`;
  const short = /^(?:(github|gitlab):)?([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+?)(?:\.git)?$/.exec(text);
  return short ? `https://${short[1] ?? 'github'}.com/${short[2]}/${short[3]}/releases` : undefined;
}

/** A proxy file over HTTP(S) or from disk; undefined when it is not there (404, 410, no file). */
async function readProxy(url: string, signal?: AbortSignal): Promise<string | undefined> {
  if (url.startsWith('file://')) return readFile(fileURLToPath(url), 'utf8').catch(() => undefined);
  const res = await fetch(url, { signal: anySignal(signal) });
  if (res.status === 404 || res.status === 410) return undefined;
  if (!res.ok) throw new Error(`the Go module proxy answered ${res.status} for ${url}`);
  return res.text();
}

function anySignal(signal?: AbortSignal): AbortSignal {
  const timeout = AbortSignal.timeout(TIMEOUT_MS);
  return signal ? AbortSignal.any([signal, timeout]) : timeout;
}
