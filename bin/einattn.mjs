#!/usr/bin/env node
// The `einattn` command. An installed package holds no sources: it runs the built CLI (dist/).
// In a checkout (src/ beside bin/) it runs the TypeScript sources through tsx instead, so
// in-repo runs always see the current code, with or without a build. Paths resolve from this
// file, so any working directory works.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const source = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
let main;
if (existsSync(source)) {
  // Both hooks: a user's `--file` module outside an ESM package is CommonJS to Node, and its
  // require() of our .ts sources must be compiled too.
  const [cjs, esm] = await Promise.all([import('tsx/cjs/api'), import('tsx/esm/api')]);
  cjs.register();
  esm.register();
  ({ main } = await import(pathToFileURL(source).href));
} else {
  ({ main } = await import('../dist/src/cli/main.js'));
}
process.exitCode = await main(process.argv.slice(2));
