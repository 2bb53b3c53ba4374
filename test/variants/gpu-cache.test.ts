/** MLA (naive, absorbed), KV-cache decoding and the paged cache on the GPU; bad inputs rejected before dispatch. */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { compile, interpret, type Graph } from '../../src/index.ts';
import { closeRuntime, getRuntime } from '../../src/runtime/index.ts';
import { checkLengths, gqa, mha, mla, paged, reorderContractions } from '../../src/variants/index.ts';
import { count } from './arbitraries.ts';
import { expectGpuMatch } from './gpu.ts';
import { modInputs, randInt, randn, rng } from './reference.ts';
import { rejects } from '../rejects.ts';

beforeAll(async () => {
  await getRuntime(); // no adapter → the suite fails here with the reason
});
afterAll(closeRuntime);

function inputsFor(g: Graph, dims: Record<string, number>, seed: number, fixed: Record<string, ArrayLike<number>> = {}) {
  const r = rng(seed);
  const mods = modInputs(
    r,
    dims as never,
    g.inputs.map((i) => i.name),
  );
  return Object.fromEntries(g.inputs.map((i) => [i.name, fixed[i.name] ?? mods[i.name] ?? randn(r, count(i.axes, dims))]));
}

describe('MLA on the GPU', () => {
  test('naive and absorbed at DeepSeek-V2 head shapes (dc = 512, dr = 64, dn = dv = 128), prefill and decode', async () => {
    const base = { b: 1, h: 2, dn: 128, dr: 64, dc: 512, dv: 128 };
    for (const [i, absorbed] of [false, true].entries()) {
      const prefill = mla({ absorbed, causal: true });
      await expectGpuMatch(prefill, inputsFor(prefill, { ...base, s: 5, t: 5 }, i), { ...base, s: 5, t: 5 });
      const decode = mla({ absorbed, causal: true, cache: true });
      const dims = { ...base, b: 2, s: 1, t: 19 };
      await expectGpuMatch(decode, inputsFor(decode, dims, i, { kv_len: [19, 7] }), dims);
    }
    // the absorbed form derived from the naive one by the contraction-order rewrite
    const dims = { ...base, b: 2, s: 1, t: 19 };
    const derived = reorderContractions(mla({ causal: true, cache: true }), { ...dims, h: 128, t: 4096 });
    await expectGpuMatch(derived, inputsFor(derived, dims, 3, { kv_len: [3, 19] }), dims);
  });

  test('random small shapes, both forms, with and without RoPE, with mask options', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          b: fc.integer({ min: 1, max: 2 }),
          h: fc.integer({ min: 1, max: 4 }),
          s: fc.integer({ min: 1, max: 6 }),
          t: fc.integer({ min: 1, max: 10 }),
          dn: fc.integer({ min: 1, max: 9 }),
          dr: fc.integer({ min: 1, max: 5 }),
          dc: fc.integer({ min: 1, max: 12 }),
          dv: fc.integer({ min: 1, max: 7 }),
        }),
        fc.record({ absorbed: fc.boolean(), rope: fc.boolean(), causal: fc.boolean(), cache: fc.boolean(), softcap: fc.constantFrom(0, 3) }),
        fc.integer(),
        async (dims, opts, seed) => {
          const g = mla(opts);
          await expectGpuMatch(g, inputsFor(g, dims, seed), dims);
        },
      ),
      { numRuns: 6 },
    );
  });
});

describe('KV-cache decoding on the GPU', () => {
  test('MHA and GQA decode steps with ragged kv_len (one kernel set for every length)', async () => {
    const dims = { b: 3, h: 4, g: 2, s: 1, t: 12, d: 8, dv: 8 };
    for (const build of [mha, gqa]) {
      const g = build({ causal: true, cache: true });
      const c = compile(g);
      for (const [i, lens] of [
        [12, 5, 0],
        [1, 11, 7],
      ].entries()) {
        // the same compiled plan serves every kv_len: no regeneration
        await expectGpuMatch(g, inputsFor(g, dims, i, { kv_len: lens }), dims);
      }
      expect(compile(g).plan.kernels.map((k) => k.wgsl)).toEqual(c.plan.kernels.map((k) => k.wgsl));
    }
  });
});

