// What a PR and its commit are called: a whole sentence or phrase within git's customary 72
// characters, never a prompt cut mid-word; the commit carries the agent's summary.
import { describe, expect, it } from '@jest/globals';
import { commitMessage, commitTitle, TITLE_MAX } from '../../workflows/coding-task/pull-request-text.js';

describe('commit and PR titles', () => {
  it("takes the prompt's first line as it is when it fits", () => {
    expect(commitTitle('Fix sum.\nIt subtracts.')).toBe('Fix sum.');
  });

  it("takes the prompt's first sentence when the line is long", () => {
    const prompt = 'Users with expired sessions get a 500. Fix the handler and add a test that shows it, since the last release broke it.';
    expect(commitTitle(prompt)).toBe('Users with expired sessions get a 500');
  });

  it("takes the agent's summary when the prompt is one long sentence", () => {
    const prompt = 'The webidl-conversions tests for the long long conversion fail since the last refactoring of the integer helpers in lib';
    expect(commitTitle(prompt, 'Restore the integer clamp in lib/index.js\nThe refactoring dropped it.')).toBe('Restore the integer clamp in lib/index.js');
  });

  it('cuts after the last whole word that fits, with an ellipsis, when nothing else fits', () => {
    const prompt = 'The webidl-conversions tests for the long long conversion fail since the last refactoring of the integer helpers in lib';
    const title = commitTitle(prompt);
    expect(title).toBe('The webidl-conversions tests for the long long conversion fail since…');
    expect(title.length).toBeLessThanOrEqual(TITLE_MAX);
    expect(prompt.startsWith(title.slice(0, -1))).toBe(true);
    expect(prompt[title.length - 1]).toBe(' ');
    // One word longer than the limit has nowhere to be cut but inside it.
    expect(commitTitle('x'.repeat(100))).toBe(`${'x'.repeat(TITLE_MAX - 1)}…`);
  });

  it("puts the summary in the commit's body, and nothing twice", () => {
    expect(commitMessage('Fix sum', 'sum adds now; a test shows it.')).toBe('Fix sum\n\nsum adds now; a test shows it.');
    expect(commitMessage('Fix sum', 'Fix sum')).toBe('Fix sum');
    expect(commitMessage('Fix sum', '  ')).toBe('Fix sum');
  });
});
