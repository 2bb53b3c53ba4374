/** The fuzzer's command and its reproducers run as documented. */
import { execFile } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { expect, test } from 'vitest';
import { recipeArb, recipeToSnippet } from './programs.ts';

const run = promisify(execFile);
const ROOT = new URL('../../', import.meta.url).pathname;

test('npm run fuzz reports progress and programs per minute, and exits 0 without mismatches', async () => {
  const r = await run('node', ['--import', 'tsx', join(ROOT, 'scripts/fuzz.ts'), '--minutes', '0.02', '--seed', '3', '--batch', '20'], { cwd: ROOT });
  expect(r.stdout).toMatch(/fuzzing for 0\.02 min on \w+ adapter/);
  expect(r.stdout).toMatch(/\d+ programs, \d+ per minute, 0 mismatches so far \(seed 3\)/);
  expect(r.stdout).toMatch(/fuzz: \d+ programs in 0\.02 min, 0 mismatches/);
});

test('a reproducer snippet runs from the repository root and prints interpreter and GPU values', async () => {
  const [recipe] = fc.sample(
    recipeArb.filter((x) => x.steps.length >= 2),
    { seed: 11, numRuns: 1 },
  );
  const file = join(ROOT, `repro-${process.pid}.ts`);
  writeFileSync(file, recipeToSnippet(recipe!));
  try {
    const r = await run('node', ['--import', 'tsx', file], { cwd: ROOT });
    expect(r.stdout).toMatch(/^out \[/m);
    expect(r.stdout).toMatch(/^first \[/m);
  } finally {
    rmSync(file, { force: true });
  }
});
