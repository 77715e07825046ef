// Steers running tasks for the API: cancel, pause, resume, a message for the agent, a plan's
// approval. The workflow decides what each means; this answers what the caller asked for.
import { ConflictException, Inject, Injectable, NotFoundException } from '@nestjs/common';
import type { AttemptRow, AttemptsState } from '../../../workflows/contracts/attempts.js';
import type { PullRequestRef } from '../../../workflows/contracts/task.js';
import { approvePlanUpdate, pauseSignal, resumeSignal, sendMessageUpdate, type MessageAccepted, type SteeringMessage } from '../../../workflows/contracts/control.js';
import { statusName, TaskGateway, type TaskSnapshot } from './task-gateway.js';

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

  /** Opens the PR of an attempt Errand did not choose, because a person asks: once it has chosen, and only for an attempt with a change. */
  async promote(taskId: string, n: number, by: string): Promise<{ id: string; attempt: number; pr: PullRequestRef }> {
    const { description, state, attempt } = await this.attempt(taskId, n);
    const chosen = state as AttemptsState;
    if (statusName(description) === 'running') throw new ConflictException(`task ${taskId} is still running its attempts; promote one once it has chosen (GET /tasks/${taskId} shows the choice)`);
    if (chosen.choice?.n === n && chosen.pr) throw new ConflictException(`attempt ${n} is the one Errand chose: its PR is #${chosen.pr.number} (${chosen.pr.url})`);
    if (!attempt.proposal) throw new ConflictException(`attempt ${n} has no change to open a PR for: it ${attempt.status === 'finished' ? 'published none' : attempt.status}${attempt.error ? ` (${attempt.error})` : ''}`);
    const pr = await this.gateway.promote({ parentTaskId: taskId, n, repo: chosen.repo, baseBranch: chosen.baseBranch, proposal: attempt.proposal, by });
    return { id: taskId, attempt: n, pr };
  }

  /** Attempt `n` of a task; 404 when the task has no attempts, or not that one. */
  async attempt(taskId: string, n: number): Promise<TaskSnapshot & { attempt: AttemptRow }> {
    const snapshot = await this.gateway.read(taskId);
    const attempts = (snapshot.state as Partial<AttemptsState> | undefined)?.attempts;
    if (!attempts) throw new NotFoundException(`task ${taskId} has no attempts: it was asked for one (POST /tasks with attempts: 2 or more makes several)`);
    const attempt = attempts.find((a) => a.n === n);
    if (!attempt) throw new NotFoundException(`task ${taskId} has attempts 1 to ${attempts.length}, not ${n}`);
    return { ...snapshot, attempt };
  }
}
