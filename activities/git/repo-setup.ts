// Repository setup, before the agent starts: the repo's instructions for agents (which go into
// the system prompt) and its setup script, run with a timeout and its log kept.
import { FailureType } from '../../workflows/failures.js';
import { ErrandFailure } from '../failures.js';
import { SandboxdRequestError, type SandboxdClient } from '../sandbox/sandboxd-client.js';
import type { ArtifactStore } from '../store/artifact-store.js';
import { taskKeys } from '../store/keys.js';

/** Looked for in this order; the first one found is used. */
export const INSTRUCTION_FILES = ['AGENTS.md', 'CLAUDE.md', '.github/copilot-instructions.md'];
export const REPO_SETUP_SCRIPT = '.errand/setup.sh';
const MAX_INSTRUCTION_BYTES = 32_000;

export interface RepoSetup {
  instructionsFrom?: string;
  instructionsKey?: string;
  setupLogKey?: string;
}

export async function setupRepository(
  sandbox: SandboxdClient,
  store: ArtifactStore,
  req: { taskId: string; setupScript?: string; timeoutMs: number; network: boolean },
): Promise<RepoSetup> {
  const result: RepoSetup = {};
  for (const file of INSTRUCTION_FILES) {
    const found = await sandbox.readFile({ path: file, maxBytes: MAX_INSTRUCTION_BYTES }).catch(absent);
    if (!found) continue;
    result.instructionsFrom = file;
    result.instructionsKey = taskKeys(req.taskId).instructions;
    await store.put(result.instructionsKey, found.truncated ? `${found.content}\n[... truncated ...]` : found.content);
    break;
  }
  const repoScript = (await sandbox.list({ path: '.errand' }).catch(absent))?.entries.some((e) => e.name === 'setup.sh');
  const script = req.setupScript ?? (repoScript ? `bash ${REPO_SETUP_SCRIPT}` : undefined);
  if (!script) return result;
  const r = await sandbox.exec({ cmd: script, timeoutMs: req.timeoutMs, maxOutputBytes: 200_000, network: req.network });
  result.setupLogKey = taskKeys(req.taskId).log('setup');
  const log = `$ ${script}\n${r.stdout}${r.stderr ? `\n--- stderr ---\n${r.stderr}` : ''}`;
  await store.put(result.setupLogKey, log);
  if (r.exitCode !== 0) {
    const why = r.timedOut ? `timed out after ${Math.round(req.timeoutMs / 1000)} s` : `exited with ${r.exitCode}`;
    throw ErrandFailure.permanent(FailureType.SetupFailed, `the setup script ${why}; its log ends with:\n${log.slice(-1500)}`);
  }
  return result;
}

/** A file the repo does not have (or that points outside it) is simply absent; anything else is a failure. */
function absent(err: unknown): undefined {
  if (err instanceof SandboxdRequestError && err.status < 500) return undefined;
  throw err;
}
