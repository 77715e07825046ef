// SandboxProvider: where a task's sandbox runs. Every provider runs sandboxd inside the
// sandbox and hands back its endpoint; everything else goes through the sandboxd client.
import { FailureType } from '../../workflows/failures.js';
import { ErrandFailure } from '../../lib/failures/errand-failure.js';
import { taskWorkflowId } from '../../workflows/names.js';

export interface SandboxSpec {
  taskId: string;
  /** Chosen by the workflow: the task id, then `<task>-r<n>` for the sandbox that replaces a lost one. */
  sandboxId: string;
  /** Whether commands may reach the network (the task's policy). */
  allowNetwork: boolean;
  /** The image to run (Kubernetes), when the task or repository names its own. */
  image?: string;
  /** The workflow it belongs to, which the reaper asks about (none: the task's). */
  workflowId?: string;
}

/** The workflow a sandbox belongs to: while it runs, the reaper leaves the sandbox alone. */
export const ownerWorkflow = (spec: SandboxSpec): string => spec.workflowId ?? taskWorkflowId(spec.taskId);

export interface SandboxEndpoint {
  url: string;
  token: string;
}

export interface SandboxProvider {
  readonly name: string;
  /** Idempotent: provisioning an id that is already running returns it unchanged. */
  provision(spec: SandboxSpec): Promise<{ sandboxId: string }>;
  /** Where sandboxd listens; throws SandboxGone when the sandbox no longer exists. */
  endpoint(sandboxId: string): Promise<SandboxEndpoint>;
  /** Idempotent: destroying a sandbox that is already gone succeeds. */
  destroy(sandboxId: string): Promise<void>;
  status(sandboxId: string): Promise<'running' | 'gone'>;
  /**
   * Narrows egress after the setup script for a task whose policy is `setup`, where the sandbox
   * cannot tell commands apart (Kubernetes); the local sandbox decides per command instead.
   */
  restrictEgress?(sandboxId: string): Promise<void>;
  /**
   * What commands in a sandbox of `image` (none: the default) run on, for the environment
   * cache's key: an environment made on one never serves another.
   */
  platformOf(image?: string): string;
  /** Every sandbox this provider runs, with the workflow each belongs to, for the reaper. */
  list(): Promise<{ sandboxId: string; workflowId?: string }[]>;
  /** Where the provider restores environments copy-on-write (the local sandbox as root); elsewhere they are unpacked. */
  readonly layers?: SandboxLayers;
}

/**
 * A kept environment as a read-only layer on the sandbox's host, mounted under a sandbox's
 * workspace and home so a restore creates no file (environment-layers.ts).
 */
export interface SandboxLayers {
  /** Why layers cannot be used here (undefined: they can). */
  unusable(): Promise<string | undefined>;
  /** Whether the layer for the archive `sha256` is on this host. */
  has(sha256: string): Promise<boolean>;
  /** Takes `rel`, a directory in the sandbox's workspace it unpacked the archive into (`workspace/`, `home/`), as the layer. */
  adopt(sandboxId: string, rel: string, sha256: string): Promise<void>;
  mount(sandboxId: string, sha256: string): Promise<void>;
}

/** The typed failure for a sandbox that no longer exists: the workflow replaces it. */
export function sandboxGone(sandboxId: string, why: string): ErrandFailure {
  return ErrandFailure.permanent(FailureType.SandboxGone, `sandbox ${sandboxId} is gone: ${why}`);
}
