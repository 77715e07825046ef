// The sandbox activities: provision one (telling of the loss it replaces first), destroy one,
// and reap those whose workflow is gone.
import { Context } from '@temporalio/activity';
import type { SandboxLoss } from '../../workflows/contracts/task.js';
import type { ActivityContext } from '../context.js';
import { withHeartbeat } from '../heartbeat.js';

export function createSandboxActivities({ sandboxes, workflows, connections, event }: ActivityContext) {
  /**
   * A lost sandbox, told where people look: a `sandbox_lost` event, the `tool_result` of the call
   * it interrupted (with the reason, not a half-finished output), and one log line in words.
   */
  const tellLoss = async (taskId: string, loss: SandboxLoss, interrupted?: { step: number; tool: string; toolCallId: string }) => {
    const lost = loss.lostAfterStep === undefined ? 'nothing' : `the changes made after ${loss.lostAfterStep ? `step ${loss.lostAfterStep}` : 'the start'}`;
    await event(taskId, { id: `sandbox-lost:${loss.sandboxId}`, type: 'sandbox_lost', ...loss, lost, lostAfterStep: loss.lostAfterStep ?? null });
    if (interrupted) {
      const { step, tool, toolCallId } = interrupted;
      await event(taskId, { id: `step:${step}:${toolCallId}:result`, type: 'tool_result', step, tool, toolCallId, isError: true, output: 'the sandbox was lost while this ran' });
    }
    Context.current().log.warn(`task ${taskId}: sandbox ${loss.sandboxId} was lost during ${loss.during} (${loss.why}); it is replaced, restored from ${loss.restoredFrom}; lost: ${lost}`, { taskId });
  };

  return {
    /** `replacing`: the lost sandbox this one replaces, which the task's events and the log tell of first. */
    async provisionSandbox(req: {
      taskId: string;
      sandboxId: string;
      allowNetwork: boolean;
      image?: string;
      replacing?: { loss: SandboxLoss; interrupted?: { step: number; tool: string; toolCallId: string } };
    }): Promise<{ sandboxId: string }> {
      return withHeartbeat(async () => {
        const { replacing, ...spec } = req;
        if (replacing) await tellLoss(req.taskId, replacing.loss, replacing.interrupted);
        connections.forget(req.sandboxId);
        const sandbox = await sandboxes.provision(spec);
        await event(req.taskId, { id: `sandbox:${sandbox.sandboxId}`, type: 'sandbox_provisioned', sandboxId: sandbox.sandboxId, provider: sandboxes.name });
        return sandbox;
      });
    },

    async destroySandbox(req: { sandboxId: string }): Promise<void> {
      await withHeartbeat(async () => {
        connections.forget(req.sandboxId);
        await sandboxes.destroy(req.sandboxId);
      });
    },

    /** Deletes the sandboxes whose workflow has closed or is unknown; keeps those still running. */
    async reapSandboxes(): Promise<{ deleted: { sandboxId: string; workflowId?: string; why: string }[]; kept: number }> {
      const deleted: { sandboxId: string; workflowId?: string; why: string }[] = [];
      let kept = 0;
      for (const { sandboxId, workflowId } of await sandboxes.list()) {
        const status = workflowId && workflows ? await workflows.status(workflowId) : 'unknown';
        if (status === 'running') {
          kept++;
          continue;
        }
        connections.forget(sandboxId);
        await sandboxes.destroy(sandboxId);
        deleted.push({ sandboxId, workflowId, why: workflowId ? `workflow ${workflowId} is ${status}` : 'no workflow is named on it' });
      }
      return { deleted, kept };
    },
  };
}
