// What people do to a running task: read its state, steer it with a message, pause and resume
// it, approve its plan, say who cancels it, and hand it feedback on its PR. Handlers only change
// the run's state; the story (index.ts) acts on it between steps.
import { setHandler } from '@temporalio/workflow';
import {
  approvePlanUpdate,
  cancelRequestedSignal,
  feedbackSignal,
  pauseSignal,
  resumeSignal,
  sendMessageUpdate,
  stateQuery,
  steerSignal,
  type Feedback,
  type SteeringMessage,
} from '../contracts/control.js';
import type { TaskRun } from './run.js';

/** Who cancelled a task that was cancelled with no word from Errand's API (in Temporal UI, or its CLI). */
export const CANCELLED_OUTSIDE_ERRAND = 'someone outside Errand (Temporal UI or its CLI)';

export function handleControl(run: TaskRun): void {
  const { state } = run;
  setHandler(stateQuery, () => ({ ...state, elapsedMs: run.used().elapsedMs }));
  const accept = (message: SteeringMessage) => {
    const seq = ++state.messages.accepted;
    run.inbox.push({ kind: 'message', text: `Message from ${message.from ?? 'the requester'} (#${seq}): ${message.text}` });
    return { seq, beforeStep: state.step + 1 };
  };
  // From a parent that forwards its messages to its attempts: checked by the parent's update.
  setHandler(steerSignal, (message) => void accept(message));
  setHandler(
    sendMessageUpdate,
    accept,
    {
      // Any phase will do: a message that arrives after the agent finished (during tests,
      // review or publishing) starts another round once the PR is up to date.
      validator: (message: SteeringMessage) => {
        if (!message?.text?.trim()) throw new Error('text: required: what the agent should know or do');
      },
    },
  );
  setHandler(pauseSignal, ({ by }) => {
    if (!state.paused) state.paused = { since: new Date(Date.now()).toISOString(), by };
  });
  setHandler(resumeSignal, () => {
    if (state.paused) run.pausedMs += Date.now() - Date.parse(state.paused.since);
    state.paused = undefined;
  });
  setHandler(
    approvePlanUpdate,
    ({ by }) => {
      run.planApproved = true;
      state.planApprovedBy = by;
      return { approvedBy: by };
    },
    {
      validator: (_approval: { by?: string }) => {
        if (state.phase !== 'awaiting_approval') throw new Error(`task is ${state.phase}; only a task awaiting approval of its plan can be approved`);
      },
    },
  );
  setHandler(cancelRequestedSignal, ({ by }) => {
    state.cancelledBy = by ?? 'an API caller';
  });
  setHandler(feedbackSignal, (feedback: Feedback) => {
    const seq = ++state.messages.accepted;
    run.inbox.push({ kind: 'message', text: `Feedback on the pull request from ${feedback.from} (#${seq})${feedback.url ? ` (${feedback.url})` : ''}: ${feedback.body}` });
  });
}
