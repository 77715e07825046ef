// The workflows this worker registers; the bundler starts from this file.
export { codingTask } from './coding-task/index.js';
export { sandboxReaper } from './sandbox-reaper.js';
export { environmentRefresh } from './environment-refresh.js';
export { scheduledPlaybook } from './scheduled-playbook.js';
export { dependencyBump } from './dependency-bump.js';
export { admission } from './admission.js';
export { campaign } from './campaign.js';
export { taskAttempts, promoteAttempt } from './attempts.js';
