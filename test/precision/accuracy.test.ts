/** `npm run accuracy`: the measured-error table (quick shapes, not written to the docs). */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect, test } from 'vitest';

const run = promisify(execFile);
const tsx = ['node_modules/tsx/dist/cli.mjs', 'scripts/accuracy.ts'];

test('prints one row per variant and precision; reduced precisions measurably cost accuracy, f32 does not', async () => {
  const { stdout } = await run('node', [...tsx, '--quick', '--no-write'], { timeout: 300_000 });
  expect(stdout).toContain('Measured with `npm run accuracy -- --quick`');
  expect(stdout).toMatch(/adapter: \w+ /);
  const rows = stdout
    .split('\n')
    .filter((l) => /^\| (MHA|GQA|MLA)/.test(l))
    .map((l) => l.split('|').map((c) => c.trim()));
  // 3 variants × 4 float precisions, and 2 int8 precisions for the two decode variants
  expect(rows).toHaveLength(3 * 4 + 2 * 2);
  for (const [, variant, precision, maxAbs, , maxRel] of rows) {
    expect(Number.isFinite(Number(maxAbs)), `${variant} ${precision}`).toBe(true);
    if (precision === 'f32') expect(Number(maxRel), `${variant} f32`).toBeLessThan(1e-5);
    else {
      const f32 = rows.find((r) => r[1] === variant && r[2] === 'f32')!;
      expect(Number(maxRel), `${variant} ${precision} vs f32`).toBeGreaterThan(10 * Number(f32[5]));
    }
  }
  // the script compiles every variant in every precision; with a cold shader cache (a fresh CI
  // machine) that took 96–121 s here, so the test allows what its child process already may
}, 300_000);

test('a bad flag is a one-line usage error (exit 2)', async () => {
  const err = await run('node', [...tsx, '--seed', 'x']).catch((e) => e);
  expect(err.code).toBe(2);
  expect(err.stderr.trim()).toBe("accuracy: --seed must be a non-negative integer, got 'x' (usage: npm run accuracy -- [--quick] [--no-write] [--seed N])");
});
