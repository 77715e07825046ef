// The forge activities: the repository checked before any sandbox exists (and the sandbox image
// it asks for), pull requests opened and brought up to date, comments written.
import type { PullRequestRef } from '../../workflows/contracts/task.js';
import { parseSandboxConfig, SANDBOX_CONFIG_FILE } from '../environment/sandbox-config.js';
import { FailureType } from '../../workflows/failures.js';
import type { ActivityContext } from '../context.js';
import { ErrandFailure } from '../../lib/failures/errand-failure.js';
import { withHeartbeat } from '../heartbeat.js';
import type { OpenPullRequest, UpdatePullRequest } from '../../lib/forge/forge.js';


/**
 * Each heartbeats while it waits on the forge, so an attempt whose worker died is retried within
 * the heartbeat timeout rather than after its whole limit (workflows/coding-task/activities.ts).
 */
export function createForgeActivities({ forge, blobs, event, redactor }: ActivityContext) {
  const activities = {
    /** Fails at once, with the forge's message, on a missing repo or branch or missing permissions. */
    async checkRepository(req: { repo: string; baseBranch: string }): Promise<{ baseBranch: string; sandboxImage?: string }> {
      const { baseBranch } = await forge.checkRepository(req.repo, req.baseBranch);
      const raw = await forge.readFile(req.repo, baseBranch, SANDBOX_CONFIG_FILE);
      const sandboxImage = raw === undefined ? undefined : sandboxImageOf(raw);
      return { baseBranch, ...(sandboxImage && { sandboxImage }) };
    },

    /**
     * Opens the PR, or brings the open one for the same branch up to date (a retried call, or a
     * dependency group's branch whose PR an earlier run opened). The diff travels by key
     * (claim-check): it can be far larger than a history payload.
     */
    async openPullRequest(req: Omit<OpenPullRequest, 'diff'> & { diffKey?: string }): Promise<PullRequestRef> {
      const { diffKey, ...pr } = req;
      const diff = diffKey ? await blobs.get(diffKey) : undefined;
      const { existing, ...opened } = await forge.openPullRequest({ ...pr, diff });
      if (existing) {
        const updated = await forge.updatePullRequest({ repo: req.repo, number: opened.number, title: req.title, body: req.body, diff, ready: !req.draft });
        await event(req.taskId, { id: `pr:${opened.number}:found:${req.head}`, type: 'pr_updated', number: updated.number, url: updated.url, draft: updated.draft });
        return updated;
      }
      await event(req.taskId, { id: `pr:${opened.number}`, type: 'pr_opened', number: opened.number, url: opened.url, draft: opened.draft });
      return opened;
    },

    /** `round` (the feedback round) keeps the event of a retried update from counting twice. */
    async updatePullRequest(req: Omit<UpdatePullRequest, 'diff'> & { taskId: string; diffKey?: string; round: number }): Promise<PullRequestRef> {
      const { diffKey, taskId, round, ...update } = req;
      const diff = diffKey ? await blobs.get(diffKey) : undefined;
      const updated = await forge.updatePullRequest({ ...update, diff });
      await event(taskId, { id: `pr:${updated.number}:round:${round}:${update.body ? 'published' : 'found'}`, type: 'pr_updated', number: updated.number, url: updated.url, draft: updated.draft });
      return updated;
    },

    async comment(req: { repo: string; number: number; body: string }): Promise<void> {
      await forge.comment({ ...req, body: redactor.redact(req.body) });
    },
  };
  return {
    checkRepository: (req: Parameters<typeof activities.checkRepository>[0]) => withHeartbeat(() => activities.checkRepository(req)),
    openPullRequest: (req: Parameters<typeof activities.openPullRequest>[0]) => withHeartbeat(() => activities.openPullRequest(req)),
    updatePullRequest: (req: Parameters<typeof activities.updatePullRequest>[0]) => withHeartbeat(() => activities.updatePullRequest(req)),
    comment: (req: Parameters<typeof activities.comment>[0]) => withHeartbeat(() => activities.comment(req)),
  };
}

/** The image the repository's `.errand/sandbox.json` names, if it names one. */
function sandboxImageOf(raw: string): string | undefined {
  const config = parseSandboxConfig(raw);
  if ('error' in config) throw ErrandFailure.permanent(FailureType.RepoUnavailable, config.error);
  return config.image;
}
