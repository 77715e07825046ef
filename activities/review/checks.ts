// The deterministic checks on a change: before the reviewer model reads a diff (is there a
// change at all, does it add a secret, does it touch files outside the task's allowed paths)
// and before any push (a secret, a forbidden path). Pure.
import { posix } from 'node:path';
import picomatch from 'picomatch';
import { FailureType } from '../../workflows/failures.js';
import { forbiddenPathsIn, type Forbidden } from '../playbooks/forbidden.js';
import type { Redactor } from '../../lib/storage/redactor.js';

export interface DiffFile {
  path: string;
  /** Lines the diff adds, with their line numbers in the new file. */
  added: { line: number; text: string }[];
  deleted: boolean;
}

/** Reads `git diff` output: which files change and which lines they gain. */
export function parseDiff(diff: string): DiffFile[] {
  const files: DiffFile[] = [];
  let current: DiffFile | undefined;
  // The header lines (`+++ b/…`, `deleted file mode`) come before a file's first hunk; after
  // it, a line that reads `+++ …` is an added line starting with "++".
  let inHeader = false;
  let line = 0;
  for (const text of diff.split('\n')) {
    if (text.startsWith('diff --git ')) {
      current = { path: headerPath(text.slice('diff --git '.length)), added: [], deleted: false };
      files.push(current);
      inHeader = true;
    } else if (!current) {
      continue;
    } else if (text.startsWith('@@')) {
      inHeader = false;
      line = Number(/\+(\d+)/.exec(text)?.[1] ?? 0);
    } else if (inHeader) {
      // An unquoted name with a blank in it gets a tab after it (for patch(1)); a name that
      // holds a tab itself is quoted.
      if (text.startsWith('+++ ') && text !== '+++ /dev/null') current.path = stripSide(unquoteGitPath(text.slice(4).replace(/\t$/, '')));
      if (text.startsWith('deleted file mode')) current.deleted = true;
    } else if (text.startsWith('+')) {
      current.added.push({ line, text: text.slice(1) });
      line++;
    } else if (text.startsWith(' ')) {
      line++;
    }
  }
  return files;
}

/**
 * The path of `diff --git <a> <b>` (no renames, so both name one path): quoted names read as
 * git quoted them; unquoted ones are `a/P b/P`, split in the middle (a name may hold " b/").
 * The `+++` line, where there is one, has the last word.
 */
function headerPath(rest: string): string {
  if (rest.startsWith('"')) return stripSide(unquoteGitPath(rest.slice(0, closingQuote(rest) + 1)));
  const half = (rest.length - 1) / 2;
  return Number.isInteger(half) && rest.slice(half) === ` b/${rest.slice(2, half)}` ? rest.slice(2, half) : stripSide(rest.slice(rest.lastIndexOf(' b/') + 1));
}

const stripSide = (p: string) => p.replace(/^[ab]\//, '');

function closingQuote(text: string): number {
  for (let i = 1; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === '"') return i;
  }
  return text.length - 1;
}

const ESCAPES: Record<string, number> = { a: 7, b: 8, t: 9, n: 10, v: 11, f: 12, r: 13, '"': 34, '\\': 92 };

/**
 * A name as git prints it (core.quotePath): a name with a byte git finds unusual (a control
 * character, a quote, a backslash, anything not ASCII) is put in double quotes with C escapes
 * and octal bytes; any other name is as it is.
 */
/** How big a change is: the files it touches, and the lines it adds and removes (read in hunks only, not headers). */
export function diffSize(diff: string): { files: number; lines: number } {
  let files = 0;
  let lines = 0;
  let inHunk = false;
  for (const text of diff.split('\n')) {
    if (text.startsWith('diff --git ')) {
      files++;
      inHunk = false;
    } else if (text.startsWith('@@')) inHunk = true;
    else if (inHunk && (text.startsWith('+') || text.startsWith('-'))) lines++;
  }
  return { files, lines };
}

