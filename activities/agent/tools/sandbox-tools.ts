// Errand's own tools: the six that run inside the sandbox through sandboxd, and the two that
// end a turn (the workflow answers those). `plan` offers only what cannot change anything.
import { z } from 'zod';
import { ENDING_TOOLS, SEARCH_SECONDS } from '../../../workflows/tool-calls.js';
import { MAX_TOOL_RESULT_BYTES, tool, type ToolRecord } from './registry.js';

/** Files larger than this are not edited in place (the model should use shell tools). */
const MAX_EDIT_BYTES = 5_000_000;

const path = (what = 'Path relative to the repository root') => z.string().min(1).describe(what);
const line = (what: string) => z.number().int().positive().optional().describe(what);

export const SANDBOX_TOOLS: readonly ToolRecord[] = [
  tool({
    name: 'shell',
    description: 'Run a bash command in the repository root. Returns exit code, stdout and stderr (long output keeps its head and tail).',
    args: z.object({
      command: z.string().min(1).describe('The command line to run'),
      timeoutSeconds: z.number().int().positive().max(3600).optional().describe('Kill the command and its children after this many seconds (default 120)'),
    }),
    modes: ['work'],
    readOnly: false,
    async run(a, env) {
      const timeout = a.timeoutSeconds ?? 120;
      const r = await (await env.sandbox()).exec({ cmd: a.command, timeoutMs: timeout * 1000, maxOutputBytes: MAX_TOOL_RESULT_BYTES });
      const status = r.timedOut ? `timed out after ${timeout}s; the command and its children were killed` : `exit code ${r.exitCode}`;
      return { content: `${status}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`, isError: r.exitCode !== 0 };
    },
  }),
  tool({
    name: 'read_file',
    description: 'Read a file, or a range of its lines (1-based, inclusive).',
    args: z.object({ path: path(), startLine: line('First line to return'), endLine: line('Last line to return') }),
    modes: ['plan', 'work'],
    readOnly: true,
    async run(a, env) {
      const ranged = a.startLine !== undefined || a.endLine !== undefined;
      const r = await (await env.sandbox()).readFile({ path: a.path, maxBytes: ranged ? MAX_EDIT_BYTES : MAX_TOOL_RESULT_BYTES });
      if (!ranged) return { content: r.truncated ? `${r.content}\n[... file is ${r.size} bytes; read a line range to see more ...]` : r.content };
      const lines = r.content.split('\n');
      const start = a.startLine ?? 1;
      const end = Math.min(a.endLine ?? lines.length, lines.length);
      if (start > lines.length) return { content: `error: ${a.path} has ${lines.length} lines; startLine ${start} is past the end`, isError: true };
      return { content: lines.slice(start - 1, end).map((l, i) => `${start + i}: ${l}`).join('\n') };
    },
  }),
  tool({
    name: 'list_dir',
    description: 'List a directory: names, types and sizes.',
    args: z.object({ path: path('Directory relative to the repository root (default: the root)').optional() }),
    modes: ['plan', 'work'],
    readOnly: true,
    async run(a, env) {
      const r = await (await env.sandbox()).list({ path: a.path ?? '.' });
      const entry = (e: (typeof r.entries)[number]) =>
        `${e.type === 'dir' ? `${e.name}/` : e.name}${e.type === 'file' ? ` (${e.size} bytes)` : e.type === 'symlink' ? ' -> (symlink)' : ''}`;
      return { content: r.entries.map(entry).join('\n') || '(empty directory)' };
    },
  }),
  tool({
    name: 'search',
    description: 'Search file contents with a regular expression (ripgrep when installed, else grep). Returns path:line:text.',
    args: z.object({
      pattern: z.string().min(1).describe('Regular expression'),
      path: path('File or directory to search (default: the root)').optional(),
      glob: z.string().min(1).optional().describe('Only files whose name matches this glob, e.g. "*.ts"'),
    }),
    modes: ['plan', 'work'],
    readOnly: true,
    async run(a, env) {
      const r = await (await env.sandbox()).search({ pattern: a.pattern, path: a.path ?? '.', glob: a.glob, maxOutputBytes: MAX_TOOL_RESULT_BYTES, timeoutMs: SEARCH_SECONDS * 1000 });
      return { content: r.matches.trim() ? r.matches : `no matches for /${a.pattern}/` };
    },
  }),
  tool({
    name: 'write_file',
    description: 'Create or overwrite a file with the given content.',
    args: z.object({ path: path(), content: z.string().describe('The complete new content of the file') }),
    modes: ['work'],
    readOnly: false,
    async run(a, env) {
      const r = await (await env.sandbox()).writeFile({ path: a.path, content: a.content });
      return { content: `wrote ${r.bytes} bytes to ${a.path}` };
    },
  }),
  tool({
    name: 'edit_file',
    description: 'Replace one exact occurrence of `old` with `new` in a file. Fails if `old` is absent or occurs more than once: include enough context to make it unique.',
    args: z.object({
      path: path(),
      old: z.string().min(1).describe('The exact text to replace, including whitespace'),
      new: z.string().describe('The replacement text'),
    }),
    modes: ['work'],
    readOnly: false,
    async run(a, env) {
      const sandbox = await env.sandbox();
      const file = await sandbox.readFile({ path: a.path, maxBytes: MAX_EDIT_BYTES });
      if (file.truncated) return { content: `error: ${a.path} is larger than ${MAX_EDIT_BYTES} bytes; edit it with shell tools`, isError: true };
      const count = file.content.split(a.old).length - 1;
      if (count !== 1) {
        return {
          content:
            count === 0
              ? `error: the text to replace was not found in ${a.path}; read the file and copy the text exactly`
              : `error: the text to replace occurs ${count} times in ${a.path}; include more surrounding lines so it matches once`,
          isError: true,
        };
      }
      const at = file.content.indexOf(a.old);
      await sandbox.writeFile({ path: a.path, content: file.content.slice(0, at) + a.new + file.content.slice(at + a.old.length) });
      return { content: `replaced 1 occurrence in ${a.path}` };
    },
  }),
  tool({
    name: 'finish',
    description: 'Call when the task is done: summarise what you changed and why, for the pull request.',
    args: z.object({ [ENDING_TOOLS.finish.field]: z.string().describe('What changed and why, in a few sentences') }),
    modes: ['work'],
    readOnly: true,
  }),
  tool({
    name: 'submit_plan',
    description: 'Submit your plan for approval. Until it is approved you can only read.',
    args: z.object({ [ENDING_TOOLS.submit_plan.field]: z.string().describe('The steps you will take, the files you will change, and how you will test') }),
    modes: ['plan'],
    readOnly: true,
  }),
];