describe('paged KV cache on the GPU', () => {
  test('random block sizes, tables and lengths', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          b: fc.integer({ min: 1, max: 3 }),
          g: fc.integer({ min: 1, max: 2 }),
          r: fc.integer({ min: 1, max: 3 }),
          s: fc.integer({ min: 1, max: 3 }),
          n: fc.integer({ min: 1, max: 9 }),
          blk: fc.integer({ min: 1, max: 5 }),
          m: fc.integer({ min: 1, max: 4 }),
          d: fc.integer({ min: 1, max: 9 }),
          dv: fc.integer({ min: 1, max: 6 }),
        }),
        fc.boolean(),
        fc.integer(),
        async ({ r: rep, ...d }, causal, seed) => {
          const dims = { ...d, h: d.g * rep };
          const g = paged({ causal });
          const r = rng(seed);
          const x = inputsFor(g, { ...dims, t: dims.m * dims.blk }, seed, {
            block_table: randInt(r, dims.b * dims.m, 0, dims.n - 1),
            kv_len: randInt(r, dims.b, 0, dims.m * dims.blk),
          });
          await expectGpuMatch(g, x, dims);
        },
      ),
      { numRuns: 6 },
    );
  });
});

describe('bad inputs are clear errors before dispatch', () => {
  test('h not divisible by g: SIZE_CONFLICT naming the split', async () => {
    const g = gqa();
    const dims = { b: 1, h: 6, g: 4, s: 2, t: 3, d: 4, dv: 4 };
    const x = { q: new Float32Array(48), k: new Float32Array(48), v: new Float32Array(48) };
    const e = await rejects(compile(g).run(x, dims));
    expect(e.code).toBe('SIZE_CONFLICT');
    expect(e.message).toMatch(/split 'h' -> 'g r': h must be divisible by g/);
    expect((await rejects(() => interpret(g, x, dims))).code).toBe('SIZE_CONFLICT');
  });

  test('a block table entry past n_blocks: INDEX_RANGE naming the entry', async () => {
    const g = paged();
    const dims = { b: 2, h: 2, g: 1, s: 1, n: 4, blk: 2, m: 2, d: 3, dv: 3 };
    const x = inputsFor(g, { ...dims, t: 4 }, 0, { block_table: [0, 1, 2, 4], kv_len: [4, 4] });
    const e = await rejects(compile(g).run(x, dims));
    expect(e.code).toBe('INDEX_RANGE');
    expect(e.message).toMatch(/'block_table' has 4 at \[b=1 m=1\], outside 0\.\.3/);
    expect((await rejects(() => interpret(g, x, dims))).code).toBe('INDEX_RANGE');
  });

  test('kv_len above the capacity or negative: checkLengths throws BAD_INPUT before compile().run', async () => {
    const g = paged();
    const dims = { b: 2, h: 2, g: 1, s: 1, n: 4, blk: 2, m: 2, d: 3, dv: 3 };
    const over = inputsFor(g, { ...dims, t: 4 }, 0, { block_table: [0, 1, 2, 3], kv_len: [4, 5] });
    const e = await rejects(() => checkLengths(g, over, dims));
    expect(e.code).toBe('BAD_INPUT');
    expect(e.message).toBe("input 'kv_len' has 5 at [b=1], outside 0..4 (the capacity t = m·blk = 4)");
    const neg = await rejects(() => checkLengths(mha({ cache: true }), { kv_len: [-1] }, { b: 1, h: 1, s: 1, t: 3, d: 1, dv: 1 }));
    expect(neg.message).toMatch(/input 'kv_len' has -1 at \[b=0\], outside 0\.\.3 \(the capacity t = 3; lengths cannot be negative\)/);
    // valid lengths pass, and the run agrees with the interpreter
    const ok = inputsFor(g, { ...dims, t: 4 }, 0, { block_table: [0, 1, 2, 3], kv_len: [4, 0] });
    checkLengths(g, ok, dims);
    await expectGpuMatch(g, ok, dims);
  });
});
