// Builds the `errand` command's bundle, .build/errand-cli.mjs, from apps/cli/main.ts (npm
// packages left as imports), with the list of the source files it holds, so bin/errand.mjs can
// tell when a source changed since. Run by `npm install` (postinstall); the commands that run
// Errand itself (stack.ts) are left out: they run from the sources.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, '.build');
mkdirSync(out, { recursive: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: ['apps/cli/main.ts'],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  outfile: path.join(out, 'errand-cli.mjs'),
  metafile: true,
  logLevel: 'warning',
  plugins: [
    {
      name: 'stack-stays-out',
      setup(b) {
        b.onResolve({ filter: /\/stack\.js$/ }, () => ({ path: './stack-is-not-bundled.js', external: true }));
      },
    },
  ],
});
writeFileSync(path.join(out, 'errand-cli.inputs.json'), `${JSON.stringify(Object.keys(result.metafile.inputs).filter((f) => !f.startsWith('node_modules/')))}\n`);
