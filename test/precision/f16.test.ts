/**
 * f16 storage and f16 compute on the GPU against the float64 interpreter, held to bounds
 * derived from the dtype and the reduction length (see bounds.ts), not tuned to the results.
 * The reference always gets the original f32 values, so f16 storage pays for its rounding.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { compile, einsum, graph, index, input, interpret, size, type Graph } from '../../src/index.ts';
import { closeRuntime, getRuntime } from '../../src/runtime/index.ts';
import { gqa, mha } from '../../src/variants/index.ts';
import { randInt, randn, rng } from '../variants/reference.ts';
import { dotBound, ETA16, gqaBounds, U16 } from './bounds.ts';
import { expectWithin, SMALL } from './check.ts';

beforeAll(async () => {
  const rt = await getRuntime(); // no adapter → the suite fails here with the reason
  if (!rt.features.has('shader-f16'))
    throw new Error(`the ${rt.kind} adapter has no shader-f16: f16 compute cannot be tested on it (fallback.test.ts covers such adapters)`);
});
afterAll(closeRuntime);

type Dims = { b: number; h: number; g: number; s: number; t: number; d: number; dv: number };
const count = (axes: string, d: Record<string, number>) => axes.split(' ').reduce((p, a) => p * d[a]!, 1);
const dimsOf = (g: Graph, d: Record<string, number>) => Object.fromEntries(Object.entries(d).filter(([k]) => g.sizes.includes(k)));

/** GQA-layout attention (MHA when g = h) whose q, k, v and o are stored as `dtype`. */
function attention(dtype: 'f32' | 'f16', causal: boolean): Graph {
  const q = input('q', 'b h s d', dtype).split('h', 'g r');
  const k = input('k', 'b g t d', dtype);
  const v = input('v', 'b g t dv', dtype);
  // the scale as the inputs' dtype, so the scores (and the softmax) stay f16 and fuse with v
  const scores = einsum('b g r s d, b g t d -> b g r s t', q, k).mul(size('d').rsqrt().cast(dtype));
  // key j is visible to query i when j <= i + t - s (aligned to the end)
  const mask = index('t').le(index('s').add(size('t').sub(size('s'))));
  const p = causal ? scores.softmax('t', { mask }) : scores.softmax('t');
  return graph(`attn_${dtype}${causal ? '_causal' : ''}`, { o: einsum('b g r s t, b g t dv -> b g r s dv', p, v).merge('g r', 'h') });
}

function inputs(dims: Dims, seed: number, amp: number) {
  const r = rng(seed);
  return { q: randn(r, count('b h s d', dims), amp), k: randn(r, count('b g t d', dims), amp), v: randn(r, count('b g t dv', dims), amp) };
}

const dimsArb = fc
  .record({
    b: fc.integer({ min: 1, max: 2 }),
    g: fc.integer({ min: 1, max: 2 }),
    r: fc.integer({ min: 1, max: 3 }),
    s: fc.integer({ min: 1, max: 17 }),
    t: fc.integer({ min: 1, max: 40 }),
    d: fc.integer({ min: 1, max: 24 }),
    dv: fc.integer({ min: 1, max: 12 }),
  })
  .map(({ r, ...x }) => ({ ...x, h: x.g * r }));
/** value amplitudes: products stay far below the f16 maximum 65504 */
const ampArb = fc.constantFrom(0.05, 1, 3);
/** Random shapes share one small schedule (see SMALL); the realistic-shape decode test uses the default one. */
const FIXED = SMALL;

