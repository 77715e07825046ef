// A task's published change, rendered by diff2html (file list, then each file side by side).
// diff2html escapes every name and line it renders; the page's CSP would stop a script besides.
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
      {diff !== undefined && (
        // The one place the console inserts markup: diff2html's, built from escaped text.
        <div dangerouslySetInnerHTML={{ __html: html(diff, { drawFileList: true, outputFormat: 'line-by-line', matching: 'lines' }) }} />
      )}
    </section>
  );
}
