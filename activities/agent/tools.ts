// The coder's tools: their JSON schemas (what the model sees) and how each runs inside the
// sandbox through sandboxd. Every failure becomes a result the model can read and correct;
// a call the model could not have meant (bad JSON, unknown tool) is marked malformed.
import type { ChatCompletionTool } from 'openai/resources/chat/completions';
import { z } from 'zod';
import { ENDING_TOOLS, parseToolArguments, SEARCH_SECONDS, type AgentMode, type ToolCall, type ToolOutcome } from '../../workflows/tool-calls.js';
import { SandboxdRequestError, type SandboxdClient } from '../sandbox/sandboxd-client.js';
import { truncateMiddle } from '../sandbox/sandboxd/truncate.js';

/** What one tool result may put into the conversation (and so into history). */
export const MAX_TOOL_RESULT_BYTES = 16_000;
/** Files larger than this are not edited in place (the model should use shell tools). */
const MAX_EDIT_BYTES = 5_000_000;

const Path = z.string().min(1);
const Args = {
  shell: z.object({ command: z.string().min(1), timeoutSeconds: z.number().int().positive().max(3600).optional() }),
  read_file: z.object({ path: Path, startLine: z.number().int().positive().optional(), endLine: z.number().int().positive().optional() }),
  list_dir: z.object({ path: Path.optional() }),
  search: z.object({ pattern: z.string().min(1), path: Path.optional(), glob: z.string().min(1).optional() }),
  write_file: z.object({ path: Path, content: z.string() }),
  edit_file: z.object({ path: Path, old: z.string().min(1), new: z.string() }),
};

const str = (description: string) => ({ type: 'string', description });
const int = (description: string) => ({ type: 'integer', description });

export const TOOL_DEFINITIONS: ChatCompletionTool[] = [
  fn('shell', 'Run a bash command in the repository root. Returns exit code, stdout and stderr (long output keeps its head and tail).', {
    command: str('The command line to run'),
    timeoutSeconds: int('Kill the command and its children after this many seconds (default 120)'),
  }, ['command']),
  fn('read_file', 'Read a file, or a range of its lines (1-based, inclusive).', {
    path: str('Path relative to the repository root'),
    startLine: int('First line to return'),
    endLine: int('Last line to return'),
  }, ['path']),
  fn('list_dir', 'List a directory: names, types and sizes.', { path: str('Directory relative to the repository root (default: the root)') }, []),
  fn('search', 'Search file contents with a regular expression (ripgrep when installed, else grep). Returns path:line:text.', {
    pattern: str('Regular expression'),
    path: str('File or directory to search (default: the root)'),
    glob: str('Only files whose name matches this glob, e.g. "*.ts"'),
  }, ['pattern']),
  fn('write_file', 'Create or overwrite a file with the given content.', {
    path: str('Path relative to the repository root'),
    content: str('The complete new content of the file'),
  }, ['path', 'content']),
  fn('edit_file', 'Replace one exact occurrence of `old` with `new` in a file. Fails if `old` is absent or occurs more than once: include enough context to make it unique.', {
    path: str('Path relative to the repository root'),
    old: str('The exact text to replace, including whitespace'),
    new: str('The replacement text'),
  }, ['path', 'old', 'new']),
  fn('finish', 'Call when the task is done: summarise what you changed and why, for the pull request.', {
    [ENDING_TOOLS.finish.field]: str('What changed and why, in a few sentences'),
  }, [ENDING_TOOLS.finish.field]),
  fn('submit_plan', 'Submit your plan for approval. Until it is approved you can only read.', {
    [ENDING_TOOLS.submit_plan.field]: str('The steps you will take, the files you will change, and how you will test'),
  }, [ENDING_TOOLS.submit_plan.field]),
];

/** `plan`: exploring and writing a plan that needs approval, so no tool that can change anything. */
const MODE_TOOLS: Record<AgentMode, string[]> = {
  plan: ['read_file', 'list_dir', 'search', 'submit_plan'],
  work: ['shell', 'read_file', 'list_dir', 'search', 'write_file', 'edit_file', 'finish'],
};

export function toolDefinitions(mode: AgentMode): ChatCompletionTool[] {
  return TOOL_DEFINITIONS.filter((t) => t.type === 'function' && MODE_TOOLS[mode].includes(t.function.name));
}