describe('the adapter does real f16 arithmetic (the bounds assume it)', () => {
  test("an einsum's products under compute: 'f16' round to f16, keep subnormals (gradual underflow) and overflow to inf", async () => {
    const g = graph('prod', { c: einsum('i, i -> i', input('a', 'i'), input('b', 'i')) });
    const a = Float32Array.from([1 + 2 ** -10, 2 ** -12, 300, 2 ** -7]);
    const b = Float32Array.from([1 + 2 ** -10, 2 ** -12, 300, 2 ** -10]);
    const f16 = (await compile(g, { compute: 'f16' }).run({ a, b }, { i: 4 })).outputs.c!.data;
    const f32 = (await compile(g).run({ a, b }, { i: 4 })).outputs.c!.data;
    // (1 + 2^-10)^2 = 1 + 2^-9 + 2^-20: f16 keeps 11 significant bits, f32 keeps 24
    expect(f16[0]).toBe(1 + 2 ** -9);
    expect(f32[0]).toBe(1 + 2 ** -9 + 2 ** -20);
    // 2^-24, the smallest f16 subnormal, and 2^-17 are kept, not flushed to zero (η = 2^-25 in the bounds)
    expect(f16[1]).toBe(2 ** -24);
    expect(f16[3]).toBe(2 ** -17);
    // 90000 > 65504, the largest f16: inf (documented: f16 compute needs |q_i·k_i| < 65504)
    expect(f16[2]).toBe(Infinity);
    expect(f32[2]).toBe(90000);
    expect(U16).toBe(2 ** -11);
    expect(ETA16).toBe(2 ** -25);
  });

  test("compute: 'f16' changes only the product arithmetic: kernels enable f16, accumulators stay f32", () => {
    const plan = compile(mha({ causal: true }), { compute: 'f16' }).planFor({ b: 1, h: 2, s: 8, t: 8, d: 16, dv: 16 });
    const flash = plan.kernels.find((k) => k.name.endsWith('_flash'))!;
    expect(flash.features).toEqual(['shader-f16']);
    expect(flash.wgsl).toContain('enable f16;');
    expect(flash.wgsl).toMatch(/var _m\d*_?: f32/); // the running max
    expect(flash.wgsl).toMatch(/var _l\d*_?: f32/); // the running sum
    expect(flash.wgsl).toMatch(/var _acc\d*_?: array<f32/); // the accumulator
    expect(flash.wgsl).toMatch(/f32\(f16\(_\w+\[_j_?\]\) \* f16\(/); // P·V: p and v rounded, product in f16
    expect(plan.buffers.every((b) => b.dtype !== 'f16')).toBe(true); // f32 storage stays f32
    const blocks = plan.kernels.find((k) => k.name.endsWith('_blocks'))!;
    expect(blocks.features).toBeUndefined(); // the block map has no products
  });
});

describe("f16 compute (compute: 'f16'), f32 storage", () => {
  test('fused MHA and GQA, causal or not, random shapes: within the derived bound', async () => {
    await fc.assert(
      fc.asyncProperty(dimsArb, fc.boolean(), ampArb, fc.integer(), async (dims, causal, amp, seed) => {
        const g = attention('f32', causal);
        const x = inputs(dims, seed, amp);
        const want = interpret(g, x, dimsOf(g, dims)).o!.data;
        const got = (await compile(g, { compute: 'f16', ...FIXED }).run(x, dimsOf(g, dims))).outputs.o!.data;
        const bound = gqaBounds(dims, x, { qkRoundings: 3, pvRoundings: 3 });
        expectWithin(got, want, bound, Math.max(dims.t, dims.d), `f16 compute ${JSON.stringify(dims)} amp ${amp}`);
      }),
      { numRuns: 25 },
    );
  });

  test('GQA decode at a realistic head dim (d = 128, t = 700): split-KV, within the bound', async () => {
    const dims = { b: 2, h: 8, g: 2, s: 1, t: 700, d: 128, dv: 128 };
    const g = gqa({ causal: true, cache: true });
    const x = { ...inputs(dims, 7, 1), kv_len: Int32Array.from([700, 333]) };
    const c = compile(g, { compute: 'f16' });
    expect(
      c
        .planFor(dims)
        .kernels.map((k) => k.name)
        .some((n) => n.endsWith('_merge')),
    ).toBe(true);
    const want = interpret(g, x, dims).o!.data;
    const got = (await c.run(x, dims)).outputs.o!.data;
    // the bound over every key is a valid (larger) bound for the kv_len keys the row sees
    expectWithin(got, want, gqaBounds(dims, x, { qkRoundings: 3, pvRoundings: 3 }), 700, 'gqa decode f16');
  });

  test('the unfused lowering (flash: false) and the workgroup-memory contraction are held to the same bounds', async () => {
    const dims = { b: 1, h: 2, g: 2, s: 13, t: 21, d: 19, dv: 7 };
    const g = attention('f32', true);
    const x = inputs(dims, 3, 1);
    const want = interpret(g, x, dimsOf(g, dims)).o!.data;
    const got = (await compile(g, { compute: 'f16', flash: false }).run(x, dimsOf(g, dims))).outputs.o!.data;
    expectWithin(got, want, gqaBounds(dims, x, { qkRoundings: 3, pvRoundings: 3 }), 21, 'unfused f16');

    const mm = graph('mm', { c: einsum('i k, k j -> i j', input('a', 'i k'), input('b', 'k j')) });
    const md = { i: 37, k: 150, j: 29 };
    const r = rng(5);
    const a = randn(r, md.i * md.k, 2);
    const b = randn(r, md.k * md.j, 2);
    const ref = interpret(mm, { a, b }, md).c!.data;
    const bound = new Float64Array(md.i * md.j);
    for (let i = 0; i < md.i; i++)
      for (let j = 0; j < md.j; j++)
        bound[i * md.j + j] = dotBound(
          a.subarray(i * md.k, (i + 1) * md.k),
          Array.from({ length: md.k }, (_, k) => b[k * md.j + j]!),
          3,
        );
    for (const shared of [false, true]) {
      const c = compile(mm, { compute: 'f16', shared });
      const out = (await c.run({ a, b }, md)).outputs.c!.data;
      expect(c.plan.kernels[0]!.wgsl.includes('var<workgroup> _tile_a: array<f16'), `shared ${shared}`).toBe(shared);
      expectWithin(out, ref, bound, md.k, `matmul f16 compute, shared ${shared}`);
    }
  });

  test('metamorphic: f16 compute ≈ f32 compute within the sum of their bounds', async () => {
    const dims = { b: 1, h: 4, g: 2, s: 24, t: 24, d: 32, dv: 32 };
    const g = attention('f32', true);
    const x = inputs(dims, 11, 2);
    const lo = (await compile(g, { compute: 'f16', ...FIXED }).run(x, dimsOf(g, dims))).outputs.o!.data;
    const hi = (await compile(g, FIXED).run(x, dimsOf(g, dims))).outputs.o!.data;
    const b16 = gqaBounds(dims, x, { qkRoundings: 3, pvRoundings: 3 });
    const b32 = gqaBounds(dims, x, { qkRoundings: 0, pvRoundings: 0 });
    // |f16 − f32| ≤ |f16 − exact| + |exact − f32|; the f32 allowance is added once more by expectWithin
    expectWithin(
      lo,
      hi,
      b16.map((v, i) => v + b32[i]! + 2 * (1e-5 * Math.sqrt(32) * 2 + 1e-6)),
      32,
      'f16 vs f32',
    );
    let differs = false;
    for (let i = 0; i < lo.length; i++) if (lo[i] !== hi[i]) differs = true;
    expect(differs, 'f16 compute must actually round (else this test proves nothing)').toBe(true);
  });
});

describe('f16 storage (f16 inputs and outputs)', () => {
  test('f32 or f16 compute: within the bound against the float64 result on the original f32 values', async () => {
    await fc.assert(
      fc.asyncProperty(dimsArb, fc.boolean(), ampArb, fc.constantFrom('f32', 'f16'), fc.integer(), async (dims, causal, amp, compute, seed) => {
        const g16 = attention('f16', causal);
        const g32 = attention('f32', causal);
        const x = inputs(dims, seed, amp);
        const want = interpret(g32, x, dimsOf(g32, dims)).o!.data; // the original values, not the f16 ones
        const c = compile(g16, { compute: compute as 'f32' | 'f16', ...FIXED });
        const got = (await c.run(x, dimsOf(g16, dims))).outputs.o!.data;
        expect(c.plan.buffers.filter((b) => b.role !== 'temp').every((b) => b.dtype === 'f16')).toBe(true);
        // f32 math: q and k rounded on the host (2 roundings), v rounded (1); f16 math adds the operand and product roundings
        const r = compute === 'f16' ? { qkRoundings: 3, pvRoundings: 3 } : { qkRoundings: 2, pvRoundings: 1 };
        // the output is stored as f16 too: u16·|o| + η
        const bound = gqaBounds(dims, x, r).map((v, i) => v + U16 * (Math.abs(want[i]!) + v) + ETA16);
        expectWithin(got, want, bound, Math.max(dims.t, dims.d), `f16 storage, ${compute} compute, ${JSON.stringify(dims)}`);
      }),
      { numRuns: 20 },
    );
  });

  test("storage: 'f16' stores a built-in variant's f32 inputs and outputs as f16: the same results as f16 declarations", async () => {
    const dims = { b: 1, h: 4, g: 2, s: 20, t: 33, d: 32, dv: 16 };
    const x = inputs(dims, 21, 1);
    const c = compile(gqa({ causal: true }), { storage: 'f16', ...FIXED });
    const got = (await c.run(x, dims)).outputs.o!.data;
    expect(c.plan.buffers.filter((b) => b.role !== 'temp').map((b) => `${b.name}:${b.dtype}`)).toEqual(['q:f16', 'k:f16', 'v:f16', 'o:f16']);
    const declared = (await compile(attention('f16', true), FIXED).run(x, dimsOf(attention('f16', true), dims))).outputs.o!.data;
    expect(Array.from(got)).toEqual(Array.from(declared));
    const want = interpret(gqa({ causal: true }), x, dims).o!.data;
    const bound = gqaBounds(dims, x, { qkRoundings: 2, pvRoundings: 1 }).map((b, i) => b + U16 * (Math.abs(want[i]!) + b) + ETA16);
    expectWithin(got, want, bound, 33, "storage: 'f16'");
  });

  test('an f16 graph with an f16 KV cache decodes within the bound (kv_len masks the rest)', async () => {
    const dims = { b: 2, h: 4, g: 4, s: 1, t: 37, d: 64, dv: 64 };
    const q = input('q', 'b h s d', 'f16');
    const k = input('k', 'b h t d', 'f16');
    const v = input('v', 'b h t dv', 'f16');
    const len = input('kv_len', 'b', 'i32', { max: 't' });
    const p = einsum('b h s d, b h t d -> b h s t', q, k)
      .mul(size('d').rsqrt().cast('f16'))
      .softmax('t', { mask: index('t').lt(len) });
    const g = graph('dec16', { o: einsum('b h s t, b h t dv -> b h s dv', p, v) });
    const x = { ...inputs(dims, 4, 1), kv_len: randInt(rng(1), 2, 1, 37) };
    const ref = mha({ cache: true });
    const want = interpret(ref, x, dimsOf(ref, dims)).o!.data;
    const got = (await compile(g, FIXED).run(x, dimsOf(g, dims))).outputs.o!.data;
    const bound = gqaBounds(dims, x, { qkRoundings: 2, pvRoundings: 1 }).map((b, i) => b + U16 * (Math.abs(want[i]!) + b) + ETA16);
    expectWithin(got, want, bound, 64, 'f16 cache decode');
  });
});
