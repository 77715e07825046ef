// The deterministic checks that run before the reviewer model reads a diff: is there a change
// at all, does it add a secret, does it touch files outside the task's allowed paths. Pure.
import picomatch from 'picomatch';
import type { Redactor } from '../store/redactor.js';

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
  let line = 0;
  for (const text of diff.split('\n')) {
    if (text.startsWith('diff --git ')) {
      const m = / b\/(.*)$/.exec(text);
      current = { path: m?.[1] ?? text, added: [], deleted: false };
      files.push(current);
    } else if (!current) {
      continue;
    } else if (text.startsWith('+++ ')) {
      if (text !== '+++ /dev/null') current.path = text.slice(6);
    } else if (text.startsWith('deleted file mode')) {
      current.deleted = true;
    } else if (text.startsWith('@@')) {
      line = Number(/\+(\d+)/.exec(text)?.[1] ?? 0);
    } else if (text.startsWith('+')) {
      current.added.push({ line, text: text.slice(1) });
      line++;
    } else if (text.startsWith(' ')) {
      line++;
    }
  }
  return files;
}

export interface SecretFinding {
  file: string;
  line: number;
  kind: string;
}

/** Secrets the diff adds: configured values and well-known token shapes, by file and line. */
export function findSecrets(diff: string, redactor: Redactor): SecretFinding[] {
  const findings: SecretFinding[] = [];
  for (const file of parseDiff(diff)) {
    for (const { line, text } of file.added) {
      for (const kind of redactor.kindsIn(text)) findings.push({ file: file.path, line, kind });
    }
  }
  return findings;
}

export function describeSecrets(findings: SecretFinding[]): string {
  const where = findings.slice(0, 5).map((f) => `${f.kind} at ${f.file}:${f.line}`);
  return `${where.join(', ')}${findings.length > 5 ? ` and ${findings.length - 5} more` : ''}`;
}

/** Files the diff touches that no pattern of `allowedPaths` matches (none when there are no patterns). */
export function outsideAllowedPaths(files: DiffFile[], allowedPaths: string[] | undefined): string[] {
  if (!allowedPaths?.length) return [];
  const allowed = picomatch(allowedPaths, { dot: true });
  return files.map((f) => f.path).filter((p) => !allowed(p));
}