export async function runToolCall(call: ToolCall, sandbox: SandboxdClient, mode: AgentMode = 'work'): Promise<ToolOutcome> {
  const result = (content: string, isError = false, malformed = false): ToolOutcome => ({
    toolCallId: call.id,
    content: truncateMiddle(content, MAX_TOOL_RESULT_BYTES).text,
    isError,
    ...(malformed ? { malformed } : {}),
  });
  const raw = parseToolArguments(call.arguments);
  if (raw === undefined) return result(`error: the arguments of ${call.name} are not valid JSON (${call.arguments.slice(0, 200)}); send a JSON object`, true, true);
  if (!MODE_TOOLS[mode].includes(call.name) || !Object.hasOwn(Args, call.name)) {
    const why = mode === 'plan' && Object.hasOwn(Args, call.name) ? `"${call.name}" cannot be used until your plan is approved` : `unknown tool "${call.name}"`;
    return result(`error: ${why}; the tools are ${MODE_TOOLS[mode].join(', ')}`, true, true);
  }
  try {
    switch (call.name) {
      case 'shell': {
        const a = Args.shell.parse(raw);
        const timeout = a.timeoutSeconds ?? 120;
        const r = await sandbox.exec({ cmd: a.command, timeoutMs: timeout * 1000, maxOutputBytes: MAX_TOOL_RESULT_BYTES });
        const status = r.timedOut ? `timed out after ${timeout}s; the command and its children were killed` : `exit code ${r.exitCode}`;
        return result(`${status}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`, r.exitCode !== 0);
      }
      case 'read_file': {
        const a = Args.read_file.parse(raw);
        const ranged = a.startLine !== undefined || a.endLine !== undefined;
        const r = await sandbox.readFile({ path: a.path, maxBytes: ranged ? MAX_EDIT_BYTES : MAX_TOOL_RESULT_BYTES });
        if (!ranged) return result(r.truncated ? `${r.content}\n[... file is ${r.size} bytes; read a line range to see more ...]` : r.content);
        const lines = r.content.split('\n');
        const start = a.startLine ?? 1;
        const end = Math.min(a.endLine ?? lines.length, lines.length);
        if (start > lines.length) return result(`error: ${a.path} has ${lines.length} lines; startLine ${start} is past the end`, true);
        return result(lines.slice(start - 1, end).map((l, i) => `${start + i}: ${l}`).join('\n'));
      }
      case 'list_dir': {
        const a = Args.list_dir.parse(raw);
        const r = await sandbox.list({ path: a.path ?? '.' });
        return result(r.entries.map((e) => `${e.type === 'dir' ? `${e.name}/` : e.name}${e.type === 'file' ? ` (${e.size} bytes)` : e.type === 'symlink' ? ' -> (symlink)' : ''}`).join('\n') || '(empty directory)');
      }
      case 'search': {
        const a = Args.search.parse(raw);
        const r = await sandbox.search({ pattern: a.pattern, path: a.path ?? '.', glob: a.glob, maxOutputBytes: MAX_TOOL_RESULT_BYTES, timeoutMs: SEARCH_SECONDS * 1000 });
        return result(r.matches.trim() ? r.matches : `no matches for /${a.pattern}/`);
      }
      case 'write_file': {
        const a = Args.write_file.parse(raw);
        const r = await sandbox.writeFile({ path: a.path, content: a.content });
        return result(`wrote ${r.bytes} bytes to ${a.path}`);
      }
      case 'edit_file': {
        const a = Args.edit_file.parse(raw);
        const file = await sandbox.readFile({ path: a.path, maxBytes: MAX_EDIT_BYTES });
        if (file.truncated) return result(`error: ${a.path} is larger than ${MAX_EDIT_BYTES} bytes; edit it with shell tools`, true);
        const count = file.content.split(a.old).length - 1;
        if (count !== 1) {
          return result(
            count === 0
              ? `error: the text to replace was not found in ${a.path}; read the file and copy the text exactly`
              : `error: the text to replace occurs ${count} times in ${a.path}; include more surrounding lines so it matches once`,
            true,
          );
        }
        const at = file.content.indexOf(a.old);
        await sandbox.writeFile({ path: a.path, content: file.content.slice(0, at) + a.new + file.content.slice(at + a.old.length) });
        return result(`replaced 1 occurrence in ${a.path}`);
      }
      default:
        return result(`error: ${call.name} cannot be called here`, true, true);
    }
  } catch (err) {
    if (err instanceof z.ZodError) return result(`error: bad arguments for ${call.name}: ${z.prettifyError(err)}`, true, true);
    if (err instanceof SandboxdRequestError && err.status < 500) return result(`error: ${err.message}`, true);
    throw err;
  }
}

function fn(name: string, description: string, properties: Record<string, unknown>, required: string[]): ChatCompletionTool {
  return { type: 'function', function: { name, description, parameters: { type: 'object', properties, required, additionalProperties: false } } };
}
