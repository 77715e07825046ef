// How a task asks the admission workflow (workflows/admission.ts) for a lease, through the
// worker's client: one signal-with-start, so the admission workflow is started by the first task
// that needs it and by no one else. The request carries this worker's limits, which the
// admission workflow adopts (every worker of a deployment has the same configuration).
import type { Client } from '@temporalio/client';
import picomatch from 'picomatch';
import type { AdmissionGate } from '../../activities/context.js';
import { admissionActive, type Config } from '../config.js';
import { admissionRequestSignal } from '../../workflows/contracts/admission.js';
import { ADMISSION_WORKFLOW_TYPE, admissionWorkflowId } from '../../workflows/names.js';

/** Undefined when no limit or budget is set: tasks then run at once, and ask nobody. */
export function admissionGate(client: Client, config: Config): AdmissionGate | undefined {
  const settings = config.admission;
  if (!admissionActive(settings)) return undefined;
  const overrides = settings.repoLimits.map(({ glob, max }) => ({ matches: picomatch(glob), max }));
  return {
    async request(req) {
      const maxRunningInRepo = overrides.find((o) => o.matches(req.repo))?.max ?? settings.maxRunningPerRepo;
      const limits = { maxRunning: settings.maxRunning, maxRunningInRepo, sweepSeconds: settings.sweepSeconds };
      await client.workflow.signalWithStart(ADMISSION_WORKFLOW_TYPE, {
        workflowId: admissionWorkflowId(config.temporal.taskQueue),
        taskQueue: config.temporal.taskQueue,
        args: [],
        signal: admissionRequestSignal,
        signalArgs: [{ ...req, limits }],
      });
    },
  };
}
