/**
 * No function in src/ or codegen/ is longer than 100 lines (issue 20): a function, method,
 * accessor, constructor or arrow function spans at most MAX_LINES lines from its first to its
 * last line, nested functions included. Long emitters are split into named steps instead.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import ts from 'typescript';
import { expect, test } from 'vitest';
import { sourceFiles } from '../docs/examples.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const MAX_LINES = 100;

/** Every function-like node of `file` with its name and span in lines. */
function functionsOf(file: string): { name: string; line: number; lines: number }[] {
  const text = readFileSync(resolve(ROOT, file), 'utf8');
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const out: { name: string; line: number; lines: number }[] = [];
  const visit = (n: ts.Node) => {
    if (ts.isFunctionLike(n) && 'body' in n && n.body) {
      const start = sf.getLineAndCharacterOfPosition(n.getStart(sf)).line;
      const end = sf.getLineAndCharacterOfPosition(n.getEnd()).line;
      const named = n.name ?? (ts.isVariableDeclaration(n.parent) || ts.isPropertyAssignment(n.parent) ? n.parent.name : undefined);
      out.push({ name: named ? named.getText(sf) : '(anonymous)', line: start + 1, lines: end - start + 1 });
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

test(`no function in src/ or codegen/ is longer than ${MAX_LINES} lines`, () => {
  const long = sourceFiles(ROOT, ['src', 'codegen']).flatMap((f) =>
    functionsOf(f)
      .filter((fn) => fn.lines > MAX_LINES)
      .map((fn) => `${f}:${fn.line} ${fn.name} (${fn.lines} lines)`),
  );
  expect(long).toEqual([]);
});

test('the measure sees nested and arrow functions', () => {
  const fns = functionsOf('test/lint/function-length.test.ts');
  expect(fns.map((f) => f.name)).toContain('visit');
  expect(fns.find((f) => f.name === 'functionsOf')!.lines).toBeGreaterThan(10);
});
