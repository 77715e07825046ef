// A task's published change: the files it changes, then each file rendered by diff2html, with
// lockfiles and other generated or very long files folded until opened. diff2html escapes every
// name and line it renders; the page's CSP would stop a script besides.
import { html } from 'diff2html';
import 'diff2html/bundles/css/diff2html.min.css';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, callText } from './api.js';

export function TaskDiff({ id, status }: { id: string; status: string }) {
  const [diff, setDiff] = useState<string | undefined>();
  const [problem, setProblem] = useState<string | undefined>();
  useEffect(() => {
    callText('GET', `/tasks/${encodeURIComponent(id)}/diff`).then(
      (text) => (setDiff(text), setProblem(undefined)),
      (err: unknown) => setProblem(err instanceof ApiError && err.status === 404 ? 'No change published yet.' : (err as Error).message),
    );
  }, [id, status]);
  return (
    <section aria-label="Diff" class="diff">
      <h2>Diff</h2>
      {problem && <p class="empty">{problem}</p>}
      {diff !== undefined && <Rendered diff={diff} />}
    </section>
  );
}

/** Lockfiles and other generated files: listed, with their size, but folded until opened (they are thousands of lines no reviewer reads). */
const GENERATED = /(^|\/)(package-lock\.json|npm-shrinkwrap\.json|yarn\.lock|pnpm-lock\.yaml|go\.sum|Cargo\.lock|poetry\.lock|composer\.lock|Gemfile\.lock)$|\.min\.(js|css)$/;
/** A file's diff longer than this is folded too. */
const LONG = 2_000;

function Rendered({ diff }: { diff: string }) {
  // One diff per file, so each can be shown or folded; diff2html lists them all first.
  const files = diff.split(/(?=^diff --git )/m).filter((part) => part.startsWith('diff --git '));
  const nameOf = (part: string) => /^diff --git a\/.+? b\/(.+)$/m.exec(part)?.[1] ?? '';
  return (
    <>
      <ul class="diff-files" aria-label="Files changed">
        {files.map((part) => (
          <li>{nameOf(part)}</li>
        ))}
      </ul>
      {files.map((part) => {
        const name = nameOf(part);
        const lines = part.split('\n').length;
        const folded = GENERATED.test(name) || lines > LONG;
        // The one place the console inserts markup: diff2html's, built from escaped text.
        const shown = <div dangerouslySetInnerHTML={{ __html: html(part, { drawFileList: false, outputFormat: 'line-by-line', matching: 'lines' }) }} />;
        return folded ? (
          <details class="diff-file" data-file={name}>
            <summary>
              {name} ({lines.toLocaleString()} lines{GENERATED.test(name) ? ', generated' : ''}): show
            </summary>
            {shown}
          </details>
        ) : (
          <div class="diff-file" data-file={name}>
            {shown}
          </div>
        );
      })}
    </>
  );
}
