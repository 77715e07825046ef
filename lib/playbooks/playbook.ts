// A playbook: a named, versioned recipe anyone may run against a repository. A Markdown file
// whose front matter holds the structured parts (the outcome, typed parameters, postconditions
// Errand checks itself before publishing, forbidden paths and commands) and whose body is the
// agent's instructions, with `{{param}}` where a parameter's value goes. Built-in ones ship with
// Errand (builtin/); a repository adds its own as `.errand/playbooks/<name>.md`.
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { shellQuote } from '../../activities/sandbox/sandboxd/shell-quote.js';

const described = { description: z.string().optional() };
const Param = z.discriminatedUnion('type', [
  // No regular expressions: a repository's pattern would run in the API (a catastrophic one stalls it).
  z.strictObject({ type: z.literal('string'), ...described, default: z.string().optional(), values: z.array(z.string()).min(1).optional() }),
  z.strictObject({ type: z.literal('number'), ...described, default: z.number().optional(), minimum: z.number().optional(), maximum: z.number().optional(), integer: z.boolean().optional() }),
  z.strictObject({ type: z.literal('boolean'), ...described, default: z.boolean().optional() }),
  z.strictObject({ type: z.literal('list'), ...described, default: z.array(z.string()).optional() }),
]);
export type PlaybookParam = z.output<typeof Param>;

export const PLAYBOOK_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;

const FrontMatter = z.strictObject({
  name: z.string().regex(PLAYBOOK_NAME, 'must be lower-case letters, digits and dashes'),
  version: z.number().int().positive().default(1),
  /** One line: the PR's title. */
  title: z.string().min(1).max(200).regex(/^[^\n]*$/, 'must be one line'),
  /** What done looks like, in a sentence or two. */
  outcome: z.string().min(1),
  params: z.record(z.string().regex(/^[a-zA-Z][a-zA-Z0-9_]{0,40}$/, 'parameter names are letters, digits and _'), Param).default({}),
  /** Commands that must pass at the end, run by Errand in the sandbox, not trusted to the agent. */
  postconditions: z.array(z.string({ error: 'must be a command, as text: quote it, or write it as a block (|-), when it holds ": "' }).min(1)).default([]),
  forbidden: z
    .strictObject({
      /** Globs of paths the change may not touch. */
      paths: z.array(z.string().min(1)).default([]),
      /** What no command of the agent's may contain. */
      commands: z.array(z.string().min(1)).default([]),
    })
    .default({ paths: [], commands: [] }),
  /** Which workflow runs it: the coding task (default), or a built-in of its own. */
  runs: z.enum(['coding-task', 'dependency-bump']).default('coding-task'),
});

export type Playbook = z.output<typeof FrontMatter> & {
  /** The body: the agent's instructions. */
  instructions: string;
  /** `built-in`, or the file it came from in the repository. */
  source: string;
};

export class PlaybookError extends Error {}

/** Where a parameter's value goes: `{{name}}`. */
const PLACEHOLDER = /\{\{\s*([a-zA-Z0-9_]+)\s*\}\}/g;

/** Reads a playbook file; what is wrong with it is an error that names the part. */
export function parsePlaybook(text: string, source: string): Playbook {
  const m = /^---\r?\n([\s\S]*?)\r?\n---\r?\n?([\s\S]*)$/.exec(text);
  if (!m) throw new PlaybookError(`a playbook starts with front matter between --- lines`);
  let raw: unknown;
  try {
    raw = parseYaml(m[1]!);
  } catch (err) {
    throw new PlaybookError(`the front matter is not YAML (${(err as Error).message.split('\n')[0]})`);
  }
  const front = FrontMatter.safeParse(raw);
  if (!front.success) throw new PlaybookError(front.error.issues.map((i) => `${i.path.join('.') || 'front matter'}: ${i.message}`).join('; '));
  const playbook: Playbook = { ...front.data, instructions: m[2]!.trim(), source };
  for (const text of [playbook.title, playbook.outcome, playbook.instructions, ...playbook.postconditions]) {
    for (const [, name] of text.matchAll(PLACEHOLDER)) {
      if (!Object.hasOwn(playbook.params, name!)) throw new PlaybookError(`{{${name}}} is used but no parameter ${name} is declared under params`);
    }
  }
  return playbook;
}

