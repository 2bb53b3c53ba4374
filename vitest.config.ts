import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { defineConfig } from 'vitest/config';
import { DAWN_LIMIT_WARNING } from './bin/dawn-warnings.mjs';

// In the repository, `einattn` and its subpaths resolve to the sources, as tsconfig.json's
// "paths" say for tsc and tsx (package.json "exports" point at the built dist/ for users).
const paths = (JSON.parse(readFileSync(new URL('./tsconfig.json', import.meta.url), 'utf8')) as { compilerOptions: { paths: Record<string, string[]> } })
  .compilerOptions.paths;
const alias = Object.entries(paths).map(([name, [target]]) => ({
  find: new RegExp(`^${name.replace(/[/.]/g, '\\$&')}$`),
  replacement: resolve(import.meta.dirname, target!),
}));

// The forks' stderr is piped into this process's: drop Dawn's native limit notices, which a
// worker prints when it first opens an adapter (see bin/dawn-warnings.mjs). Dawn writes each
// line with one fprintf, so whole lines arrive in one chunk.
const notice = new RegExp(`^${DAWN_LIMIT_WARNING.source.slice(1, -1)}\\n`, 'gm');
const write = process.stderr.write.bind(process.stderr) as (...args: unknown[]) => boolean;
process.stderr.write = ((chunk: unknown, ...rest: unknown[]) => {
  const text = typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) ? chunk.toString('utf8') : null;
  if (text === null || !text.includes('artificially reduced')) return write(chunk, ...rest);
  return write(text.replace(notice, ''), ...rest);
}) as typeof process.stderr.write;

// One GPU device per test file (see DESIGN.md): forks keep Dawn's native state per process.
export default defineConfig({
  resolve: { alias },
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});
