// The rules that choose among a task's attempts, in the order people read them; what each
// attempt's budget is; and how names from outside (a repository, a branch) are written into a
// PR's Markdown, whatever they hold.
import { describe, expect, it } from '@jest/globals';
import { Lexer, type Tokens } from 'marked';
import { attemptBudget, chooseAttempt, type AttemptOutcome } from '../../workflows/contracts/attempts.js';
import { code, pullRequestBody } from '../../workflows/coding-task/pull-request-text.js';
import { initialTaskState, type TaskInput } from '../../workflows/contracts/task.js';

const passed = { command: 'npm test', passed: true };
const failed = { command: 'npm test', passed: false };
const finished = (n: number, test: AttemptOutcome['test'], lines: number): AttemptOutcome => ({ n, status: 'finished', published: true, test, size: { files: 1, lines } });

describe('choosing an attempt', () => {
  it('leaves out what failed or published nothing, then what failed its tests when another passed', () => {
    const choice = chooseAttempt([{ n: 1, status: 'failed', published: false }, finished(2, failed, 2), finished(3, passed, 40), { n: 4, status: 'cancelled', published: false }]);
    expect(choice).toEqual({
      n: 3,
      reasons: ['attempt 1 is out: it failed', 'attempt 4 is out: it was cancelled', "attempt 2 is out: its tests failed (`npm test`) and another's passed", 'attempt 3 is the only one left'],
    });
  });

  it("takes the review agent's preference among those left, with its reasons", () => {
    const choice = chooseAttempt([finished(1, passed, 2), finished(2, passed, 90)], { preferred: 2, reasons: 'Attempt 2 also handles the empty case.' });
    expect(choice.n).toBe(2);
    expect(choice.reasons).toEqual(['the review agent prefers attempt 2 of 1, 2: Attempt 2 also handles the empty case.']);
  });

  it('takes the smaller change when the review agent names none of those left, or there is no review agent', () => {
    const outcomes = [finished(1, passed, 30), finished(2, passed, 4), finished(3, failed, 1)];
    const noPreference = chooseAttempt(outcomes, { reasons: 'Both are fine.' });
    expect(noPreference.n).toBe(2);
    expect(noPreference.reasons.slice(1)).toEqual(['the review agent compared attempts 1, 2 and named none of them: Both are fine.', 'attempt 2 has the smaller change (4 changed lines; attempt 1: 30 changed lines)']);
    // Naming an attempt that is already out is naming none.
    expect(chooseAttempt(outcomes, { preferred: 3, reasons: 'The smallest.' }).n).toBe(2);
    expect(chooseAttempt(outcomes).n).toBe(2);
    // Equal sizes: the earlier attempt.
    expect(chooseAttempt([finished(1, passed, 4), finished(2, passed, 4)]).n).toBe(1);
  });

  it('keeps every attempt with a change when none passed its tests (or there are none)', () => {
    expect(chooseAttempt([finished(1, failed, 9), finished(2, failed, 3)]).n).toBe(2);
    expect(chooseAttempt([finished(1, undefined, 9), finished(2, undefined, 3)]).n).toBe(2);
  });

  it('chooses none when no attempt published a change', () => {
    const choice = chooseAttempt([{ n: 1, status: 'failed', published: false }, { n: 2, status: 'finished', published: false }]);
    expect(choice.n).toBeUndefined();
    expect(choice.reasons).toEqual(['attempt 1 is out: it failed', 'attempt 2 is out: it published no change', 'no attempt is left to choose: none published a change']);
  });
});

describe("an attempt's budget", () => {
  const budget = { maxSteps: 10, maxTokens: 1_000, maxCostUsd: 3, maxWallClockMinutes: 30 };
  it("is the task's whole budget with `each`", () => {
    expect(attemptBudget(budget, 3, 'each')).toEqual(budget);
  });
  it('is its share with `shared`, the wall clock whole (the attempts run at once), never below one step', () => {
    expect(attemptBudget(budget, 3, 'shared')).toEqual({ maxSteps: 3, maxTokens: 333, maxCostUsd: 1, maxWallClockMinutes: 30 });
    expect(attemptBudget({ maxSteps: 2 }, 4, 'shared')).toEqual({ maxSteps: 1 });
  });
});

describe('names from outside in a PR', () => {
  /** What a Markdown reader makes of `markdown`'s first paragraph: its inline tokens. */
  const inline = (markdown: string) => (new Lexer({ gfm: true }).lex(markdown)[0] as Tokens.Paragraph).tokens;

  it.each(['/srv/git/plain', '/srv/`evil`/x', '``', '/srv/x](javascript:alert(1)) [click](http://evil.example', '/srv/dépôt/ü`', '`lead', 'a\nb'])('writes %j as one code span holding exactly it', (name) => {
    const tokens = inline(`${code(name)}: task`);
    expect(tokens[0]).toMatchObject({ type: 'codespan' });
    expect((tokens[0] as Tokens.Codespan).text).toBe(name.replace(/\n/g, ' '));
    expect(tokens.some((t) => t.type === 'link')).toBe(false);
  });

  it("quotes a campaign's sibling repositories in the PR body, so none becomes a link or markup", () => {
    const input: TaskInput = {
      taskId: 'c1-1',
      repo: '/srv/a',
      baseBranch: 'main',
      prompt: 'Rename it.',
      network: 'off',
      budget: { maxSteps: 5 },
      checkpointEverySteps: 5,
      maxReviewRounds: 1,
      campaign: { id: 'c1', repos: 2, siblings: [{ repo: '/srv/b](https://evil.example) `x`', taskId: 'c1-2' }] },
    };
    const body = pullRequestBody(input, initialTaskState(input), 'Renamed.');
    const line = body.split('\n').find((l) => l.includes('evil.example'))!;
    expect(line).toBe('- `` /srv/b](https://evil.example) `x` ``: `c1-2`');
    expect(new Lexer({ gfm: true }).lex(line).flatMap((t) => ('items' in t ? (t as Tokens.List).items.flatMap((i) => i.tokens) : [t])).some((t) => JSON.stringify(t).includes('"type":"link"'))).toBe(false);
  });
});
