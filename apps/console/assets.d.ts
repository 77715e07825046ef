// What esbuild bundles besides TypeScript: the stylesheet, imported for its side effect.
declare module '*.css';
