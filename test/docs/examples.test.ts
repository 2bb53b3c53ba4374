/**
 * Doctests: every `@example` in src/ and codegen/ that states a value (`code // value`) runs
 * here, with its module's exports, the public API and the fixtures below in scope, and must
 * give that value. The convention is described in ./examples.ts and docs/ARCHITECTURE.md.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { transformSync } from 'esbuild';
import { afterAll, describe, expect, test } from 'vitest';
import * as api from '../../src/index.ts';
import { closeRuntime, getRuntime } from '../../src/runtime/index.ts';
import { examplesOf, readExample, sourceFiles, statements, type Example, type Expected } from './examples.ts';

const ROOT = resolve(import.meta.dirname, '../..');

const examples: Example[] = sourceFiles(ROOT, ['src', 'codegen']).flatMap((f) => examplesOf(f, readFileSync(resolve(ROOT, f), 'utf8')));

afterAll(closeRuntime);

/** Shared fixtures: few, and named for what they are. */
async function fixtures(code: string): Promise<Record<string, unknown>> {
  const f: Record<string, unknown> = {};
  // the runtime this test runs on (lavapipe in CI), created only for examples that use it
  if (/\brt\b/.test(code)) f.rt = await getRuntime();
  return f;
}

/** The index module of the layer `file` belongs to (`src/lower/index.ts` for `src/lower/flash/kernel.ts`), if any. */
function layerIndex(file: string): string | undefined {
  const parts = file.split('/');
  const dir = parts[0] === 'src' ? parts.slice(0, 2) : parts.slice(0, 1);
  const index = resolve(ROOT, ...dir, 'index.ts');
  return existsSync(index) ? index : undefined;
}

/**
 * Runs the code of `e` and returns the value of its last statement. In scope: the package's
 * public API, the exports of the example's layer (its `index.ts`) and of its own module, and the fixtures.
 */
async function run(e: Example): Promise<unknown> {
  const mod = (await import(resolve(ROOT, e.file))) as Record<string, unknown>;
  const index = layerIndex(e.file);
  const layer = index ? ((await import(index)) as Record<string, unknown>) : {};
  const scope: Record<string, unknown> = { ...api, ...layer, ...mod, ...(await fixtures(e.code)) };
  const stmts = statements(e.code);
  const body = `${stmts
    .slice(0, -1)
    .map((s) => `${s};`)
    .join(' ')} return (${stmts[stmts.length - 1]});`;
  const js = transformSync(`(async () => { ${body} })`, { loader: 'ts' }).code.trim().replace(/;$/, '');
  const names = Object.keys(scope).filter((n) => /^[A-Za-z_$][\w$]*$/.test(n));
  const fn = new Function(...names, `"use strict"; return ${js};`) as (...args: unknown[]) => () => Promise<unknown>;
  return await fn(...names.map((n) => scope[n]))();
}

function check(actual: unknown, want: Expected): void {
  switch (want.match) {
    case 'equal':
      return void expect(actual).toEqual(want.value);
    case 'prefix':
      expect(Array.isArray(actual), `an array, got ${String(actual)}`).toBe(true);
      return void expect((actual as unknown[]).slice(0, want.value.length)).toEqual(want.value);
    case 'subset':
      return void expect(actual).toMatchObject(want.value);
    case 'pattern':
      return void expect(actual).toMatch(want.value);
    case 'digits':
      return void expect(Math.abs((actual as number) - want.value)).toBeLessThan(10 ** -want.decimals);
  }
}

/** Runs one example against what it states. */
async function verify(e: Example): Promise<void> {
  const r = readExample(e);
  if (r.kind === 'unreadable') throw new Error(`${e.file}:${e.line}: ${r.why}; state a value, or make it an illustration`);
  if (r.kind === 'value') return check(await run(e), r.expected);
  if (r.kind === 'throws') {
    let thrown: unknown;
    try {
      await run(e);
    } catch (err) {
      thrown = err;
    }
    expect(thrown, 'it should throw').toBeInstanceOf(Error);
    expect((thrown as Error).message.startsWith(r.message), `message: ${(thrown as Error).message}`).toBe(true);
  }
}

const stated = examples.filter((e) => readExample(e).kind !== 'illustration');

test('the sources have examples, and most state a value that is checked here', () => {
  expect(examples.length).toBeGreaterThan(250);
  expect(stated.length).toBeGreaterThan(100);
});

describe.each([...new Set(stated.map((e) => e.file))])('%s', (file) => {
  for (const e of stated.filter((x) => x.file === file)) {
    test(`${e.line}: ${e.code}${e.comment ? ` // ${e.comment}` : ''}`, () => verify(e));
  }
});
