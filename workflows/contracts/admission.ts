// Admission (workflows/admission.ts): a task asks for a lease before it takes a sandbox, and
// waits in the `queued` phase until the admission workflow grants one (a signal); it gives the
// lease back when it ends or waits for feedback, with what it spent (a signal).
import { defineQuery, defineSignal } from '@temporalio/workflow';

export interface AdmissionLimits {
  /** Running tasks at once, in all; none: no limit. */
  maxRunning?: number;
  /** Running tasks at once in this request's repository; none: no limit. */
  maxRunningInRepo?: number;
  /** How often it asks Temporal whether a lease holder ended without giving it back (terminated). */
  sweepSeconds: number;
}
export interface AdmissionRequest {
  workflowId: string;
  taskId: string;
  repo: string;
  requester: string;
  /** The limits of the worker that sent it: the latest request's hold. */
  limits: AdmissionLimits;
}
export interface AdmissionRelease {
  workflowId: string;
  requester?: string;
  /** Dollars the task spent since it was admitted, for the requester's daily budget. */
  costUsd?: number;
}
export interface QueuedTask {
  taskId: string;
  repo: string;
  /** 1 is next. */
  position: number;
  since: string;
  waitingFor: string;
}
export interface AdmissionView {
  maxRunning?: number;
  running: { taskId: string; repo: string; since: string }[];
  queued: QueuedTask[];
  /** Dollars spent on `day` (UTC) by each requester, counted as tasks give back their lease. */
  spent: { day: string; byRequester: Record<string, number> };
}
export const admissionRequestSignal = defineSignal<[AdmissionRequest]>('admissionRequest');
export const admissionReleaseSignal = defineSignal<[AdmissionRelease]>('admissionRelease');
export const admissionQuery = defineQuery<AdmissionView>('admission');
/** To a task: its lease is granted. */
export const admittedSignal = defineSignal('admitted');
