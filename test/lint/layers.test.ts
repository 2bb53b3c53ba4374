/**
 * The bottom of the layering (docs/ARCHITECTURE.md, *Layers*): the kernel IR (src/kir) imports
 * nothing outside itself, and the runtime imports only itself, the kernel IR, the platform and
 * src/errors.ts, never the lowering, so applications built on generated modules ship the
 * runtime alone and still build the KV caches' kernels.
 */
import { readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import ts from 'typescript';
import { expect, test } from 'vitest';
import { sourceFiles } from '../docs/examples.ts';

const ROOT = resolve(import.meta.dirname, '../..');

/** Every module `file` imports (static, type-only, re-exports and dynamic), relative ones as repository paths. */
function importsOf(file: string): string[] {
  const { importedFiles } = ts.preProcessFile(readFileSync(resolve(ROOT, file), 'utf8'), true, true);
  return importedFiles.map(({ fileName: f }) => (f.startsWith('.') ? relative(ROOT, resolve(ROOT, dirname(file), f)) : f));
}

/** The imports of the files under `dir` that `allowed` refuses, as `file -> import`. */
function outside(dir: string, allowed: (path: string) => boolean): string[] {
  return sourceFiles(ROOT, [dir]).flatMap((f) =>
    importsOf(f)
      .filter((p) => !allowed(p))
      .map((p) => `${f} -> ${p}`),
  );
}

test('the kernel IR imports nothing outside src/kir', () => {
  expect(importsOf('src/runtime/kv/kernels.ts')).toContain('src/kir/ir.ts'); // the measure sees imports
  expect(outside('src/kir', (p) => p.startsWith('src/kir/'))).toEqual([]);
});

test('the runtime imports only itself, the kernel IR, the platform and the errors', () => {
  const allowed = (p: string) => ['src/runtime/', 'src/kir/', 'src/platform/'].some((d) => p.startsWith(d)) || p === 'src/errors.ts';
  expect(outside('src/runtime', allowed)).toEqual([]);
});
