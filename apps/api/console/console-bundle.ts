// The web console (apps/console) as one script and one stylesheet, built with esbuild in memory
// the first time a browser asks for it, and served by the API itself: same origin, same tokens,
// nothing fetched from elsewhere at run time (a company without internet access can use it).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ENTRY = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../console/main.tsx');

export interface ConsoleAssets {
  'app.js': Uint8Array;
  'app.css': Uint8Array;
}

let built: Promise<ConsoleAssets> | undefined;

/** The console's files (built once per process; a failed build is tried again on the next request). */
export function consoleAssets(): Promise<ConsoleAssets> {
  built ??= buildConsole().catch((err: unknown) => {
    built = undefined;
    throw err;
  });
  return built;
}

async function buildConsole(): Promise<ConsoleAssets> {
  const result = await build({
    entryPoints: { app: ENTRY },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    jsx: 'automatic',
    jsxImportSource: 'preact',
    outdir: '/console',
    write: false,
    logLevel: 'silent',
    legalComments: 'none',
  });
  const file = (name: string) => result.outputFiles.find((f) => f.path === `/console/${name}`)?.contents;
  return { 'app.js': file('app.js')!, 'app.css': file('app.css') ?? new Uint8Array() };
}
