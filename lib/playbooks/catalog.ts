// Which playbooks a repository can run: the built-in ones that ship with Errand (builtin/*.md)
// and the repository's own (`.errand/playbooks/<name>.md` on the branch a task starts from).
// A repository's file is its contents, read with the forge's credentials and parsed as data:
// one that does not parse is listed with what is wrong, and cannot be run.
import { readdir, readFile } from 'node:fs/promises';
import type { Forge } from '../forge/forge.js';
import type { PlaybookRun } from '../../workflows/contracts/playbooks.js';
import { bumpSettings } from './dependency-bump-settings.js';
import { checkParams, parsePlaybook, PLAYBOOK_NAME, PlaybookError, renderPlaybook, type Playbook } from './playbook.js';

export const REPO_PLAYBOOKS_DIR = '.errand/playbooks';
/** More than this many files, or a larger file, is not read: a playbook is a page, not a book. */
const MAX_REPO_PLAYBOOKS = 100;
const MAX_PLAYBOOK_BYTES = 64 * 1024;
const BUILTIN_DIR = new URL('./builtin/', import.meta.url);

export interface BrokenPlaybook {
  name: string;
  source: string;
  error: string;
}

export interface PlaybookCatalog {
  playbooks: Playbook[];
  /** Files in the repository that are not playbooks Errand can run, and why. */
  broken: BrokenPlaybook[];
}

let builtins: Promise<Playbook[]> | undefined;

/** The playbooks that ship with Errand; read once. */
export function builtinPlaybooks(): Promise<Playbook[]> {
  builtins ??= (async () => {
    const files = (await readdir(BUILTIN_DIR).catch(() => [] as string[])).filter((f) => f.endsWith('.md')).sort();
    return Promise.all(
      files.map(async (f) => {
        try {
          return parsePlaybook(await readFile(new URL(f, BUILTIN_DIR), 'utf8'), 'built-in');
        } catch (err) {
          throw new Error(`the built-in playbook ${f} does not parse: ${(err as Error).message}`);
        }
      }),
    );
  })();
  return builtins;
}

/** Everything `repo` can run at `ref` ('' : its default branch). */
export async function playbooksFor(forge: Forge, repo: string, ref: string): Promise<PlaybookCatalog> {
  const own = await builtinPlaybooks();
  const reserved = new Set(own.map((p) => p.name));
  const files = (await forge.listFiles(repo, ref, REPO_PLAYBOOKS_DIR)).filter((f) => f.endsWith('.md')).sort();
  const catalog: PlaybookCatalog = { playbooks: [...own], broken: [] };
  for (const [i, file] of files.entries()) {
    const name = file.slice(0, -'.md'.length);
    const source = `${REPO_PLAYBOOKS_DIR}/${file}`;
    const broken = (error: string) => catalog.broken.push({ name, source, error });
    if (i >= MAX_REPO_PLAYBOOKS) {
      broken(`not read: a repository may hold at most ${MAX_REPO_PLAYBOOKS} playbooks`);
    } else if (!PLAYBOOK_NAME.test(name)) {
      broken('the file name must be the playbook name: lower-case letters, digits and dashes, then .md');
    } else if (reserved.has(name)) {
      broken(`${name} is a built-in playbook's name; rename the file (and its name:)`);
    } else {
      const text = await forge.readFile(repo, ref, source);
      if (text === undefined) continue; // gone between the listing and the read
      if (Buffer.byteLength(text) > MAX_PLAYBOOK_BYTES) {
        broken(`too large: at most ${MAX_PLAYBOOK_BYTES / 1024} KB`);
        continue;
      }
      try {
        const playbook = parsePlaybook(text, source);
        if (playbook.name !== name) broken(`its name is ${playbook.name} but its file is ${file}; make them the same`);
        else if (playbook.runs !== 'coding-task') broken(`runs: ${playbook.runs} is for built-in playbooks; a repository's playbook runs as a coding task`);
        else catalog.playbooks.push(playbook);
      } catch (err) {
        if (!(err instanceof PlaybookError)) throw err;
        broken(err.message);
      }
    }
  }
  return catalog;
}

/** The playbook `name` for `repo`, or why there is none it can run (a sentence for a 400). */
export async function findPlaybook(forge: Forge, repo: string, ref: string, name: string): Promise<Playbook | { error: string }> {
  const catalog = await playbooksFor(forge, repo, ref);
  const found = catalog.playbooks.find((p) => p.name === name);
  if (found) return found;
  const broken = catalog.broken.find((b) => b.name === name);
  if (broken) return { error: `${broken.source} cannot be run: ${broken.error}` };
  const names = catalog.playbooks.map((p) => p.name);
  return { error: `no playbook ${name} for this repository; it can run ${names.length ? names.join(', ') : 'none yet'} (add your own as ${REPO_PLAYBOOKS_DIR}/${name}.md)` };
}

/** A run of playbook `name` with `params`, ready for a task's input; or what is wrong, by field. */
export async function preparePlaybookRun(
  forge: Forge,
  req: { repo: string; ref: string; name: string; params: unknown },
): Promise<{ ok: true; prompt: string; playbook: PlaybookRun; runs: Playbook['runs'] } | { ok: false; issues: { field: string; message: string }[] }> {
  const found = await findPlaybook(forge, req.repo, req.ref, req.name);
  if ('error' in found) return { ok: false, issues: [{ field: 'playbook', message: found.error }] };
  const checked = checkParams(found, req.params);
  if (!checked.ok) return checked;
  if (found.runs === 'dependency-bump') {
    try {
      bumpSettings(checked.params);
    } catch (err) {
      return { ok: false, issues: [{ field: 'params.groups', message: (err as Error).message }] };
    }
  }
  const { prompt, postconditions } = renderPlaybook(found, checked.params);
  return {
    ok: true,
    prompt,
    runs: found.runs,
    playbook: { name: found.name, version: found.version, source: found.source, params: checked.params, postconditions, forbidden: found.forbidden },
  };
}