export function unquoteGitPath(text: string): string {
  if (!text.startsWith('"') || !text.endsWith('"') || text.length < 2) return text;
  const bytes: number[] = [];
  const inner = text.slice(1, -1);
  for (let i = 0; i < inner.length; i++) {
    const c = inner[i]!;
    if (c !== '\\') {
      bytes.push(...Buffer.from(c, 'utf8'));
    } else if (/^[0-7]{3}$/.test(inner.slice(i + 1, i + 4))) {
      bytes.push(parseInt(inner.slice(i + 1, i + 4), 8));
      i += 3;
    } else {
      const next = inner[++i] ?? '';
      bytes.push(...(next in ESCAPES ? [ESCAPES[next]!] : Buffer.from(`\\${next}`, 'utf8')));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/**
 * One path a change touches, as `git diff --raw -z` names it: raw bytes between NULs, so
 * nothing to unquote and nothing a name can hide behind. Mode changes, type changes (a file
 * become a link), links and submodule entries are paths like any other.
 */
export interface ChangedPath {
  path: string;
  /** Git's status letter: A, D, M, T (type changed); R and C only where renames are on. */
  status: string;
  oldMode: string;
  /** '000000' when the change deletes it; '120000' a symbolic link, '160000' a submodule. */
  newMode: string;
}

/** Reads `git diff --raw -z` output. */
export function parseRawChanges(raw: string): ChangedPath[] {
  const fields = raw.split('\0');
  const out: ChangedPath[] = [];
  for (let i = 0; i < fields.length; ) {
    const meta = /^:(\d{6}) (\d{6}) [0-9a-f]+ [0-9a-f]+ ([A-Z])/.exec(fields[i]!);
    if (!meta) {
      i++;
      continue;
    }
    const [, oldMode, newMode, status] = meta as unknown as [string, string, string, string];
    // A rename or a copy names two paths: both are touched.
    const count = status === 'R' || status === 'C' ? 2 : 1;
    for (const path of fields.slice(i + 1, i + 1 + count)) out.push({ path, status, oldMode, newMode });
    i += 1 + count;
  }
  return out;
}

/** The change a push would make, read by the worker's own git: its text and its paths. */
export interface BranchChange {
  diff: string;
  paths: ChangedPath[];
}

export interface SecretFinding {
  /** As it may be shown: quoted where it holds unusual characters, and redacted. */
  file: string;
  /** The added line it is on; 0 when it is in the file's name, or split over added lines. */
  line: number;
  kind: string;
}

/**
 * Secrets the diff adds, by file and line: configured values (and their encodings) and
 * well-known token shapes, in the lines it adds (a link's target is one), across them, and in
 * the names of what it touches (`paths`: more names, such as those `git diff --raw -z` gives).
 */
export function findSecrets(diff: string, redactor: Redactor, paths: string[] = []): SecretFinding[] {
  const findings: SecretFinding[] = [];
  const shown = (name: string) => redactor.redact(displayPath(name));
  const files = parseDiff(diff);
  for (const name of new Set([...files.map((f) => f.path), ...paths])) {
    for (const kind of redactor.kindsIn(name)) findings.push({ file: shown(name), line: 0, kind });
  }
  for (const file of files) {
    const perLine = new Set<string>();
    for (const { line, text } of file.added) {
      for (const kind of redactor.kindsIn(text)) {
        findings.push({ file: shown(file.path), line, kind });
        perLine.add(kind);
      }
    }
    // A secret written over several lines (a newline between its halves) is one secret.
    const across = redactor.kindsIn(file.added.map((a) => a.text).join('\n')).filter((kind) => !perLine.has(kind));
    for (const kind of across) findings.push({ file: shown(file.path), line: 0, kind });
  }
  return findings;
}

export function describeSecrets(findings: SecretFinding[]): string {
  const where = findings.slice(0, 5).map((f) => (f.line ? `${f.kind} at ${f.file}:${f.line}` : `${f.kind} in ${f.file}`));
  return `${where.join(', ')}${findings.length > 5 ? ` and ${findings.length - 5} more` : ''}`;
}

/** A path as a message may show it: as it is, or JSON-quoted when it holds a control character, a quote or a backslash. */
export function displayPath(path: string): string {
  return /[\u0000-\u001f\u007f-\u009f"\\]/.test(path) ? JSON.stringify(path) : path;
}

export interface PushRefusal {
  type: FailureType;
  message: string;
}

/**
 * Why a branch with this change may not be pushed: it adds a secret (in a line, a link's
 * target or a name), or touches a path its playbook forbids (by any name git can store, as a
 * file, a link, a mode or a submodule entry).
 */
export function pushRefusal(change: BranchChange, redactor: Redactor, forbidden?: Forbidden): PushRefusal | undefined {
  const secrets = findSecrets(change.diff, redactor, change.paths.map((p) => p.path));
  if (secrets.length) return { type: FailureType.SecretInDiff, message: `the change adds what looks like a secret (${describeSecrets(secrets)})` };
  const touched = forbiddenChangesIn(change, forbidden);
  if (touched.length) {
    const names = touched.map((p) => redactor.redact(displayPath(p)));
    return { type: FailureType.ForbiddenPath, message: `the change touches ${names.join(', ')}, which its playbook forbids changing (${forbidden!.paths.join(', ')})` };
  }
  return undefined;
}

/**
 * The paths of a change a forbidden pattern covers: each path itself; a link or a submodule
 * also as the directory it stands in for (a link named `.github` covers `.github/**`); and a
 * link's target inside the repository (its added line in the diff).
 */
function forbiddenChangesIn(change: BranchChange, forbidden?: Forbidden): string[] {
  if (!forbidden?.paths.length) return [];
  const targets = new Map(parseDiff(change.diff).map((f) => [f.path, f.added.map((a) => a.text).join('\n')]));
  const standsFor = (p: ChangedPath) => (p.newMode === '120000' || p.newMode === '160000' ? [`${p.path}/`] : []);
  const pointsAt = (p: ChangedPath) => {
    const target = p.newMode === '120000' ? targets.get(p.path) : undefined;
    return target && !target.startsWith('/') ? [posix.join(posix.dirname(p.path), target)] : [];
  };
  return [...new Set(change.paths.filter((p) => forbiddenPathsIn([p.path, ...standsFor(p), ...pointsAt(p)], forbidden).length > 0).map((p) => p.path))].sort();
}

/** Files the diff touches that no pattern of `allowedPaths` matches (none when there are no patterns). */
export function outsideAllowedPaths(files: DiffFile[], allowedPaths: string[] | undefined): string[] {
  if (!allowedPaths?.length) return [];
  const allowed = picomatch(allowedPaths, { dot: true });
  return files.map((f) => f.path).filter((p) => !allowed(p));
}
