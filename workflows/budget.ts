// Budgets: when a task must stop working, decided by a pure function of what it has used.
// Deterministic (no clocks of its own), so the workflow can call it and tests can pin it down.
export interface Budget {
  maxSteps: number;
  /** Prompt plus completion tokens over the whole task. */
  maxTokens?: number;
  maxCostUsd?: number;
  maxWallClockMinutes?: number;
}

export type BudgetName = keyof Budget;

export interface Usage {
  steps: number;
  tokens: number;
  costUsd: number;
  elapsedMs: number;
}

/** The first budget that `used` has reached, or undefined while all have room. */
export function exhaustedBudget(budget: Budget, used: Usage): BudgetName | undefined {
  if (used.steps >= budget.maxSteps) return 'maxSteps';
  if (budget.maxTokens !== undefined && used.tokens >= budget.maxTokens) return 'maxTokens';
  if (budget.maxCostUsd !== undefined && used.costUsd >= budget.maxCostUsd) return 'maxCostUsd';
  if (budget.maxWallClockMinutes !== undefined && used.elapsedMs >= budget.maxWallClockMinutes * 60_000) return 'maxWallClockMinutes';
  return undefined;
}

export function describeBudgetStop(name: BudgetName, budget: Budget, used: Usage): string {
  switch (name) {
    case 'maxSteps':
      return `stopped after ${used.steps} steps (maxSteps ${budget.maxSteps})`;
    case 'maxTokens':
      return `stopped after ${used.tokens} tokens (maxTokens ${budget.maxTokens})`;
    case 'maxCostUsd':
      return `stopped after $${used.costUsd.toFixed(4)} (maxCostUsd $${budget.maxCostUsd})`;
    case 'maxWallClockMinutes':
      return `stopped after ${formatDuration(used.elapsedMs)} (maxWallClockMinutes ${budget.maxWallClockMinutes})`;
  }
}

function formatDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  return seconds < 120 ? `${seconds} s` : `${Math.round(seconds / 60)} minutes`;
}
