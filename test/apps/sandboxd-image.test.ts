// The sandbox image (apps/sandboxd/Dockerfile) copies sandboxd: its entry point and the one
// folder it is made of (activities/sandbox/sandboxd). No Docker engine runs here, so the check
// is on the file: every file sandboxd loads is copied, or a pod starts and dies on an import.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { PROJECT_ROOT } from '../support/errand-process.js';
import { sandboxdFiles } from '../support/sandboxd-files.js';

describe('the sandbox image', () => {
  it('copies every file sandboxd loads', async () => {
    const dockerfile = readFileSync(path.join(PROJECT_ROOT, 'apps/sandboxd/Dockerfile'), 'utf8');
    const sources = [...dockerfile.matchAll(/^COPY\s+(.+)$/gm)].flatMap((m) => m[1]!.trim().split(/\s+/).slice(0, -1));
    const copied = (file: string) => sources.some((s) => file === s || file.startsWith(`${s.replace(/\/$/, '')}/`));
    const files = await sandboxdFiles();
    expect(files).toContain('apps/sandboxd/main.ts');
    expect(files.filter((f) => !copied(f))).toEqual([]);
    // and sandboxd is its entry point and one folder, nothing picked out of elsewhere
    expect(files.filter((f) => f !== 'apps/sandboxd/main.ts' && !f.startsWith('activities/sandbox/sandboxd/'))).toEqual([]);
  });
});
