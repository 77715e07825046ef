// One temporary directory per test run (and per bench run) that everything the run creates goes
// under: it becomes TMPDIR for this process and every process it starts, so each mkdtemp of a
// test, of an Errand it runs, of a stand-in kubelet's pods, lands there, and removing it at the
// end removes all of it, whatever failed in between. Without it a CI run left about a hundred
// `errand-*` directories behind in /tmp.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface TempRoot {
  root: string;
  /** Removes the root and all under it; says what it could not remove instead of throwing. */
  remove(): void;
}

export function startTempRoot(what: string): TempRoot {
  const root = mkdtempSync(path.join(os.tmpdir(), `errand-${what}-`));
  // Passable, like /tmp itself: a confined sandbox user reaches its workspace beneath it.
  chmodSync(root, 0o755);
  process.env.TMPDIR = root;
  return {
    root,
    remove() {
      try {
        rmSync(root, { recursive: true, force: true, maxRetries: 3 });
      } catch {
        // A Go module cache is read-only by design: make it writable, then try once more.
        try {
          execFileSync('chmod', ['-R', 'u+w', root], { stdio: 'ignore' });
          rmSync(root, { recursive: true, force: true, maxRetries: 3 });
        } catch (err) {
          console.warn(`could not remove the run's temporary directory ${root}: ${(err as Error).message}`);
        }
      }
    },
  };
}
