// Choosing a playbook and filling in its parameters, for a task or a schedule: the repository's
// playbooks (GET /playbooks?repo=, the built-in ones and its own) once its name stops changing,
// each parameter as the input its type asks for, with its description and default, and the
// API's issue for it (`params.<name>`) beside it. Empty fields are left out: the default holds.
import { useEffect, useState } from 'preact/hooks';
import { call } from './api.js';
import { CheckField, SelectField, TextField } from './fields.js';

export interface ParamSpec {
  type: 'string' | 'number' | 'boolean' | 'list';
  description?: string;
  default?: unknown;
  values?: string[];
  minimum?: number;
  maximum?: number;
}

export interface PlaybookInfo {
  name: string;
  title: string;
  outcome: string;
  runs: 'coding-task' | 'dependency-bump';
  source: string;
  params: Record<string, ParamSpec>;
}

interface Catalog {
  playbooks?: PlaybookInfo[];
  broken: { name?: string; source: string; error: string }[];
  problem?: string;
}

/** As typed: a checkbox's state, or the text of any other field. */
export type RawParams = Record<string, string | boolean>;

const SETTLE_MS = 400;

/** The playbooks `repo` can run, asked for once it has not changed for a moment. */
export function usePlaybooks(repo: string, baseBranch = ''): Catalog {
  const [catalog, setCatalog] = useState<Catalog>({ broken: [] });
  useEffect(() => {
    setCatalog({ broken: [] });
    if (!repo.trim()) return undefined;
    let stale = false;
    const timer = setTimeout(() => {
      const query = new URLSearchParams({ repo: repo.trim(), ...(baseBranch.trim() && { baseBranch: baseBranch.trim() }) });
      call<Catalog>('GET', `/playbooks?${query}`).then(
        (c) => !stale && setCatalog({ playbooks: c.playbooks, broken: c.broken }),
        (err: Error) => !stale && setCatalog({ broken: [], problem: err.message }),
      );
    }, SETTLE_MS);
    return () => {
      stale = true;
      clearTimeout(timer);
    };
  }, [repo, baseBranch]);
  return catalog;
}

/** The parameters as the API takes them: typed, and only those given. */
export function paramsBody(playbook: PlaybookInfo | undefined, raw: RawParams): Record<string, unknown> | undefined {
  if (!playbook) return undefined;
  const body: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(playbook.params)) {
    const value = raw[name];
    if (value === undefined || value === '') continue;
    if (spec.type === 'boolean') body[name] = value === true;
    else if (spec.type === 'number') body[name] = Number(value);
    else if (spec.type === 'list') body[name] = String(value).split(',').map((v) => v.trim()).filter(Boolean);
    else body[name] = value;
  }
  return Object.keys(body).length ? body : undefined;
}

interface Props {
  prefix: string;
  catalog: Catalog;
  /** A schedule runs a playbook; a task may run none (its prompt says what to do). */
  required: boolean;
  name: string;
  params: RawParams;
  onName: (name: string) => void;
  onParams: (params: RawParams) => void;
  issueOf: (field: string) => string | undefined;
}

export function PlaybookFields({ prefix, catalog, required, name, params, onName, onParams, issueOf }: Props) {
  const chosen = catalog.playbooks?.find((p) => p.name === name);
  const hint = catalog.problem ? `Cannot list playbooks: ${catalog.problem}` : catalog.playbooks ? catalog.broken.map((b) => `${b.source} cannot run: ${b.error}`).join('; ') || undefined : 'Give a repository to see its playbooks.';
  return (
    <fieldset class="playbook">
      <legend>From a playbook</legend>
      <SelectField id={`${prefix}-playbook`} label="Playbook" value={name} onValue={(v) => (onName(v), onParams({}))} issue={issueOf('playbook')} hint={hint}>
        <option value="">{required ? 'choose one' : 'none: the prompt says what to do'}</option>
        {catalog.playbooks?.map((p) => (
          <option value={p.name}>
            {p.name}: {p.title}
          </option>
        ))}
        {/* A schedule's playbook stays shown while the list loads, or if the repository lost it. */}
        {name && !chosen && <option value={name}>{name}</option>}
      </SelectField>
      {chosen && <p class="hint">{chosen.outcome}</p>}
      {chosen &&
        Object.entries(chosen.params).map(([param, spec]) => {
          const id = `${prefix}-param-${param}`;
          const issue = issueOf(`params.${param}`);
          const hint = [spec.description, spec.default !== undefined && `default: ${Array.isArray(spec.default) ? spec.default.join(', ') || 'none' : String(spec.default)}`].filter(Boolean).join('; ');
          const set = (v: string | boolean) => onParams({ ...params, [param]: v });
          if (spec.type === 'boolean') return <CheckField id={id} label={param} checked={params[param] === undefined ? spec.default === true : params[param] === true} onValue={set} issue={issue} />;
          if (spec.values) {
            return (
              <SelectField id={id} label={param} value={String(params[param] ?? '')} onValue={set} issue={issue} hint={hint}>
                <option value="">(default)</option>
                {spec.values.map((v) => (
                  <option value={v}>{v}</option>
                ))}
              </SelectField>
            );
          }
          const attrs = spec.type === 'number' ? { type: 'number', min: spec.minimum, max: spec.maximum, step: 'any' } : spec.type === 'list' ? { placeholder: 'comma-separated' } : {};
          return <TextField id={id} label={param} value={String(params[param] ?? '')} onValue={set} issue={issue} hint={hint} {...attrs} />;
        })}
    </fieldset>
  );
}