/** The schema a run's parameters must satisfy: each declared, typed, required unless it has a default. */
function paramsSchema(playbook: Playbook): z.ZodType<Record<string, unknown>> {
  const shape: Record<string, z.ZodType> = {};
  for (const [name, p] of Object.entries(playbook.params)) {
    let s: z.ZodType;
    if (p.type === 'string') {
      s = p.values ? z.enum(p.values as [string, ...string[]], { error: `must be one of ${p.values.join(', ')}` }) : z.string({ error: 'must be text' }).max(10_000, 'at most 10,000 characters');
    } else if (p.type === 'number') {
      let num = p.integer ? z.number({ error: 'must be a number' }).int('must be a whole number') : z.number({ error: 'must be a number' });
      if (p.minimum !== undefined) num = num.min(p.minimum, `must be at least ${p.minimum}`);
      if (p.maximum !== undefined) num = num.max(p.maximum, `must be at most ${p.maximum}`);
      s = num;
    } else if (p.type === 'boolean') {
      s = z.boolean({ error: 'must be true or false' });
    } else {
      s = z.array(z.string().max(10_000), { error: 'must be a list of text' }).max(1_000);
    }
    shape[name] = p.default === undefined ? s : s.default(p.default as never);
  }
  return z.strictObject(shape) as unknown as z.ZodType<Record<string, unknown>>;
}

/** A run's parameters, checked and with defaults filled in, or what is wrong, by parameter. */
export function checkParams(playbook: Playbook, params: unknown): { ok: true; params: Record<string, unknown> } | { ok: false; issues: { field: string; message: string }[] } {
  const given = params ?? {};
  if (typeof given !== 'object' || Array.isArray(given)) return { ok: false, issues: [{ field: 'params', message: 'must be an object of parameter names to values' }] };
  const parsed = paramsSchema(playbook).safeParse(given);
  if (parsed.success) return { ok: true, params: parsed.data };
  const describe = (name: string) => playbook.params[name]?.description;
  return {
    ok: false,
    issues: parsed.error.issues.flatMap((i) => {
      if (i.code === 'unrecognized_keys') {
        return i.keys.map((k) => ({ field: `params.${k}`, message: `${playbook.name} has no parameter ${k}; it takes ${Object.keys(playbook.params).join(', ') || 'none'}` }));
      }
      const name = String(i.path[0]);
      const missing = i.path.length === 1 && !Object.hasOwn(given, name);
      return [{ field: `params.${i.path.join('.')}`, message: missing ? `required${describe(name) ? `: ${describe(name)}` : ''}` : i.message }];
    }),
  };
}

/**
 * The playbook for one run: the prompt (outcome and instructions, values in place) and the
 * postconditions, whose values are shell-quoted (a parameter is the caller's text, never code).
 */
export function renderPlaybook(playbook: Playbook, params: Record<string, unknown>): { prompt: string; postconditions: string[] } {
  const text = (v: unknown) => (Array.isArray(v) ? v.join(', ') : String(v));
  const word = (v: unknown) => (Array.isArray(v) ? v.map((x) => shellQuote(String(x))).join(' ') : shellQuote(String(v)));
  const fill = (s: string, as: (v: unknown) => string) => s.replace(PLACEHOLDER, (_m, name: string) => as(params[name]));
  const prompt = [
    // The first line is the commit's and the PR's title.
    fill(playbook.title, text),
    '',
    `(Errand playbook ${playbook.name}, version ${playbook.version}.) Done looks like: ${fill(playbook.outcome, text)}`,
    ...(playbook.postconditions.length ? ['', 'Before publishing, Errand itself runs these; each must succeed:', ...playbook.postconditions.map((c) => `- \`${fill(c, word)}\``)] : []),
    ...(playbook.forbidden.paths.length ? ['', `Do not change: ${playbook.forbidden.paths.join(', ')}.`] : []),
    ...(playbook.forbidden.commands.length ? ['', `Do not run: ${playbook.forbidden.commands.map((c) => `\`${c}\``).join(', ')}.`] : []),
    '',
    fill(playbook.instructions, text),
  ].join('\n');
  return { prompt, postconditions: playbook.postconditions.map((c) => fill(c, word)) };
}
