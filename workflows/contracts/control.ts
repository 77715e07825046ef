// What people do to a running task, as Temporal messages: the `state` query, the steering and
// plan-approval updates, and the pause, resume, cancel-requested and feedback signals. The API
// sends them; the coding task handles them (workflows/coding-task/control.ts).
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { TaskState } from './task.js';

/** Feedback on the PR (a review or comment that mentions the bot), for a task waiting for it. */
export interface Feedback {
  from: string;
  body: string;
  url?: string;
}
export const feedbackSignal = defineSignal<[Feedback]>('feedback');

/** A message sent to a running task (POST /tasks/:id/messages). */
export interface SteeringMessage {
  text: string;
  from?: string;
}

export interface MessageAccepted {
  /** 1, 2, 3...: the order in which the task accepted messages, which is the order the model reads them. */
  seq: number;
  /** The model reads it before this step (unset for a task with attempts: each reads it before its own next step). */
  beforeStep?: number;
  /** A task with attempts: the attempts it was passed to (those still running). */
  attempts?: number[];
}

/** Steer a running task (or, while it waits for feedback on its PR, start another round); returns once the workflow has accepted it. */
export const sendMessageUpdate = defineUpdate<MessageAccepted, [SteeringMessage]>('sendMessage');
/** The same message forwarded by a task's parent to each of its attempts (a workflow cannot send an update). */
export const steerSignal = defineSignal<[SteeringMessage]>('steer');
/** Approve the plan of a task waiting in `awaiting_approval`. */
export const approvePlanUpdate = defineUpdate<{ approvedBy?: string }, [{ by?: string }]>('approvePlan');
export const pauseSignal = defineSignal<[{ by?: string }]>('pause');
export const resumeSignal = defineSignal<[{ by?: string }]>('resume');
/** Sent just before a cancellation, so the task can say who cancelled it. */
export const cancelRequestedSignal = defineSignal<[{ by?: string }]>('cancelRequested');

export const stateQuery = defineQuery<TaskState>('state');
