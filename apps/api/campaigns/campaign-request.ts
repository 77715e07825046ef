// What POST /campaigns accepts, validated at the edge: the repositories, what each task is
// asked (a prompt, or a playbook and its parameters), how many run at once, when to stop; and
// every field a task takes, applied to each.
import { z } from 'zod';
import { CAMPAIGN_ID } from '../../../workflows/names.js';
import { playbookFields, target, taskFields } from '../tasks/task-request.js';

/** The server's own limits (ERRAND_CAMPAIGN_MAX_REPOS, _MAX_CONCURRENCY) are checked where they are known, by the service. */
export const CreateCampaignBody = z
  .strictObject({
    repos: z
      .array(z.string().trim().min(1, 'a git URL or an absolute path to a repository'), { error: 'the repositories, each a git URL or an absolute path' })
      .min(1, 'name at least one repository')
      .optional(),
    /** Instead of `repos`: every repository the forge lists under this glob (`acme/*`, `/srv/git/*.git`). */
    reposMatching: z.string().trim().min(1).max(500).optional(),
    /** The branch every task starts from; each repository's default when left out. */
    baseBranch: target.baseBranch,
    prompt: z.string().trim().min(1, 'describe the change you want, or leave it out with a playbook').max(100_000, 'too long: at most 100,000 characters').optional(),
    ...playbookFields,
    ...taskFields,
    requirePlanApproval: z.boolean().optional(),
    concurrency: z.number().int('must be a whole number').min(1, 'at least 1 task at a time').optional(),
    stopAfterFailures: z.number().int('must be a whole number').min(1, 'at least 1; leave it out to go on whatever fails').optional(),
  })
  .superRefine((body, ctx) => {
    if (!body.prompt && !body.playbook) ctx.addIssue({ code: 'custom', path: ['prompt'], message: 'required: describe the change you want (or name a playbook)' });
    if (!body.repos === !body.reposMatching) {
      ctx.addIssue({ code: 'custom', path: [body.repos ? 'reposMatching' : 'repos'], message: body.repos ? 'give repos or reposMatching, not both' : 'required: the repositories (repos), or a pattern the forge lists them by (reposMatching, e.g. acme/* or /srv/git/*.git)' });
    }
    if (body.params && !body.playbook) ctx.addIssue({ code: 'custom', path: ['params'], message: 'params go with a playbook; name one in playbook' });
    const seen = new Map<string, number>();
    body.repos?.forEach((repo, i) => {
      if (seen.has(repo)) ctx.addIssue({ code: 'custom', path: ['repos', i], message: `${repo} is named twice (also repos.${seen.get(repo)}); name each repository once` });
      else seen.set(repo, i);
    });
  });
export type CreateCampaignBody = z.infer<typeof CreateCampaignBody>;

export const CampaignIdParam = z.string().regex(CAMPAIGN_ID, 'campaign ids are lower-case letters, digits and dashes');

export const ListCampaignsQuery = z.strictObject({
  requester: z.string().trim().min(1).max(200).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});
export type ListCampaignsQuery = z.infer<typeof ListCampaignsQuery>;
