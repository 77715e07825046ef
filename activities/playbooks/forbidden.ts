// What a playbook forbids, checked where the agent acts: a write or edit of a forbidden path
// and a command that contains a forbidden one are refused before they run; a change that
// touches a forbidden path (by any means, a shell command included) is never pushed. The
// command check is a guardrail against the agent's mistakes, not a security boundary: that is
// the sandbox (no credentials, its egress policy), which holds whatever the agent writes.
import { posix } from 'node:path';
import picomatch from 'picomatch';
import type { PlaybookRun } from '../../workflows/contracts/playbooks.js';
import { parseToolArguments, type ToolCall } from '../../workflows/tool-calls.js';

export type Forbidden = PlaybookRun['forbidden'];

/**
 * The paths in `paths` that a pattern of `forbidden.paths` matches, compared in Unicode's
 * composed form (a name in NFD is the same name). A path ending in `/` stands for everything
 * beneath it (a link or a submodule in the tree): it matches when anything beneath it could.
 */
export function forbiddenPathsIn(paths: string[], forbidden: Forbidden | undefined): string[] {
  if (!forbidden?.paths.length) return [];
  const patterns = forbidden.paths.map((p) => p.normalize('NFC'));
  const matches = picomatch(patterns, { dot: true });
  const clean = (p: string) => posix.normalize(p.normalize('NFC')).replace(/^\.\//, '').replace(/\/+$/, '');
  const beneath = (dir: string) =>
    patterns.some((pattern) => {
      const { base, glob } = picomatch.scan(pattern);
      return base === dir || base.startsWith(`${dir}/`) || (!base && matches(`${dir}/${glob}`));
    });
  return paths.filter((p) => matches(clean(p)) || (p.endsWith('/') && beneath(clean(p))));
}

/** Why a tool call is refused, or undefined when the playbook allows it. */
export function refusal(call: Pick<ToolCall, 'name' | 'arguments'>, forbidden: Forbidden | undefined): string | undefined {
  if (!forbidden) return undefined;
  const args = parseToolArguments(call.arguments) ?? {};
  if ((call.name === 'write_file' || call.name === 'edit_file') && typeof args.path === 'string') {
    const [path] = forbiddenPathsIn([args.path], forbidden);
    if (path) return `refused: this playbook forbids changing ${path} (forbidden paths: ${forbidden.paths.join(', ')})`;
  }
  if (call.name === 'shell' && typeof args.command === 'string') {
    const command = squash(args.command);
    const found = forbidden.commands.find((c) => command.includes(squash(c)));
    if (found) return `refused: this playbook forbids running \`${found}\`; do the task another way`;
  }
  return undefined;
}

/** Whitespace runs as one space, so `npm   publish` is `npm publish`. */
const squash = (text: string) => text.replace(/\s+/g, ' ').trim();
