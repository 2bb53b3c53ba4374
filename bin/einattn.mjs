#!/usr/bin/env node
// Launcher: einattn ships TypeScript sources, so register tsx's loaders before
// importing the CLI. Paths resolve from this file, so any working directory works.
import { register as registerCjs } from 'tsx/cjs/api';
import { register } from 'tsx/esm/api';

// Both hooks: a user's `--file` module outside an ESM package is CommonJS to Node,
// and its require() of our .ts sources must be compiled too.
registerCjs();
register();
const { main } = await import(new URL('../src/cli/main.ts', import.meta.url).href);
process.exitCode = await main(process.argv.slice(2));
