// The review activity: the deterministic checks (no empty diff, no secret, the allowed paths),
// then the review agent, on the branch as it stands.
import type { ReviewResult } from '../../workflows/contracts/review.js';
import type { TestResult } from '../../workflows/contracts/task.js';
import { FailureType } from '../../workflows/failures.js';
import { callCost } from '../agent/model-client.js';
import { tellingRetries } from '../agent/model-retries.js';
import type { ActivityContext } from '../context.js';
import { ErrandFailure } from '../../lib/failures/errand-failure.js';
import * as git from '../git/workspace.js';
import { withHeartbeat } from '../heartbeat.js';
import { taskKeys } from '../../lib/storage/keys.js';
import { forbiddenPathsIn } from '../playbooks/forbidden.js';
import { chooseAttempt, leftAfterTests, type AttemptChoice, type AttemptOutcome, type AttemptStatus } from '../../workflows/contracts/attempts.js';
import { describeSecrets, diffSize, findSecrets, outsideAllowedPaths, parseDiff } from './checks.js';
import { runComparison } from './comparison.js';
import { runReview } from './reviewer.js';

export function createReviewActivities({ connect, event, models, blobs, redactor }: ActivityContext) {
  /** The verdict in the task's timeline, with the summary and each comment to read (redacted: the model wrote them). */
  const finished = (req: { taskId: string; round: number }, review: ReviewResult) =>
    event(req.taskId, {
      id: `review:${req.round}:finished`,
      type: 'review_finished',
      round: req.round,
      verdict: review.verdict,
      comments: review.comments.length,
      valid: review.valid,
      text: redactor.redact([review.summary, ...review.comments.map((c) => `${c.severity} ${c.file}${c.line ? `:${c.line}` : ''}: ${c.body}`)].join('\n\n')),
    });
  return {
    async review(req: {
      taskId: string;
      sandboxId: string;
      baseSha: string;
      round: number;
      prompt: string;
      summary: string;
      test?: TestResult;
      instructionsKey?: string;
      allowedPaths?: string[];
      /** The playbook's forbidden paths: a change touching one goes back without the model's reading. */
      forbiddenPaths?: string[];
    }): Promise<{ review: ReviewResult; usage: { prompt: number; completion: number }; costUsd: number }> {
      const reviewer = models.reviewer ?? models.coder;
      return withHeartbeat(async (signal) => {
        const diff = await git.branchDiff(await connect(req.sandboxId, signal), req.baseSha);
        const files = parseDiff(diff);
        if (files.length === 0) {
          throw ErrandFailure.permanent(FailureType.NoChanges, 'no changes: the agent finished without changing any file, so there is nothing to review or publish');
        }
        const secrets = findSecrets(diff, redactor);
        if (secrets.length) {
          throw ErrandFailure.permanent(
            FailureType.SecretInDiff,
            `the change adds what looks like a secret (${describeSecrets(secrets)}), so it was blocked and not pushed; keep secrets out of the repository (environment variables, a secret manager)`,
          );
        }
        const outside = outsideAllowedPaths(files, req.allowedPaths);
        await event(req.taskId, { id: `review:${req.round}:started`, type: 'review_started', round: req.round, files: files.length, outsideAllowedPaths: outside });
        const forbidden = forbiddenPathsIn(files.map((f) => f.path), req.forbiddenPaths && { paths: req.forbiddenPaths, commands: [] });
        if (forbidden.length) {
          const review: ReviewResult = {
            verdict: 'request_changes',
            summary: `The change touches ${forbidden.length === 1 ? 'a path' : 'paths'} the playbook forbids changing; it cannot be published until they are as they were.`,
            comments: forbidden.map((file) => ({ file, severity: 'blocking', body: `The playbook forbids changing this path (${req.forbiddenPaths!.join(', ')}); put it back as the base has it (\`git checkout ${req.baseSha} -- <path>\`, or delete it if the change added it).` })),
            outsideAllowedPaths: outside,
            valid: true,
          };
          await finished(req, review);
          return { review, usage: { prompt: 0, completion: 0 }, costUsd: 0 };
        }
        if (!reviewer) {
          // No model (a dependency bump on a server without one): the checks above and the tests decide.
          const passed = req.test?.passed ?? true;
          const review: ReviewResult = {
            verdict: passed ? 'approve' : 'request_changes',
            summary: `the deterministic checks passed (a change, no secret${req.allowedPaths?.length ? ', the allowed paths' : ''})${req.test ? ` and the tests ${passed ? 'passed' : 'failed'}` : ''}.`,
            comments: [],
            outsideAllowedPaths: outside,
            valid: true,
            checksOnly: true,
          };
          await finished(req, review);
          return { review, usage: { prompt: 0, completion: 0 }, costUsd: 0 };
        }
        const instructions = req.instructionsKey ? await blobs.get(req.instructionsKey) : undefined;
        const run = await runReview(tellingRetries(reviewer, event, req.taskId, { round: req.round }), { ...req, diff, instructions, outsideAllowedPaths: outside }, signal);
        await blobs.put(taskKeys(req.taskId).reviewRound(req.round), JSON.stringify(run.messages));
        const review: ReviewResult = { ...run.result, outsideAllowedPaths: outside };
        await finished(req, review);
        return { review, usage: run.usage, costUsd: callCost(reviewer.settings, run.usage) };
      });
    },

    /**
     * Chooses among a task's attempts by the rules (workflows/contracts/attempts.ts): reads each
     * one's diff for its size, asks the review agent to compare those left after the tests (two or
     * more, and a model to ask), and writes the choice and every reason as the task's events. The
     * chosen attempt's diff becomes the task's own (GET /tasks/:id/diff).
     */
    async chooseAttempt(req: {
      taskId: string;
      prompt: string;
      attempts: { n: number; taskId: string; status: AttemptStatus; summary?: string; diffKey?: string; test?: TestResult }[];
    }): Promise<{ choice: AttemptChoice; sizes: Record<number, { files: number; lines: number }>; usage: { prompt: number; completion: number }; costUsd: number }> {
      const reviewer = models.reviewer ?? models.coder;
      return withHeartbeat(async (signal) => {
        const diffs = new Map<number, string>();
        for (const a of req.attempts) {
          const diff = a.diffKey && (await blobs.get(a.diffKey));
          if (diff) diffs.set(a.n, diff);
        }
        const sizes = Object.fromEntries([...diffs].map(([n, diff]) => [n, diffSize(diff)]));
        const outcomes: AttemptOutcome[] = req.attempts.map((a) => ({ n: a.n, status: a.status, published: diffs.has(a.n), ...(a.test && { test: a.test }), ...(sizes[a.n] && { size: sizes[a.n] }) }));
        const left = leftAfterTests(outcomes);
        let comparison: { preferred?: number; reasons: string } | undefined;
        let usage = { prompt: 0, completion: 0 };
        if (left.length > 1 && reviewer) {
          await event(req.taskId, { id: 'attempts:compare:started', type: 'attempts_comparing', attempts: left.map((o) => o.n) });
          const compared = left.map((o) => {
            const a = req.attempts.find((x) => x.n === o.n)!;
            return { n: o.n, summary: a.summary, diff: diffs.get(o.n)!, test: a.test };
          });
          const run = await runComparison(tellingRetries(reviewer, event, req.taskId, { round: 0 }), req.prompt, compared, signal);
          usage = run.usage;
          comparison = { ...(run.preferred !== undefined && { preferred: run.preferred }), reasons: redactor.redact(run.reasons) };
        }
        const choice = chooseAttempt(outcomes, comparison);
        if (choice.n !== undefined) await blobs.put(taskKeys(req.taskId).diff, diffs.get(choice.n)!);
        await event(req.taskId, {
          id: 'attempts:chosen',
          type: 'attempt_chosen',
          ...(choice.n !== undefined && { attempt: choice.n, taskOfAttempt: req.attempts.find((a) => a.n === choice.n)!.taskId }),
          reasons: choice.reasons,
          ...(comparison && { comparison }),
          text: choice.reasons.join('\n'),
        });
        return { choice, sizes, usage, costUsd: reviewer && comparison ? callCost(reviewer.settings, usage) : 0 };
      });
    },
  };
}
