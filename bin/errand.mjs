#!/usr/bin/env node
// `errand` (npx errand, or on PATH after npm link). The commands that run Errand itself (setup,
// dev, serve, worker, api, sandboxes) run from the TypeScript sources through tsx, as `npm start`
// does; the others (task, schedule, playbook, repo, token, help) talk to a running API and run from the
// bundle `npm install` built (bin/build-cli.mjs), so they answer in a fraction of a second. A
// bundle older than any of its sources is not used: the sources are.
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const RUNNERS = new Set(['setup', 'dev', 'serve', 'worker', 'api', 'sandboxes']);
const bundle = path.join(root, '.build', 'errand-cli.mjs');

function fresh() {
  try {
    const built = statSync(bundle).mtimeMs;
    const inputs = JSON.parse(readFileSync(path.join(root, '.build', 'errand-cli.inputs.json'), 'utf8'));
    return inputs.every((file) => statSync(path.join(root, file)).mtimeMs <= built);
  } catch {
    return false;
  }
}

if (!RUNNERS.has(process.argv[2] ?? '') && fresh()) {
  await import(pathToFileURL(bundle).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(path.join(root, 'apps', 'cli', 'main.ts')).href);
}
