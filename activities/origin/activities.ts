// Reporting to where a task was asked for (a Slack thread, a Linear issue): its plan (in Slack
// with Approve and Cancel), its PR, how it ended, and for an issue the state the operator named. Each report is posted once: a key per report is claimed before it is posted
// and holds the message once it is, so a retried activity posts again only when the earlier
// attempt died between claiming and posting.
import type { OriginReport, TaskOrigin } from '../../workflows/contracts/task.js';
import { issueComments } from '../../lib/linear/linear-messages.js';
import { planToApprove, pullRequestOpened, taskEnded, type SlackMessage } from '../../lib/slack/slack-messages.js';
import { taskKeys } from '../../lib/storage/keys.js';
import type { ActivityContext } from '../context.js';

const POSTING = 'posting';

export function createOriginActivities({ blobs, origins, event }: ActivityContext) {
  return {
    async reportToOrigin(req: { taskId: string; origin: TaskOrigin; report: OriginReport; taskUrl?: string }): Promise<{ posted: boolean }> {
      const { origin } = req;
      // A worker without the settings of where the task came from has nothing to post with.
      if (origin.kind === 'slack' ? !origins?.slack : !origins?.linear) return { posted: false };
      const key = taskKeys(req.taskId).originReport(reportId(req.report));
      const claimed = await blobs.createIfAbsent(key, POSTING);
      if (!claimed && (await blobs.get(key)) !== POSTING) return { posted: false };
      if (origin.kind === 'slack') {
        const ts = await origins!.slack!.post(origin.channel, origin.threadTs, slackMessage(req.taskId, req.taskUrl, req.report));
        await blobs.put(key, JSON.stringify({ channel: origin.channel, ts }));
      } else {
        const linear = origins!.linear!;
        const comment = await linear.comment(origin.issueId, linearComment(req.taskId, req.taskUrl, req.report));
        const state = stateFor(origin.states, req.report);
        if (state) await linear.moveTo(origin.issueId, state);
        await blobs.put(key, JSON.stringify({ issueId: origin.issueId, comment, ...(state && { state }) }));
      }
      await event(req.taskId, { id: `origin:${reportId(req.report)}`, type: 'origin_reported', origin: req.origin.kind, report: req.report.kind });
      return { posted: true };
    },
  };
}

/** One key per report: the plan of each round, the first PR, the end. */
function reportId(report: OriginReport): string {
  return report.kind === 'plan' ? `plan-${report.round}` : report.kind;
}

/** The state an issue moves to for a report, when the operator named one. */
function stateFor(states: Extract<TaskOrigin, { kind: 'linear' }>['states'], report: OriginReport): string | undefined {
  if (report.kind === 'pr') return states?.pullRequest;
  if (report.kind === 'ended') return report.phase === 'completed' ? states?.done : report.phase === 'failed' ? states?.failed : undefined;
  return undefined;
}

function linearComment(taskId: string, url: string | undefined, report: OriginReport): string {
  switch (report.kind) {
    case 'plan':
      return issueComments.plan({ taskId, url, plan: report.plan });
    case 'pr':
      return issueComments.pullRequest({ taskId, url, pr: report.pr });
    case 'ended':
      return issueComments.ended({ taskId, url, ...report });
  }
}

function slackMessage(taskId: string, url: string | undefined, report: OriginReport): SlackMessage {
  switch (report.kind) {
    case 'plan':
      return planToApprove({ taskId, url, plan: report.plan });
    case 'pr':
      return pullRequestOpened({ taskId, url, pr: report.pr });
    case 'ended':
      return taskEnded({ taskId, url, ...report });
  }
}
