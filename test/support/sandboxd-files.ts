// The files sandboxd loads, found by following its imports from apps/sandboxd/main.ts (esbuild's
// metafile, nothing bundled): what its image must hold, so no list of them is kept by hand.
import { build } from 'esbuild';
import { PROJECT_ROOT } from './errand-process.js';

export async function sandboxdFiles(): Promise<string[]> {
  const result = await build({
    entryPoints: ['apps/sandboxd/main.ts'],
    absWorkingDir: PROJECT_ROOT,
    bundle: true,
    write: false,
    metafile: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    logLevel: 'silent',
  });
  return Object.keys(result.metafile.inputs).sort();
}
