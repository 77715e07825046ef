// The coder's tools: their JSON schemas (what the model sees) and how each runs inside the
// sandbox through sandboxd. Every failure becomes a result the model can read and correct.
import type { ChatCompletionTool } from 'openai/resources/chat/completions';
import { z } from 'zod';
import type { ToolCall, ToolOutcome } from '../../workflows/contracts.js';
import { SandboxdRequestError, type SandboxdClient } from '../sandbox/sandboxd-client.js';
import { truncateMiddle } from '../sandbox/truncate.js';

/** What one tool result may put into the conversation (and so into history). */
export const MAX_TOOL_RESULT_BYTES = 16_000;

const ShellArgs = z.object({
  command: z.string().min(1),
  timeoutSeconds: z.number().int().positive().max(3600).optional(),
});
const ReadArgs = z.object({ path: z.string().min(1) });
const WriteArgs = z.object({ path: z.string().min(1), content: z.string() });

export const TOOL_DEFINITIONS: ChatCompletionTool[] = [
  fn('shell', 'Run a bash command in the repository root. Returns exit code, stdout and stderr.', {
    command: { type: 'string', description: 'The command line to run' },
    timeoutSeconds: { type: 'integer', description: 'Kill the command after this many seconds (default 120)' },
  }, ['command']),
  fn('read_file', 'Read a file of the repository.', { path: { type: 'string', description: 'Path relative to the repository root' } }, ['path']),
  fn('write_file', 'Create or overwrite a file of the repository with the given content.', {
    path: { type: 'string', description: 'Path relative to the repository root' },
    content: { type: 'string', description: 'The complete new content of the file' },
  }, ['path', 'content']),
  fn('finish', 'Call when the task is done: summarise what you changed and why, for the pull request.', {
    summary: { type: 'string', description: 'What changed and why, in a few sentences' },
  }, ['summary']),
];

export async function runToolCall(call: ToolCall, sandbox: SandboxdClient): Promise<ToolOutcome> {
  const result = (content: string, isError = false): ToolOutcome => ({
    toolCallId: call.id,
    content: truncateMiddle(content, MAX_TOOL_RESULT_BYTES).text,
    isError,
  });
  let args: unknown;
  try {
    args = JSON.parse(call.arguments || '{}');
  } catch {
    return result(`error: the arguments of ${call.name} are not valid JSON: ${call.arguments.slice(0, 200)}`, true);
  }
  try {
    switch (call.name) {
      case 'shell': {
        const a = ShellArgs.parse(args);
        const r = await sandbox.exec({ cmd: a.command, timeoutMs: (a.timeoutSeconds ?? 120) * 1000, maxOutputBytes: MAX_TOOL_RESULT_BYTES });
        const status = r.timedOut ? `timed out after ${a.timeoutSeconds ?? 120}s and was killed` : `exit code ${r.exitCode}`;
        return result(`${status}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`, r.exitCode !== 0);
      }
      case 'read_file': {
        const a = ReadArgs.parse(args);
        const r = await sandbox.readFile({ path: a.path, maxBytes: MAX_TOOL_RESULT_BYTES });
        return result(r.truncated ? `${r.content}\n[... file is ${r.size} bytes; only the start is shown ...]` : r.content);
      }
      case 'write_file': {
        const a = WriteArgs.parse(args);
        const r = await sandbox.writeFile({ path: a.path, content: a.content });
        return result(`wrote ${r.bytes} bytes to ${a.path}`);
      }
      default:
        return result(`error: unknown tool "${call.name}"; the tools are ${TOOL_DEFINITIONS.map((t) => (t.type === 'function' ? t.function.name : '')).join(', ')}`, true);
    }
  } catch (err) {
    if (err instanceof z.ZodError) return result(`error: bad arguments for ${call.name}: ${z.prettifyError(err)}`, true);
    if (err instanceof SandboxdRequestError && err.status < 500) return result(`error: ${err.message}`, true);
    throw err;
  }
}

function fn(name: string, description: string, properties: Record<string, unknown>, required: string[]): ChatCompletionTool {
  return { type: 'function', function: { name, description, parameters: { type: 'object', properties, required, additionalProperties: false } } };
}
