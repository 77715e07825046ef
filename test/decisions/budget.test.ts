// Budgets are a pure function of what a task has used: which one ends the work, and how the
// PR says so.
import { describe, expect, it } from '@jest/globals';
import { describeBudgetStop, exhaustedBudget, type Budget, type Usage } from '../../workflows/budget.js';

const budget: Budget = { maxSteps: 10, maxTokens: 1_000, maxCostUsd: 0.5, maxWallClockMinutes: 2 };
const fresh: Usage = { steps: 0, tokens: 0, costUsd: 0, elapsedMs: 0 };

describe('exhaustedBudget', () => {
  it('leaves room while every budget has some', () => {
    expect(exhaustedBudget(budget, { steps: 9, tokens: 999, costUsd: 0.49, elapsedMs: 119_999 })).toBeUndefined();
  });

  it.each([
    ['maxSteps', { steps: 10 }],
    ['maxTokens', { tokens: 1_000 }],
    ['maxCostUsd', { costUsd: 0.5 }],
    ['maxWallClockMinutes', { elapsedMs: 120_000 }],
  ])('names %s when it is reached', (name, used) => {
    expect(exhaustedBudget(budget, { ...fresh, ...used })).toBe(name);
  });

  it('ignores the budgets a task did not set', () => {
    expect(exhaustedBudget({ maxSteps: 10 }, { steps: 1, tokens: 1e9, costUsd: 1e6, elapsedMs: 1e9 })).toBeUndefined();
  });
});

describe('describeBudgetStop', () => {
  it('says what was used against which limit', () => {
    expect(describeBudgetStop('maxTokens', budget, { ...fresh, tokens: 1_080 })).toBe('stopped after 1080 tokens (maxTokens 1000)');
    expect(describeBudgetStop('maxCostUsd', budget, { ...fresh, costUsd: 0.51234 })).toBe('stopped after $0.5123 (maxCostUsd $0.5)');
    expect(describeBudgetStop('maxWallClockMinutes', budget, { ...fresh, elapsedMs: 61_400 })).toBe('stopped after 61 s (maxWallClockMinutes 2)');
    expect(describeBudgetStop('maxWallClockMinutes', budget, { ...fresh, elapsedMs: 600_000 })).toBe('stopped after 10 minutes (maxWallClockMinutes 2)');
  });
});
