// admission: one long-lived workflow per task queue that decides which tasks may run now, so a
// platform team can cap running tasks in all and per repository. Tasks over a limit are not
// refused: they wait, first in first out, and are granted a lease (a signal to the task) as
// others give theirs back (a signal from the task when it ends or waits for feedback). A task
// that cannot give it back (terminated, timed out) is found by a sweep that asks Temporal which
// holders have closed, so no slot leaks for longer than a sweep. Everything is workflow state:
// a crash of any process loses nothing. It also keeps what each requester spent today, as tasks
// report it with their release, for the API's daily budget.
import { allHandlersFinished, condition, continueAsNew, getExternalWorkflowHandle, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import { admissionQuery, admissionReleaseSignal, admissionRequestSignal, admittedSignal, type AdmissionLimits, type AdmissionView } from './contracts/admission.js';

const { endedWorkflows } = proxyActivities<Pick<ReturnType<typeof createActivities>, 'endedWorkflows'>>({
  startToCloseTimeout: '1 minute',
  retry: { maximumAttempts: 3 },
});

interface Lease {
  workflowId: string;
  taskId: string;
  repo: string;
  requester: string;
  since: string;
}

export interface AdmissionState {
  maxRunning?: number;
  /** Per repository, as the latest request from it said (none: no limit). */
  repoLimits: Record<string, number | undefined>;
  sweepSeconds: number;
  running: Lease[];
  /** Oldest first. */
  queued: Lease[];
  spent: AdmissionView['spent'];
}

/** Runs this long before it continues as new with its state (its history stays small). */
const MAX_HISTORY = 5_000;

const today = () => new Date(Date.now()).toISOString().slice(0, 10);

export async function admission(carried?: AdmissionState): Promise<never> {
  const s: AdmissionState = carried ?? { repoLimits: {}, sweepSeconds: 60, running: [], queued: [], spent: { day: today(), byRequester: {} } };
  let changed = true;
  /** Holders asking again (a retried request): told again. */
  const tellAgain = new Set<string>();

  setHandler(admissionRequestSignal, (req) => {
    applyLimits(s, req.repo, req.limits);
    if (s.running.some((l) => l.workflowId === req.workflowId)) tellAgain.add(req.workflowId);
    else if (!s.queued.some((l) => l.workflowId === req.workflowId)) {
      s.queued.push({ workflowId: req.workflowId, taskId: req.taskId, repo: req.repo, requester: req.requester, since: new Date(Date.now()).toISOString() });
    }
    changed = true;
  });
  setHandler(admissionReleaseSignal, (release) => {
    release_(s, release.workflowId);
    if (release.requester && release.costUsd) {
      if (s.spent.day !== today()) s.spent = { day: today(), byRequester: {} };
      s.spent.byRequester[release.requester] = (s.spent.byRequester[release.requester] ?? 0) + release.costUsd;
    }
    changed = true;
  });
  setHandler(admissionQuery, () => view(s));

  let nextSweep = Date.now() + s.sweepSeconds * 1000;
  for (;;) {
    // Cleared before acting, so what arrives while the grants are sent is acted on next.
    changed = false;
    const granted = grant(s);
    const told = [...granted.map((l) => l.workflowId), ...tellAgain];
    tellAgain.clear();
    // A task that is gone cannot run: its lease goes to the next.
    const gone = await Promise.all(told.map((id) => getExternalWorkflowHandle(id).signal(admittedSignal).then(() => undefined, () => id)));
    for (const id of gone) if (id) release_(s, id);
    if (gone.some(Boolean)) continue;

    const waiting = s.running.length + s.queued.length > 0;
    if (waiting) await condition(() => changed, Math.max(1, nextSweep - Date.now()));
    else await condition(() => changed);
    if (Date.now() >= nextSweep) {
      if (waiting) {
        const ended = await endedWorkflows([...s.running, ...s.queued].map((l) => l.workflowId));
        for (const id of ended) release_(s, id);
      }
      nextSweep = Date.now() + s.sweepSeconds * 1000;
    }
    if (workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > MAX_HISTORY) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof admission>(s);
    }
  }
}

function applyLimits(s: AdmissionState, repo: string, limits: AdmissionLimits): void {
  s.maxRunning = limits.maxRunning;
  s.repoLimits[repo] = limits.maxRunningInRepo;
  s.sweepSeconds = limits.sweepSeconds;
}

function release_(s: AdmissionState, workflowId: string): void {
  s.running = s.running.filter((l) => l.workflowId !== workflowId);
  s.queued = s.queued.filter((l) => l.workflowId !== workflowId);
}

/** Moves to running, oldest first, every queued task there is room for (in all and in its repository). */
function grant(s: AdmissionState): Lease[] {
  const granted: Lease[] = [];
  const inRepo = countByRepo(s.running);
  for (const lease of [...s.queued]) {
    if (s.maxRunning !== undefined && s.running.length >= s.maxRunning) break;
    const repoMax = s.repoLimits[lease.repo];
    if (repoMax !== undefined && (inRepo[lease.repo] ?? 0) >= repoMax) continue;
    s.queued = s.queued.filter((l) => l !== lease);
    s.running.push(lease);
    inRepo[lease.repo] = (inRepo[lease.repo] ?? 0) + 1;
    granted.push(lease);
  }
  return granted;
}

function countByRepo(leases: Lease[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const l of leases) counts[l.repo] = (counts[l.repo] ?? 0) + 1;
  return counts;
}

function view(s: AdmissionState): AdmissionView {
  const inRepo = countByRepo(s.running);
  return {
    maxRunning: s.maxRunning,
    running: s.running.map(({ taskId, repo, since }) => ({ taskId, repo, since })),
    queued: s.queued.map(({ taskId, repo, since }, i) => {
      const repoMax = s.repoLimits[repo];
      const repoFull = repoMax !== undefined && (inRepo[repo] ?? 0) >= repoMax;
      const waitingFor = repoFull ? `${repoMax} running in ${repo}, its limit` : `${s.running.length} running, the limit of ${s.maxRunning ?? 'none'}`;
      return { taskId, repo, position: i + 1, since, waitingFor: i === 0 || repoFull ? waitingFor : `${i} queued before it; ${waitingFor}` };
    }),
    spent: s.spent.day === today() ? s.spent : { day: today(), byRequester: {} },
  };
}
