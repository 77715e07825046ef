// The copy-on-write layers of kept environments on this host (as root, with real overlay
// mounts): a layer is taken only from where a sandbox unpacks one, never through a link; what a
// mount's user changes never reaches the layer; and sweeping removes layers unused for a day or
// beyond the ten most recent, never one a sandbox has mounted.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from '@jest/globals';
import { EnvironmentLayers, unmountUnder } from '../../../activities/sandbox/environment-layers.js';
import { describeWithPart } from '../../support/required-part.js';

const sha = (n: number) => n.toString(16).padStart(64, '0');
let dir: string;
afterEach(async () => {
  await unmountUnder(dir);
  rmSync(dir, { recursive: true, force: true });
});

/** A sandboxes directory, its layers, and a sandbox's workspace with a layer unpacked in its .git. */
function host() {
  dir = mkdtempSync(path.join(os.tmpdir(), 'errand-layers-'));
  const sandboxes = path.join(dir, 'sandboxes');
  const layers = new EnvironmentLayers(sandboxes, async (d) => rmSync(d, { recursive: true, force: true }));
  const unpacked = (sandbox: string, content: string) => {
    const rel = `.git/errand-layer-${'a1'.repeat(6)}`;
    const workspace = path.join(sandboxes, sandbox, 'workspace');
    mkdirSync(path.join(workspace, rel, 'workspace', 'node_modules', 'dep'), { recursive: true });
    mkdirSync(path.join(workspace, rel, 'home'), { recursive: true });
    mkdirSync(path.join(sandboxes, sandbox, 'home'), { recursive: true });
    writeFileSync(path.join(workspace, rel, 'workspace', 'node_modules', 'dep', 'index.js'), content);
    return { workspace, rel, sandboxDir: path.join(sandboxes, sandbox) };
  };
  return { sandboxes, layers, unpacked };
}

describeWithPart(
  { name: 'root', missing: process.getuid?.() !== 0 ? 'the tests do not run as root' : undefined, install: 'run the tests as root' },
  'environment layers',
  () => {
    it('takes a layer from where a sandbox unpacked it, mounts it copy-on-write, and never through a link', async () => {
      const { sandboxes, layers, unpacked } = host();
      expect(await layers.unusable()).toBeUndefined();
      const a = unpacked('a', 'module.exports = 1;\n');
      await layers.adopt(a.workspace, a.rel, sha(1));
      expect(await layers.has(sha(1))).toBe(true);
      expect(existsSync(path.join(a.workspace, a.rel))).toBe(false);

      await layers.mount(a.sandboxDir, sha(1));
      const file = path.join(a.workspace, 'node_modules', 'dep', 'index.js');
      expect(readFileSync(file, 'utf8')).toBe('module.exports = 1;\n');
      writeFileSync(file, 'poisoned()');
      expect(readFileSync(path.join(sandboxes, '.layers', sha(1), 'workspace', 'node_modules', 'dep', 'index.js'), 'utf8')).toBe('module.exports = 1;\n');

      // Another sandbox made the same layer meanwhile: its copy is dropped, the first one kept.
      const b = unpacked('b', 'another copy');
      await layers.adopt(b.workspace, b.rel, sha(1));
      expect(existsSync(path.join(b.workspace, b.rel))).toBe(false);
      expect(readFileSync(path.join(sandboxes, '.layers', sha(1), 'workspace', 'node_modules', 'dep', 'index.js'), 'utf8')).toBe('module.exports = 1;\n');

      // A .git that is a link, or a path that is not where layers are unpacked, is refused.
      const c = unpacked('c', 'x');
      const outside = path.join(dir, 'elsewhere');
      execFileSync('mv', [path.join(c.workspace, '.git'), outside]);
      symlinkSync(outside, path.join(c.workspace, '.git'));
      await expect(layers.adopt(c.workspace, c.rel, sha(2))).rejects.toThrow('is not a directory');
      await expect(layers.adopt(c.workspace, '../../etc', sha(2))).rejects.toThrow('is not a directory a layer is unpacked into');
      expect(await layers.has(sha(2))).toBe(false);
    });

    it('sweeps layers unused for a day or beyond the ten most recent, never one that is mounted', async () => {
      const { sandboxes, layers, unpacked } = host();
      const day = Date.now() / 1000 - 25 * 60 * 60;
      const made = async (n: number, sandbox: string, usedAt: number) => {
        const u = unpacked(sandbox, String(n));
        await layers.adopt(u.workspace, u.rel, sha(n));
        utimesSync(path.join(sandboxes, '.layers', sha(n)), usedAt, usedAt);
        return u;
      };
      const mounted = await made(1, 'mounted', day);
      await layers.mount(mounted.sandboxDir, sha(1));
      await made(2, 'old', day);
      for (let n = 3; n < 15; n++) await made(n, `recent${n}`, Date.now() / 1000 - (15 - n) * 60);

      await layers.sweep();
      const kept = (n: number) => existsSync(path.join(sandboxes, '.layers', sha(n)));
      expect(kept(1)).toBe(true); // a day unused, but mounted
      expect(kept(2)).toBe(false); // a day unused
      expect([3, 4].map(kept)).toEqual([false, false]); // recent, but beyond the ten most recent
      expect([5, 6, 7, 8, 9, 10, 11, 12, 13, 14].every(kept)).toBe(true);
    });
  },
);
