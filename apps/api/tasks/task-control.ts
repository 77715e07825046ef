// Steers running tasks for the API: cancel, pause, resume, a message for the agent, a plan's
// approval. The workflow decides what each means; this answers what the caller asked for.
import { Inject, Injectable } from '@nestjs/common';
import { approvePlanUpdate, pauseSignal, resumeSignal, sendMessageUpdate, type MessageAccepted, type SteeringMessage } from '../../../workflows/contracts/control.js';
import { TaskGateway } from './task-gateway.js';

@Injectable()
export class TaskControl {
  constructor(@Inject(TaskGateway) private readonly gateway: TaskGateway) {}

  /** Cancels a running task: the work so far stays on its branch, the sandbox is destroyed. */
  async cancel(taskId: string, by?: string): Promise<{ id: string; status: string }> {
    await this.gateway.cancel(taskId, by);
    return { id: taskId, status: 'cancelling' };
  }

  async pause(taskId: string, by?: string): Promise<{ id: string; status: string }> {
    await this.gateway.signal(taskId, 'paused', pauseSignal, { by });
    return { id: taskId, status: 'pausing' };
  }

  async resume(taskId: string, by?: string): Promise<{ id: string; status: string }> {
    await this.gateway.signal(taskId, 'resumed', resumeSignal, { by });
    return { id: taskId, status: 'resuming' };
  }

  /** Returns once the workflow has accepted the message; the model reads it before its next call. */
  async sendMessage(taskId: string, message: SteeringMessage): Promise<{ id: string } & MessageAccepted> {
    return { id: taskId, ...(await this.gateway.update(taskId, 'sent messages', sendMessageUpdate, message)) };
  }

  async approve(taskId: string, by?: string): Promise<{ id: string; approvedBy?: string }> {
    return { id: taskId, ...(await this.gateway.update(taskId, 'approved', approvePlanUpdate, { by })) };
  }
}
