// A sandbox lost at every point of a task, on the local provider: its sandboxd killed and its
// directory removed (LocalSandboxProvider.destroy, as a reaped node would), at the moments the
// scenarios in test/support/sandbox-losses.ts mark. The Kubernetes lane runs the same
// scenarios with pods deleted (test/k8s/sandbox-loss.test.ts).
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { beforeAll } from '@jest/globals';
import { LocalSandboxProvider } from '../../activities/sandbox/local.js';
import { eventually } from '../support/errand-process.js';
import { sandboxLossScenarios } from '../support/sandbox-losses.js';
import { useErrand } from '../support/use.js';

const t = useErrand({ ERRAND_NARRATE: 'true' });
let sandboxes: LocalSandboxProvider;

beforeAll(() => {
  sandboxes = new LocalSandboxProvider({ dir: path.join(t.errand.stateDir, 'sandboxes'), sandboxdCommand: [] });
});

/** The sandbox the task works in now: the newest of its sandboxes. */
const current = (id: string) =>
  readdirSync(path.join(t.errand.stateDir, 'sandboxes'))
    .filter((d) => d === id || d.startsWith(`${id}-`))
    .sort((a, b) => a.length - b.length || a.localeCompare(b))
    .at(-1);

sandboxLossScenarios({
  errand: () => t.errand,
  model: () => t.model,
  lose: async (id) => {
    const lost = current(id)!;
    await sandboxes.destroy(lost);
    return lost;
  },
  loseWhenMarked: async (id, marker) => {
    const lost = await eventually(
      async () => {
        const sb = current(id);
        return sb && existsSync(path.join(sandboxes.workspaceDir(sb), marker)) ? sb : undefined;
      },
      60_000,
      `${marker} in the sandbox of task ${id}`,
    );
    await sandboxes.destroy(lost);
    return lost;
  },
});
