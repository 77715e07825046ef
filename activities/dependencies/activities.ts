// The dependency-bump activity: what a repository depends on (its files at the base branch,
// read through the forge before any sandbox exists), what the registries have newer within the
// policy, and each group of updates as a change a coding task makes and checks.
import type { DependencyGroup, PreparedChange } from '../../workflows/contracts/playbooks.js';
import { FailureType } from '../../workflows/failures.js';
import type { ActivityContext } from '../context.js';
import { ErrandFailure } from '../../lib/failures/errand-failure.js';
import { withHeartbeat } from '../heartbeat.js';
import { bumpCommand, bumpEnv, bumpPrompt, bumpTable } from './bump.js';
import { goDependencies, MANIFEST_FILES, nodeDependencies, type Dependency } from './manifests.js';
import { bumpSettings } from '../../lib/playbooks/dependency-bump-settings.js';
import { chooseUpdate, groupBranch, groupUpdates, isAllowed } from './policy.js';
import { goVersions, npmVersions } from './registries.js';

/** Registry requests at once: enough to be quick, few enough not to be throttled. */
const CONCURRENCY = 8;

export interface PlannedGroup {
  group: DependencyGroup;
  branch: string;
  prompt: string;
  change: PreparedChange;
}

export function createDependencyActivities({ forge, models, registries }: ActivityContext) {
  return {
    planDependencyBump(req: { repo: string; baseBranch: string; params: Record<string, unknown> }): Promise<{ checked: number; managers: string[]; groups: PlannedGroup[] }> {
      return withHeartbeat((signal) => plan(req, signal));
    },
  };

  async function plan(req: { repo: string; baseBranch: string; params: Record<string, unknown> }, signal: AbortSignal): Promise<{ checked: number; managers: string[]; groups: PlannedGroup[] }> {
    let settings;
    try {
      settings = bumpSettings(req.params);
    } catch (err) {
      throw ErrandFailure.permanent(FailureType.PlaybookUnavailable, `dependency-bump: params.groups: ${(err as Error).message}`);
    }
    const files = Object.fromEntries(await Promise.all(MANIFEST_FILES.map(async (f) => [f, await forge.readFile(req.repo, req.baseBranch, f)] as const)));
    let dependencies: Dependency[];
    try {
      dependencies = [...nodeDependencies(files), ...goDependencies(files['go.mod'])];
    } catch (err) {
      throw ErrandFailure.permanent(FailureType.RepoUnavailable, `cannot read the dependencies of ${req.repo}: ${(err as Error).message}`);
    }
    const considered = dependencies.filter((d) => isAllowed(d.name, settings.policy));
    const now = new Date();
    const updates = (
      await inBatches(considered, CONCURRENCY, async (d) => {
        const known =
          d.manager === 'go'
            ? await goVersions(registries.goProxy, d.name, (v) => chooseUpdate(d.current, [{ version: v }], { ...settings.policy, minReleaseAgeDays: 0 }, now) !== undefined, signal)
            : await npmVersions(registries.npm, d.name, signal);
        const update = chooseUpdate(d.current, known.versions, settings.policy, now);
        return update ? [{ name: d.name, manager: d.manager, from: d.current, ...update, ...(d.dev && { dev: true }), ...(d.prefix !== undefined && { prefix: d.prefix }), ...(known.notes && { notes: known.notes }) }] : [];
      })
    ).flat();
    const groups = groupUpdates(updates, settings.grouping, settings.named).map((group) => ({
      group,
      branch: groupBranch(group.name, settings),
      prompt: bumpPrompt(group),
      change: { command: bumpCommand(group), env: bumpEnv(registries), summary: bumpTable(group), agent: Boolean(models.coder), onFailure: settings.onFailure } satisfies PreparedChange,
    }));
    return { checked: considered.length, managers: [...new Set(dependencies.map((d) => d.manager))], groups };
  }
}

async function inBatches<T, R>(items: T[], size: number, each: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size) out.push(...(await Promise.all(items.slice(i, i + size).map(each))));
  return out;
}
