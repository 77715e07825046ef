// The environment-refresh schedule's activities: which repositories' environments to refresh
// (those tasks used lately), refreshing one (a sandbox of its own, the base branch's tip, the
// setup run only when no environment is kept for its inputs, then the sandbox removed), and
// evicting what outlived its time or is over the limits, across the whole store.
import { randomBytes } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { secretsFor } from '../../lib/secrets/secrets.js';
import { repoFolder } from '../../lib/environments/environment-key.js';
import type { ActivityContext } from '../context.js';
import { withHeartbeat } from '../heartbeat.js';
import { REPO_SETUP_SCRIPT, setupRepository } from '../git/repo-setup.js';
import * as git from '../git/workspace.js';
import type { EnvironmentOutcome } from './cached-setup.js';

/** What a refresh needs to make a repository's environment again, from its latest snapshot. */
export interface EnvironmentToRefresh {
  repo: string;
  baseBranch: string;
  /** The setup command its snapshot was made with (the repository's own script, or the one a task gave). */
  setup: string;
  sandboxImage?: string;
  setupNetwork: boolean;
  /** When a task last used it: the refreshed one counts as used then, not now. */
  usedAt: string;
}

export type RefreshOutcome = { repo: string; ms: number } & (
  | { outcome: 'fresh' | 'refreshed'; key: string; bytes?: number; layer?: 'made' }
  | { outcome: 'skipped'; why: string }
);

/** Outside a workflow (no run to name), the sandbox belongs to no workflow the reaper will find running. */
const taskIdFallback = 'environment-refresh';

export function createEnvironmentActivities({ environments, limits, sandboxes, connections, connect, forge, blobs, scopedSecrets = [] }: ActivityContext) {
  return {
    async environmentsToRefresh(): Promise<EnvironmentToRefresh[]> {
      const refresh = limits.environmentRefresh;
      if (!environments || !refresh) return [];
      return (await environments.recentlyUsed(refresh.usedWithinMs, refresh.maxRepos)).map((s) => ({
        repo: s.repo,
        baseBranch: s.baseBranch,
        setup: s.inputs.setup,
        ...(s.sandboxImage && { sandboxImage: s.sandboxImage }),
        setupNetwork: s.inputs.setupNetwork,
        usedAt: s.lastUsedAt,
      }));
    },

    /** Removes the expired snapshots and the least recently used over each repository's and the installation's limit. */
    async evictEnvironments(): Promise<{ evicted: number }> {
      return { evicted: environments ? await withHeartbeat(() => environments.evict()) : 0 };
    },

    async refreshEnvironment(req: EnvironmentToRefresh): Promise<RefreshOutcome> {
      const started = Date.now();
      if (!environments) return { repo: req.repo, ms: 0, outcome: 'skipped', why: 'the environment cache is off' };
      const runId = Context.current().info.workflowExecution?.workflowId ?? taskIdFallback;
      // Its logs (setup, instructions) are kept like a task's, under one id per repository.
      const taskId = `environment-refresh-${repoFolder(req.repo).slice(-12)}`;
      const sandboxId = `refresh-${randomBytes(6).toString('hex')}`;
      return withHeartbeat(async (signal) => {
        // The sandbox belongs to this run's workflow: the reaper leaves it while the run goes on.
        await sandboxes.provision({ taskId, sandboxId, allowNetwork: req.setupNetwork, image: req.sandboxImage, workflowId: runId });
        try {
          const sandbox = await connect(sandboxId, signal);
          const remote = await forge.cloneRemote(req.repo);
          const prepared = await git.prepareWorkspace(sandbox, { remote, baseBranch: req.baseBranch, branch: req.baseBranch, limits: limits.repo });
          const setup = await setupRepository(sandbox, blobs, {
            taskId,
            // The repository's own script is read at the tip, as a task would; a task's own command is its key.
            ...(req.setup !== `bash ${REPO_SETUP_SCRIPT}` && { setupScript: req.setup }),
            timeoutMs: limits.setupTimeoutMs,
            network: req.setupNetwork,
            secrets: secretsFor(scopedSecrets, req.repo, 'setup'),
            environment: {
              store: environments,
              taskId: runId,
              sandboxId,
              repo: req.repo,
              baseBranch: req.baseBranch,
              baseSha: prepared.baseSha,
              image: sandboxes.platformOf(req.sandboxImage),
              ...(req.sandboxImage && { sandboxImage: req.sandboxImage }),
              setupNetwork: req.setupNetwork,
              ...(sandboxes.layers && { layers: sandboxes.layers }),
              refresh: { usedAt: req.usedAt },
              event: async () => undefined,
            },
          });
          return { repo: req.repo, ms: Date.now() - started, ...outcomeOf(setup.environment) };
        } finally {
          connections.forget(sandboxId);
          await sandboxes.destroy(sandboxId).catch(() => undefined); // else the reaper's, once this run has closed
        }
      });
    },
  };
}

function outcomeOf(environment: EnvironmentOutcome | undefined): { outcome: 'fresh' | 'refreshed'; key: string; bytes?: number } | { outcome: 'skipped'; why: string } {
  if (!environment) return { outcome: 'skipped', why: 'the base branch has no setup script' };
  if (environment.kind === 'fresh') return { outcome: 'fresh', key: environment.key, ...(environment.layer && { layer: environment.layer }) };
  if (environment.kind === 'saved') return { outcome: 'refreshed', key: environment.key, bytes: environment.bytes, ...(environment.layer && { layer: environment.layer }) };
  return { outcome: 'skipped', why: environment.kind === 'missed' ? environment.why : 'nothing to refresh' };
}
