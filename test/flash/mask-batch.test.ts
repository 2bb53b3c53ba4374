/**
 * A mask over two batch axes (b and h): its block map is laid out (b, h, row block, KV tile),
 * and the flash kernel must read it at ((b·H + h)·nRB + rblk)·nT + tile. The text-built
 * lowering wrote `(b·H + h · nRB + rblk)` (its offset was pasted into a product without
 * parentheses); the kernel IR's renderer adds the ones precedence needs.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { compile } from '../../src/compile.ts';
import { einsum, graph, index, input, interpret } from '../../src/index.ts';
import { closeRuntime, getRuntime } from '../../src/runtime/index.ts';
import { inputsOf, maxDiff } from './attention.ts';

beforeAll(async () => {
  await getRuntime();
});
afterAll(closeRuntime);

test('a causal window of per-(b, h) width: the block map is read at the right (b, h)', async () => {
  const q = input('q', 'b h s d');
  const k = input('k', 'b h t d');
  const v = input('v', 'b h t e');
  const w = input('w', 'b h', 'i32');
  const [s, t] = [index('s'), index('t')];
  const mask = t.le(s).and(s.sub(t).lt(w));
  const g = graph('win2', { o: einsum('b h s t, b h t e -> b h s e', einsum('b h s d, b h t d -> b h s t', q, k).softmax('t', { mask }), v) });
  const dims = { b: 2, h: 3, s: 40, t: 40, d: 4, e: 4 };
  const inputs = inputsOf(g, dims);
  // windows from 1 to 36 keys: (b, h) pairs whose tiles differ, so a code read at another (b, h) skips live tiles
  inputs.w = Int32Array.from([1, 36, 3, 30, 2, 17]);
  const c = compile(g, { flashSchedule: { rows: 2, workgroup: 4, kvTile: 4, split: 1 } });
  expect(c.plan.kernels.map((x) => x.name)).toEqual(['win2_0_flash_blocks', 'win2_0_flash']);
  const got = await c.run(inputs, dims);
  const want = interpret(g, inputs, dims);
  expect(maxDiff(got.outputs.o!.data, want.o!.data)).toBeLessThan(1e-5);
});
