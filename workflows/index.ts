// The workflows this worker registers; the bundler starts from this file.
export { codingTask } from './coding-task.js';
export { sandboxReaper } from './sandbox-reaper.js';
