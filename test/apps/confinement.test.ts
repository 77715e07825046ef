// How the worker decides on confinement at start-up: bubblewrap when it works, otherwise one
// warning that says what is given up, or a refusal to start when it was required.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { chooseConfinement, UNCONFINED_CONSEQUENCES } from '../../apps/worker/confinement.js';
import { loadConfig } from '../../apps/config.js';
import type { Logger } from '../../apps/logger.js';

function capture() {
  const lines: { level: string; msg: string; fields: Record<string, unknown> }[] = [];
  const at = (level: string) => (fields: unknown, msg?: string) => {
    lines.push(typeof fields === 'string' ? { level, msg: fields, fields: {} } : { level, msg: msg ?? '', fields: fields as Record<string, unknown> });
  };
  return { lines, log: { info: at('info'), warn: at('warn') } as unknown as Logger };
}

const originalPath = process.env.PATH;
afterEach(() => {
  process.env.PATH = originalPath;
});
/** A PATH on which there is no bwrap. */
const withoutBubblewrap = () => {
  process.env.PATH = mkdtempSync(path.join(os.tmpdir(), 'errand-empty-path-'));
};

describe('chooseConfinement', () => {
  it('warns once, saying what is given up and how to fix it, when bubblewrap is missing', async () => {
    withoutBubblewrap();
    const { lines, log } = capture();
    expect(await chooseConfinement(loadConfig({}), log)).toBeUndefined();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'warn', fields: { reason: 'bwrap is not on PATH', consequences: UNCONFINED_CONSEQUENCES } });
    expect(lines[0]!.msg).toContain("reach the network whatever the task's network policy says");
    expect(String(lines[0]!.fields.fix)).toContain('apt-get install bubblewrap');
  });

  it('refuses to start when bubblewrap is required but missing', async () => {
    withoutBubblewrap();
    await expect(chooseConfinement(loadConfig({ ERRAND_SANDBOX_CONFINEMENT: 'bubblewrap' }), capture().log)).rejects.toThrow(
      /ERRAND_SANDBOX_CONFINEMENT=bubblewrap, but bwrap is not on PATH; install bubblewrap/,
    );
  });

  it('runs unconfined on purpose with none, and says so', async () => {
    const { lines, log } = capture();
    expect(await chooseConfinement(loadConfig({ ERRAND_SANDBOX_CONFINEMENT: 'none' }), log)).toBeUndefined();
    expect(lines.map((l) => l.level)).toEqual(['warn']);
  });
});
