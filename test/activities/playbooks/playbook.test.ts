// The playbook format and its guards, pure: what a file may say, how a run's values are
// checked and put in place (as one shell word in a postcondition, never as code), and what the
// forbidden lists refuse.
import { describe, expect, it } from '@jest/globals';
import { forbiddenPathsIn, refusal } from '../../../activities/playbooks/forbidden.js';
import { checkParams, parsePlaybook, PlaybookError, renderPlaybook } from '../../../lib/playbooks/playbook.js';

const MIGRATE = `---
name: migrate-logger
version: 2
title: Move {{module}} off old-logger
outcome: No file under {{module}} imports old-logger.
params:
  module: { type: string, description: the folder to migrate }
  strict: { type: boolean, default: false }
  level: { type: string, values: [info, debug], default: info }
postconditions:
  - "! grep -rq old-logger -- {{module}}"
forbidden:
  paths: [package-lock.json]
  commands: [npm publish]
---
Replace old-logger with pino in {{module}}.
`;

describe('playbook files', () => {
  it('reads the front matter and the instructions, with defaults for what is left out', () => {
    const playbook = parsePlaybook(MIGRATE, 'built-in');
    expect(playbook).toMatchObject({ name: 'migrate-logger', version: 2, runs: 'coding-task', instructions: 'Replace old-logger with pino in {{module}}.' });
    expect(parsePlaybook('---\nname: x\ntitle: X\noutcome: done\n---\n', 's')).toMatchObject({ version: 1, params: {}, postconditions: [], forbidden: { paths: [], commands: [] } });
  });

  it.each([
    ['no front matter', 'Do it.', 'a playbook starts with front matter between --- lines'],
    ['front matter that is not YAML', '---\nname: [x\n---\n', 'the front matter is not YAML'],
    ['an unknown field', MIGRATE.replace('version: 2', 'versoin: 2'), 'front matter: Unrecognized key: "versoin"'],
    ['a title of two lines', MIGRATE.replace('title: Move {{module}} off old-logger', 'title: "a\\nb"'), 'title: must be one line'],
    ['a placeholder with no parameter', MIGRATE.replace('in {{module}}.', 'in {{folder}}.'), '{{folder}} is used but no parameter folder is declared under params'],
    ['a command YAML read as a mapping', MIGRATE.replace('- "! grep -rq old-logger -- {{module}}"', '- echo a: b'), 'postconditions.0: must be a command, as text'],
  ])('refuses %s, saying what is wrong', (_what, text, message) => {
    expect(() => parsePlaybook(text, 's')).toThrow(PlaybookError);
    expect(() => parsePlaybook(text, 's')).toThrow(message);
  });

  it('checks parameters by name and fills in defaults', () => {
    const playbook = parsePlaybook(MIGRATE, 's');
    expect(checkParams(playbook, { module: 'src/api' })).toEqual({ ok: true, params: { module: 'src/api', strict: false, level: 'info' } });
    expect(checkParams(playbook, { strict: 'yes', level: 'trace' })).toEqual({
      ok: false,
      issues: [
        { field: 'params.module', message: 'required: the folder to migrate' },
        { field: 'params.strict', message: 'must be true or false' },
        { field: 'params.level', message: 'must be one of info, debug' },
      ],
    });
    expect(checkParams(playbook, [])).toEqual({ ok: false, issues: [{ field: 'params', message: 'must be an object of parameter names to values' }] });
  });

  it('puts a value into a postcondition as one quoted shell word, so a value is never code', () => {
    const playbook = parsePlaybook(MIGRATE, 's');
    const checked = checkParams(playbook, { module: "src/x'; rm -rf / #" });
    if (!checked.ok) throw new Error('params should check');
    const { prompt, postconditions } = renderPlaybook(playbook, checked.params);
    expect(postconditions).toEqual([`! grep -rq old-logger -- 'src/x'\\''; rm -rf / #'`]);
    expect(prompt.split('\n')[0]).toBe("Move src/x'; rm -rf / # off old-logger");
    expect(prompt).toContain('Do not change: package-lock.json.');
  });
});

describe('what a playbook forbids', () => {
  const forbidden = { paths: ['package.json', 'secrets/**'], commands: ['npm publish', 'git push'] };

  it('matches paths however the agent spells them', () => {
    expect(forbiddenPathsIn(['./package.json', 'src/../secrets/a/b', 'src/package.json', '.secrets'], forbidden)).toEqual(['./package.json', 'src/../secrets/a/b']);
    expect(forbiddenPathsIn(['package.json'], undefined)).toEqual([]);
  });

  it('refuses writes to forbidden paths and commands that contain a forbidden one, whatever the spacing', () => {
    expect(refusal({ name: 'write_file', arguments: JSON.stringify({ path: 'secrets/key', content: 'x' }) }, forbidden)).toContain('forbids changing secrets/key');
    expect(refusal({ name: 'edit_file', arguments: JSON.stringify({ path: 'src/a.ts', old: 'a', new: 'b' }) }, forbidden)).toBeUndefined();
    expect(refusal({ name: 'shell', arguments: JSON.stringify({ command: 'cd x &&  npm\tpublish' }) }, forbidden)).toBe('refused: this playbook forbids running `npm publish`; do the task another way');
    expect(refusal({ name: 'shell', arguments: JSON.stringify({ command: 'npm test' }) }, forbidden)).toBeUndefined();
    expect(refusal({ name: 'read_file', arguments: JSON.stringify({ path: 'package.json' }) }, forbidden)).toBeUndefined();
  });
});
