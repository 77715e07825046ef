// Repository setup, before the agent starts: the repo's instructions for agents (which go into
// the system prompt) and its setup script, run with a timeout and its log kept; then the change
// Errand prepared itself, if any (a dependency bump), with the same network, on the same base.
import type { TestResult } from '../../workflows/contracts/task.js';
import { FailureType } from '../../workflows/failures.js';
import { ErrandFailure } from '../../lib/failures/errand-failure.js';
import { SandboxdRequestError, type SandboxdClient } from '../sandbox/sandboxd-client.js';
import type { BlobStore } from '../../lib/storage/storage.js';
import { taskKeys } from '../../lib/storage/keys.js';
import { setupWithCache, type EnvironmentOutcome, type EnvironmentRequest } from '../environment/cached-setup.js';

/** Looked for in this order; the first one found is used. */
export const INSTRUCTION_FILES = ['AGENTS.md', 'CLAUDE.md', '.github/copilot-instructions.md'];
export const REPO_SETUP_SCRIPT = '.errand/setup.sh';
export const REPO_MCP_FILE = '.errand/mcp.json';
const MAX_INSTRUCTION_BYTES = 32_000;

export interface RepoSetup {
  /** Whether the environment came from a kept snapshot, or was made and kept, or neither. */
  environment?: EnvironmentOutcome;
  instructionsFrom?: string;
  instructionsKey?: string;
  setupLogKey?: string;
  /** How the prepared change's command went, when there was one (a failure is the workflow's to handle). */
  change?: TestResult;
}

export async function setupRepository(
  sandbox: SandboxdClient,
  store: BlobStore,
  req: { taskId: string; setupScript?: string; timeoutMs: number; network: boolean; secrets?: Record<string, string>; environment?: EnvironmentRequest },
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
  // Which MCP servers the repository wants (narrowing the operator's), as the base holds it; a
  // file too large is kept cut, so it reads as invalid and no server is used.
  const mcp = await sandbox.readFile({ path: REPO_MCP_FILE, maxBytes: 16_000 }).catch(absent);
  if (mcp) await store.put(taskKeys(req.taskId).repoMcp, mcp.content);
  const repoScript = (await sandbox.list({ path: '.errand' }).catch(absent))?.entries.some((e) => e.name === 'setup.sh');
  const script = req.setupScript ?? (repoScript ? `bash ${REPO_SETUP_SCRIPT}` : undefined);
  if (script) {
    const setup = () => runSetupScript(sandbox, store, req, script, result);
    if (!req.environment) await setup();
    else {
      const maintenance = async (command: string) => {
        try {
          await runSetupScript(sandbox, store, req, command, result);
          return true;
        } catch (err) {
          if (err instanceof ErrandFailure && err.type === FailureType.SetupFailed && !/left a secret/.test(err.message)) return false;
          throw err;
        }
      };
      result.environment = await setupWithCache(sandbox, req.environment, script, setup, maintenance);
    }
  }
  return result;
}

/**
 * Errand's own change (a dependency bump), after the setup and before any work is restored,
 * with the setup's network: always on the base, never in a tree the agent wrote (its manifest,
 * lockfile or `.npmrc` would choose what runs, install scripts included). On a replacement
 * sandbox it runs again on the base, so what it installed is there when the work comes back,
 * as it was in the first sandbox. How it went is returned; a failure is the workflow's to handle.
 */
export async function applyChange(
  sandbox: SandboxdClient,
  store: BlobStore,
  req: { taskId: string; timeoutMs: number; network: boolean; change: { command: string; env: Record<string, string> } },
): Promise<TestResult> {
  const r = await sandbox.exec({ cmd: req.change.command, env: req.change.env, timeoutMs: req.timeoutMs, maxOutputBytes: 200_000, network: req.network });
  const log = `$ ${req.change.command}\n${r.stdout}${r.stderr ? `\n--- stderr ---\n${r.stderr}` : ''}`;
  const logKey = taskKeys(req.taskId).log('change');
  await store.put(logKey, log);
  return { command: req.change.command, exitCode: r.exitCode ?? -1, passed: r.exitCode === 0, outputTail: log.slice(-2000), logKey };
}

async function runSetupScript(
  sandbox: SandboxdClient,
  store: BlobStore,
  req: { taskId: string; timeoutMs: number; network: boolean; secrets?: Record<string, string> },
  script: string,
  result: RepoSetup,
): Promise<void> {
  // The setup's secrets are in this command's environment only: no later command gets them.
  const secrets = req.secrets ?? {};
  const r = await sandbox.exec({ cmd: script, env: secrets, timeoutMs: req.timeoutMs, maxOutputBytes: 200_000, network: req.network });
  result.setupLogKey = taskKeys(req.taskId).log('setup');
  const log = `$ ${script}\n${r.stdout}${r.stderr ? `\n--- stderr ---\n${r.stderr}` : ''}`;
  await store.put(result.setupLogKey, log);
  if (r.exitCode !== 0) {
    const why = r.timedOut ? `timed out after ${Math.round(req.timeoutMs / 1000)} s` : `exited with ${r.exitCode}`;
    throw ErrandFailure.permanent(FailureType.SetupFailed, `the setup script ${why}; its log ends with:\n${log.slice(-1500)}`);
  }
  await refuseLeftSecrets(sandbox, secrets);
}

/**
 * A setup that left one of its secrets in a file (a token written into `.npmrc` and not removed)
 * would hand it to the agent's commands, which read every file the sandbox has: the task stops
 * here, naming the secret and the files. The search is Errand's own command, given the values
 * in its environment; the agent has not run yet.
 */
async function refuseLeftSecrets(sandbox: SandboxdClient, secrets: Record<string, string>): Promise<void> {
  const names = Object.keys(secrets);
  if (!names.length) return;
  const env = Object.fromEntries(names.map((name, i) => [`ERRAND_LOOK_FOR_${i}`, secrets[name]!]));
  const r = await sandbox.exec({
    cmd: `for i in ${names.map((_, i) => i).join(' ')}; do v="ERRAND_LOOK_FOR_$i"; grep -rlsF --exclude-dir=.git -e "\${!v}" "$PWD" "$HOME" /tmp | sort -u | sed "s|^$PWD/||; s/^/$i /"; done; true`,
    env,
    timeoutMs: 120_000,
    maxOutputBytes: 20_000,
  });
  const found = r.stdout.split('\n').filter(Boolean).map((line) => ({ name: names[Number(line.split(' ')[0])]!, file: line.slice(line.indexOf(' ') + 1) }));
  if (!found.length) return;
  const list = [...new Set(found.map((f) => `${f.name} in ${f.file}`))].slice(0, 10).join(', ');
  throw ErrandFailure.permanent(
    FailureType.SetupFailed,
    `the setup script left a secret where the agent could read it (${list}); remove it before setup ends (e.g. delete the file that holds the token once the install is done)`,
  );
}

/** A file the repo does not have (or that points outside it) is simply absent; anything else is a failure. */
function absent(err: unknown): undefined {
  if (err instanceof SandboxdRequestError && err.status < 500) return undefined;
  throw err;
}
