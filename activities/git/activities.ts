// The workspace activities: the repository brought into a sandbox and set up, the tests run,
// the work in progress committed and pushed as it goes, and the final branch published. Git's
// data crosses as bundles (transfer.ts); the forge's credentials stay in the worker.
import { secretsFor } from '../../lib/secrets/secrets.js';
import type { PostconditionResult } from '../../workflows/contracts/playbooks.js';
import type { TestResult } from '../../workflows/contracts/task.js';
import type { ActivityContext } from '../context.js';
import { ErrandFailure } from '../../lib/failures/errand-failure.js';
import { withHeartbeat } from '../heartbeat.js';
import type { Forbidden } from '../playbooks/forbidden.js';
import { pushRefusal } from '../review/checks.js';
import { taskKeys } from '../../lib/storage/keys.js';
import { applyChange, setupRepository, type RepoSetup } from './repo-setup.js';
import { pushFromSandbox } from './transfer.js';
import * as git from './workspace.js';

export function createGitActivities({ connect, event, forge, sandboxes, blobs, redactor, limits, scopedSecrets = [], environments }: ActivityContext) {
  return {
    async prepareWorkspace(req: {
      taskId: string;
      sandboxId: string;
      repo: string;
      baseBranch: string;
      branch: string;
      testCommand?: string;
      /** The ref of the task branch that setupRepository restores the work from. */
      restoreFrom?: string;
    }): Promise<git.PreparedWorkspace> {
      const remote = await forge.cloneRemote(req.repo);
      const prepared = await withHeartbeat(async (signal) => git.prepareWorkspace(await connect(req.sandboxId, signal), { ...req, remote, limits: limits.repo }));
      await event(req.taskId, { id: `workspace:${req.sandboxId}`, type: 'workspace_ready', sandboxId: req.sandboxId, baseSha: prepared.baseSha, testCommand: prepared.testCommand ?? null });
      return prepared;
    },

    /**
     * The repository's setup on the base as the base branch holds it (its instructions, its
     * setup script), then Errand's own change (a dependency bump) on that same base, in a
     * sandbox where nothing of the agent's has run yet; only then is the work restored. So an
     * agent that edits the setup script, the instructions, a manifest, a lockfile, `.npmrc` or
     * a `file:` dependency never gets any of it run or read with the setup's network.
     * `network`: for the setup script and the change; `agentNetwork`: for everything after.
     */
    async setupRepository(req: {
      taskId: string;
      sandboxId: string;
      /** Whose secrets scoped to `setup` the setup script gets, and whose kept environment it may start from (absent in histories from before). */
      repo?: string;
      baseBranch?: string;
      baseSha?: string;
      /** The sandbox image the task runs on (none: the provider's default). */
      image?: string;
      setupScript?: string;
      network: boolean;
      agentNetwork?: boolean;
      /** Work to put back after setup: `ref` (none: the base branch, as prepared), told as `from`. */
      restore?: { ref?: string; from: string };
      /** Errand's own change (a dependency bump), made after the setup with its network. */
      change?: { command: string; env: Record<string, string> };
    }): Promise<RepoSetup> {
      const { setup, head } = await withHeartbeat(async (signal) => {
        const sandbox = await connect(req.sandboxId, signal);
        const secrets = req.repo ? secretsFor(scopedSecrets, req.repo, 'setup') : {};
        const environment =
          environments && req.repo && req.baseBranch && req.baseSha
            ? {
                store: environments,
                taskId: req.taskId,
                sandboxId: req.sandboxId,
                repo: req.repo,
                baseBranch: req.baseBranch,
                baseSha: req.baseSha,
                image: sandboxes.platformOf(req.image),
                ...(req.image && { sandboxImage: req.image }),
                setupNetwork: req.network,
                ...(sandboxes.layers && { layers: sandboxes.layers }),
                event: (e: { id: string; type: string }) => event(req.taskId, e),
              }
            : undefined;
        const done = await setupRepository(sandbox, blobs, { ...req, timeoutMs: limits.setupTimeoutMs, secrets, environment });
        if (req.change) done.change = await applyChange(sandbox, blobs, { ...req, change: req.change, timeoutMs: limits.setupTimeoutMs });
        const restored = req.restore ? await git.restoreWork(sandbox, req.restore.ref) : undefined;
        return { setup: done, head: restored };
      });
      if (req.network && req.agentNetwork === false) await sandboxes.restrictEgress?.(req.sandboxId);
      await event(req.taskId, { id: `setup:${req.sandboxId}`, type: 'setup_finished', instructionsFrom: setup.instructionsFrom ?? null, setupLogKey: setup.setupLogKey ?? null });
      if (setup.change) await event(req.taskId, { id: `change:${req.sandboxId}`, type: 'change_applied', command: setup.change.command, passed: setup.change.passed, exitCode: setup.change.exitCode });
      if (setup.change) setup.change = { ...setup.change, outputTail: redactor.redact(setup.change.outputTail) };
      if (req.restore) await event(req.taskId, { id: `workspace:${req.sandboxId}:restored`, type: 'workspace_restored', sandboxId: req.sandboxId, from: req.restore.from, sha: head });
      return setup;
    },

    /** `round`: which round of checks this is (absent in histories from before: the first), so each round's result is an event of its own. */
    async runTests(req: { taskId: string; sandboxId: string; command: string; round?: number }): Promise<TestResult> {
      const test = await withHeartbeat(async (signal) => git.runTests(await connect(req.sandboxId, signal), blobs, req));
      const safe = { ...test, outputTail: redactor.redact(test.outputTail) };
      const round = req.round ?? 1;
      await event(req.taskId, { id: round === 1 ? 'tests' : `tests:${round}`, type: 'tests_finished', round, command: safe.command, passed: safe.passed, exitCode: safe.exitCode });
      return safe;
    },

    async runPostconditions(req: { taskId: string; sandboxId: string; commands: string[]; round: number }): Promise<PostconditionResult[]> {
      const results = await withHeartbeat(async (signal) => git.runPostconditions(await connect(req.sandboxId, signal), blobs, req));
      const safe = results.map((r) => ({ ...r, outputTail: redactor.redact(r.outputTail) }));
      await event(req.taskId, { id: `postconditions:${req.round}`, type: 'postconditions_checked', round: req.round, passed: safe.filter((r) => r.passed).map((r) => r.command), failed: safe.filter((r) => !r.passed).map((r) => r.command) });
      return safe;
    },

    /**
     * Commits the work in progress and pushes it when it changed since `lastPushed`; a branch
     * that would publish a secret, or touch a path its playbook forbids, is not pushed, and the
     * caller hears why (`blocked`, a sentence for the agent).
     */
    async checkpoint(req: { taskId: string; sandboxId: string; repo: string; branch: string; baseSha: string; step: number; lastPushed?: string; forbidden?: Forbidden }): Promise<{ sha?: string; blocked?: string }> {
      return withHeartbeat(async (signal) => {
        const sandbox = await connect(req.sandboxId, signal);
        const head = await git.commitWorkInProgress(sandbox, req);
        if (head === (req.lastPushed ?? req.baseSha)) return {};
        const { refused } = await pushFromSandbox(sandbox, { branch: req.branch, baseSha: req.baseSha, remote: await forge.pushRemote(req.repo), limits: limits.repo, vet: (change) => pushRefusal(change, redactor, req.forbidden) });
        if (refused) {
          await event(req.taskId, { id: `checkpoint:${head}`, type: 'checkpoint_blocked', step: req.step, reason: refused.message });
          return { blocked: refused.message };
        }
        await event(req.taskId, { id: `checkpoint:${head}`, type: 'checkpoint', step: req.step, sha: head });
        return { sha: head };
      });
    },

    /** The final commit (checkpoints squashed, co-author trailer), checked for secrets and forbidden paths, and pushed. */
    async publishBranch(req: { taskId: string; sandboxId: string; repo: string; branch: string; baseSha: string; message: string; coAuthor?: string; forbidden?: Forbidden }): Promise<{ headSha: string; diffKey: string }> {
      return withHeartbeat(async (signal) => {
        const sandbox = await connect(req.sandboxId, signal);
        const headSha = await git.squashForPublishing(sandbox, req);
        const { diff, refused } = await pushFromSandbox(sandbox, { branch: req.branch, baseSha: req.baseSha, remote: await forge.pushRemote(req.repo), limits: limits.repo, vet: (change) => pushRefusal(change, redactor, req.forbidden) });
        if (refused) throw ErrandFailure.permanent(refused.type, `not pushed: ${refused.message}`);
        const diffKey = taskKeys(req.taskId).diff;
        await blobs.put(diffKey, diff);
        await event(req.taskId, { id: `published:${headSha}`, type: 'branch_published', sha: headSha });
        return { headSha, diffKey };
      });
    },
  };
}
