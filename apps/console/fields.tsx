// Parts the console's pages share: a table's header, an alert, and for forms a field that shows
// the API's issue for it beside it (and says so to assistive technology), and the submit that
// collects those issues.
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { ApiError, type Issue } from './api.js';

interface FieldProps {
  id: string;
  label: string;
  issue?: string;
  hint?: string;
}

/** A labelled input; `attrs` go to the <input> (type, min, placeholder, required). */
export function TextField({ id, label, issue, hint, value, onValue, ...attrs }: FieldProps & { value: string; onValue: (v: string) => void; [attr: string]: unknown }) {
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <input id={id} value={value} onInput={(e) => onValue(e.currentTarget.value)} aria-invalid={Boolean(issue)} aria-describedby={`${id}-issue`} {...attrs} />
      <Help id={id} issue={issue} hint={hint} />
    </div>
  );
}

export function TextArea({ id, label, issue, hint, value, onValue, rows = 4 }: FieldProps & { value: string; onValue: (v: string) => void; rows?: number }) {
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <textarea id={id} rows={rows} value={value} onInput={(e) => onValue(e.currentTarget.value)} aria-invalid={Boolean(issue)} aria-describedby={`${id}-issue`} />
      <Help id={id} issue={issue} hint={hint} />
    </div>
  );
}

export function SelectField({ id, label, issue, hint, value, onValue, children }: FieldProps & { value: string; onValue: (v: string) => void; children: ComponentChildren }) {
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <select id={id} value={value} onChange={(e) => onValue(e.currentTarget.value)} aria-invalid={Boolean(issue)} aria-describedby={`${id}-issue`}>
        {children}
      </select>
      <Help id={id} issue={issue} hint={hint} />
    </div>
  );
}

export function CheckField({ id, label, issue, checked, onValue }: FieldProps & { checked: boolean; onValue: (v: boolean) => void }) {
  return (
    <div class="field checkbox">
      <input id={id} type="checkbox" checked={checked} onChange={(e) => onValue(e.currentTarget.checked)} aria-invalid={Boolean(issue)} aria-describedby={`${id}-issue`} />
      <label for={id}>{label}</label>
      <Help id={id} issue={issue} />
    </div>
  );
}

/** The field's issue (read out with it), else its hint. */
function Help({ id, issue, hint }: { id: string; issue?: string; hint?: string }) {
  return (
    <span id={`${id}-issue`} class={issue ? 'issue' : 'hint'}>
      {issue ?? hint}
    </span>
  );
}

/**
 * A form's submit: busy while `send` runs; if it fails, the API's issues by field (`issueOf`) and
 * the problem shown above the button (issues no field of the form is for, or the error itself).
 */
export function useSubmit(hasField: (field: string) => boolean, send: () => Promise<void>) {
  const [issues, setIssues] = useState<Issue[]>([]);
  const [problem, setProblem] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setIssues([]);
    setProblem(undefined);
    try {
      await send();
    } catch (err) {
      const all = err instanceof ApiError ? err.issues : [];
      const elsewhere = all.filter((i) => !hasField(i.field));
      setIssues(all);
      setProblem(all.length && !elsewhere.length ? undefined : elsewhere.length ? elsewhere.map((i) => `${i.field}: ${i.message}`).join('; ') : (err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return { submit, busy, problem, issueOf: (field: string) => issues.find((i) => i.field === field)?.message };
}

/** What went wrong, read out as it appears; nothing when nothing did. */
export function Alert({ text }: { text?: string }) {
  return text ? (
    <p role="alert" class="error">
      {text}
    </p>
  ) : null;
}

/** A table's header row. */
export function Columns({ names }: { names: string[] }) {
  return (
    <thead>
      <tr>
        {names.map((name) => (
          <th scope="col">{name}</th>
        ))}
      </tr>
    </thead>
  );
}
