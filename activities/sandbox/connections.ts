// How activities reach a sandbox's sandboxd: its endpoint (URL and token) looked up once and
// kept, since on Kubernetes a lookup reads the pod and its Secret, per tool call otherwise. A
// kept endpoint that refuses the connection is looked up again, once (the sandbox was replaced
// under the same id); a sandbox destroyed here is forgotten.
import type { SandboxEndpoint, SandboxProvider } from './provider.js';
import { SandboxdClient } from './sandboxd-client.js';

/** Endpoints kept at most: a worker's sandboxes at once, with room. */
const KEPT = 2_000;

export class SandboxConnections {
  private readonly endpoints = new Map<string, SandboxEndpoint>();

  constructor(private readonly provider: SandboxProvider) {}

  async client(sandboxId: string, signal?: AbortSignal): Promise<SandboxdClient> {
    const kept = this.endpoints.get(sandboxId);
    const lookUp = async () => {
      const endpoint = await this.provider.endpoint(sandboxId);
      this.endpoints.delete(sandboxId);
      this.endpoints.set(sandboxId, endpoint);
      if (this.endpoints.size > KEPT) this.endpoints.delete(this.endpoints.keys().next().value!);
      return endpoint;
    };
    return kept ? new SandboxdClient(sandboxId, kept, signal, lookUp) : new SandboxdClient(sandboxId, await lookUp(), signal);
  }

  forget(sandboxId: string): void {
    this.endpoints.delete(sandboxId);
  }
}
