// The providers the configuration names: the forge and storage (worker and API) and the sandbox
// provider (worker), so each process wires the same choice the same way; nothing else builds one.
import { KubeConfig } from '@kubernetes/client-node';
import type { Forge } from '../lib/forge/forge.js';
import { GitHubForge } from '../lib/forge/github.js';
import { LocalForge } from '../lib/forge/local.js';
import { KubernetesSandboxProvider } from '../activities/sandbox/kubernetes.js';
import { LocalSandboxProvider, type LocalSandboxOptions } from '../activities/sandbox/local.js';
import type { SandboxProvider } from '../activities/sandbox/provider.js';
import { localDirectoryStorage } from '../lib/storage/local-storage.js';
import { Redactor } from '../lib/storage/redactor.js';
import { coalescingAppends, redacting, type Storage } from '../lib/storage/storage.js';
import { randomUUID } from 'node:crypto';
import { ConfigError, stateDirs, type Config } from './config.js';

export function forgeFromConfig(config: Config): Forge {
  return config.forge.kind === 'github' ? new GitHubForge(config.forge.github) : new LocalForge(stateDirs(config).forge);
}

/** ERRAND_KUBECONFIG, else the pod's service account in a cluster, else ~/.kube/config. */
export function kubeConfigFrom(file?: string): KubeConfig {
  const kc = new KubeConfig();
  if (file) kc.loadFromFile(file);
  else kc.loadFromDefault();
  return kc;
}

export function sandboxesFromConfig(
  config: Config,
  local: Omit<LocalSandboxOptions, 'dir'>,
): SandboxProvider {
  if (config.sandbox.provider === 'kubernetes') {
    const { kubeconfig, ...options } = config.sandbox.kubernetes;
    return new KubernetesSandboxProvider({ ...options, kubeConfig: kubeConfigFrom(kubeconfig) });
  }
  return new LocalSandboxProvider({ dir: stateDirs(config).sandboxes, ...local });
}

/**
 * Where transcripts, logs, diffs, events and the audit trail live; everything written to it is
 * redacted first. Object storage is checked once as it opens: webhook dedupe and the ordering of
 * every log rest on its conditional writes, which some S3-compatible servers accept and ignore.
 */
export async function openStorage(config: Config, redactor = new Redactor(config.secrets)): Promise<Storage> {
  if (config.storage.kind === 'local') return redacting(coalescingAppends(localDirectoryStorage(stateDirs(config).artifacts)), redactor);
  const { s3 } = config.storage;
  // Loaded only here: the embedded default never loads the AWS SDK.
  const { s3Storage } = await import('../lib/storage/s3-storage.js');
  const storage = s3Storage(s3);
  const probe = `errand/probes/${randomUUID()}`;
  const [first, second] = [await storage.blobs.createIfAbsent(probe, 'probe'), await storage.blobs.createIfAbsent(probe, 'probe')];
  await storage.blobs.delete(probe);
  if (!first || second) {
    throw new ConfigError(`invalid configuration:\n  ERRAND_S3_ENDPOINT: ${s3.endpoint ?? 'S3'} (bucket ${s3.bucket}) does not refuse a second write of a key under If-None-Match: * (HTTP 412); Errand needs S3's conditional writes, so use a server that has them`);
  }
  return redacting(coalescingAppends(storage), redactor);
}
