// Reporting to where a task was asked for (a Slack thread): its plan with Approve and Cancel, its
// PR, how it ended. Each report is posted once: a key per report is claimed before it is posted
// and holds the message once it is, so a retried activity posts again only when the earlier
// attempt died between claiming and posting.
import type { OriginReport, TaskOrigin } from '../../workflows/contracts/task.js';
import { planToApprove, pullRequestOpened, taskEnded, type SlackMessage } from '../../lib/slack/slack-messages.js';
import { taskKeys } from '../../lib/storage/keys.js';
import type { ActivityContext } from '../context.js';

const POSTING = 'posting';

export function createOriginActivities({ blobs, origins, event }: ActivityContext) {
  return {
    async reportToOrigin(req: { taskId: string; origin: TaskOrigin; report: OriginReport; taskUrl?: string }): Promise<{ posted: boolean }> {
      const slack = origins?.slack;
      if (!slack) return { posted: false }; // this worker has no Slack settings: nothing to post with
      const key = taskKeys(req.taskId).originReport(reportId(req.report));
      const claimed = await blobs.createIfAbsent(key, POSTING);
      if (!claimed && (await blobs.get(key)) !== POSTING) return { posted: false };
      const ts = await slack.post(req.origin.channel, req.origin.threadTs, messageOf(req.taskId, req.taskUrl, req.report));
      await blobs.put(key, JSON.stringify({ channel: req.origin.channel, ts }));
      await event(req.taskId, { id: `origin:${reportId(req.report)}`, type: 'origin_reported', origin: req.origin.kind, report: req.report.kind });
      return { posted: true };
    },
  };
}

/** One key per report: the plan of each round, the first PR, the end. */
function reportId(report: OriginReport): string {
  return report.kind === 'plan' ? `plan-${report.round}` : report.kind;
}

function messageOf(taskId: string, url: string | undefined, report: OriginReport): SlackMessage {
  switch (report.kind) {
    case 'plan':
      return planToApprove({ taskId, url, plan: report.plan });
    case 'pr':
      return pullRequestOpened({ taskId, url, pr: report.pr });
    case 'ended':
      return taskEnded({ taskId, url, ...report });
  }
}
