/**
 * int8 KV caches: the append step (quantise, write at kv_len, whole words), the dequantising
 * attention kernels, and the quantisation error propagated through attention, against the
 * float64 interpreter and loop implementations. Bounds: bounds.ts; layout: docs/PRECISION.md.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { compile, type EinattnError, einsum, graph, input, interpret, type Graph } from '../../src/index.ts';
import { appendInt8, quantizeInt8 } from '../../src/dsl/index.ts';
import { closeRuntime, getRuntime, runPlan } from '../../src/runtime/index.ts';
import { checkAppendRoom, gqa, kvAppendInt8, mla } from '../../src/variants/index.ts';
import { randInt, randn, rng } from '../variants/reference.ts';
import { gqaBounds } from './bounds.ts';
import { expectWithin, SMALL, rejects } from './check.ts';

beforeAll(async () => {
  await getRuntime(); // no adapter → the suite fails here with the reason
});
afterAll(closeRuntime);

/** Random shapes share one small schedule (see SMALL); the decode loop uses the default one. */
const FIXED = SMALL;

/** Dequantisation error per element: half a step, plus the f32 division's 2.5 ulp on |x / scale| ≤ 127 (< 2^-14). */
const QHALF = 0.5 + 2 ** -14;

type Dims = { b: number; g: number; s: number; t: number; d: number; dv: number };
const count = (axes: string, d: Record<string, number>) => axes.split(' ').reduce((p, a) => p * d[a]!, 1);
const _dimsOf = (g: Graph, d: Record<string, number>) => Object.fromEntries(Object.entries(d).filter(([k]) => g.sizes.includes(k)));

function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Loop implementation of absmax int8 quantisation of rows of length n. */
function quantRows(x: ArrayLike<number>, n: number): { q: number[]; scale: number[] } {
  const q: number[] = [];
  const scale: number[] = [];
  for (let r = 0; r * n < x.length; r++) {
    let amax = 0;
    for (let i = 0; i < n; i++) amax = Math.max(amax, Math.abs(x[r * n + i]!));
    const s = amax / 127;
    scale.push(s);
    for (let i = 0; i < n; i++) q.push(amax > 0 ? Math.min(127, Math.max(-128, roundHalfEven(x[r * n + i]! / s))) || 0 : 0); // no -0 in an integer
  }
  return { q, scale };
}

/** Loop implementation of the append: rows [B, G, S, n] written into a cache [B, G, T, n] at kvLen[b]. */
function appendLoop(
  cache: { q: ArrayLike<number>; scale: ArrayLike<number> },
  rows: ArrayLike<number>,
  kvLen: ArrayLike<number>,
  dims: { b: number; g: number; s: number; t: number },
  n: number,
) {
  const q = Array.from(cache.q);
  const scale = Array.from(cache.scale);
  const nq = quantRows(rows, n);
  for (let b = 0; b < dims.b; b++)
    for (let g = 0; g < dims.g; g++)
      for (let j = 0; j < dims.s; j++) {
        const pos = kvLen[b]! + j;
        if (pos >= dims.t) continue;
        const src = (b * dims.g + g) * dims.s + j;
        const dst = (b * dims.g + g) * dims.t + pos;
        scale[dst] = nq.scale[src]!;
        for (let i = 0; i < n; i++) q[dst * n + i] = nq.q[src * n + i]!;
      }
  return { q, scale };
}

function cacheInputs(dims: Dims, seed: number, amp = 1) {
  const r = rng(seed);
  const kvLen = Int32Array.from({ length: dims.b }, () => Math.floor(r() * (dims.t - dims.s + 1)));
  return {
    k_q: Int8Array.from(randInt(r, count('b g t d', dims), -127, 127)),
    k_scale: randn(r, count('b g t', dims)).map(Math.abs),
    v_q: Int8Array.from(randInt(r, count('b g t dv', dims), -127, 127)),
    v_scale: randn(r, count('b g t', dims)).map(Math.abs),
    k_new: randn(r, count('b g s d', dims), amp),
    v_new: randn(r, count('b g s dv', dims), amp),
    kv_len: kvLen,
  };
}

const appendDimsArb = fc
  .record({
    b: fc.integer({ min: 1, max: 2 }),
    g: fc.integer({ min: 1, max: 3 }),
    t: fc.integer({ min: 1, max: 21 }),
    d: fc.integer({ min: 1, max: 9 }), // odd sizes: appended rows start inside a 32-bit word
    dv: fc.integer({ min: 1, max: 6 }),
    s: fc.integer({ min: 1, max: 4 }),
  })
  .map((x) => ({ ...x, s: Math.min(x.s, x.t) }));

describe('the append step (kvAppendInt8)', () => {
  const g = kvAppendInt8('gqa');

  test('the interpreter equals a loop implementation (absmax per row, half to even, written at kv_len)', () => {
    fc.assert(
      fc.property(appendDimsArb, fc.integer(), fc.constantFrom(0.01, 1, 50), (dims, seed, amp) => {
        const x = cacheInputs(dims, seed, amp);
        const got = interpret(g, x, dims);
        const k = appendLoop({ q: x.k_q, scale: x.k_scale }, x.k_new, x.kv_len, dims, dims.d);
        const v = appendLoop({ q: x.v_q, scale: x.v_scale }, x.v_new, x.kv_len, dims, dims.dv);
        expect(Array.from(got.k_q_next!.data)).toEqual(k.q);
        expect(Array.from(got.k_scale_next!.data)).toEqual(k.scale);
        expect(Array.from(got.v_q_next!.data)).toEqual(v.q);
        expect(Array.from(got.v_scale_next!.data)).toEqual(v.scale);
      }),
      { numRuns: 100 },
    );
  });

  test('on the GPU: old positions bit for bit unchanged (whole-word writes), new ones within half a step', async () => {
    const c = compile(g);
    await fc.assert(
      fc.asyncProperty(appendDimsArb, fc.integer(), fc.constantFrom(0.01, 1, 50), async (dims, seed, amp) => {
        const x = cacheInputs(dims, seed, amp);
        const ref = interpret(g, x, dims);
        const out = (await c.run(x, dims)).outputs;
        expect(out.k_q_next!.data).toBeInstanceOf(Int8Array);
        for (const [name, n] of [
          ['k', dims.d],
          ['v', dims.dv],
        ] as const) {
          const oldQ = x[`${name}_q`];
          const oldS = x[`${name}_scale`];
          const rows = x[`${name}_new`];
          const q = out[`${name}_q_next`]!.data;
          const sc = out[`${name}_scale_next`]!.data;
          const refQ = ref[`${name}_q_next`]!.data;
          for (let b = 0; b < dims.b; b++)
            for (let gg = 0; gg < dims.g; gg++)
              for (let t = 0; t < dims.t; t++) {
                const row = (b * dims.g + gg) * dims.t + t;
                const j = t - x.kv_len[b]!;
                if (j < 0 || j >= dims.s) {
                  expect(Object.is(sc[row], oldS[row]), `${name}_scale [b=${b} g=${gg} t=${t}] kept`).toBe(true);
                  for (let i = 0; i < n; i++) expect(q[row * n + i], `${name}_q [b=${b} g=${gg} t=${t} ${i}] kept`).toBe(oldQ[row * n + i]);
                  continue;
                }
                const src = (b * dims.g + gg) * dims.s + j;
                let amax = 0;
                for (let i = 0; i < n; i++) amax = Math.max(amax, Math.abs(rows[src * n + i]!));
                // amax / 127 in f32: within WGSL's 2.5 ulp for division
                expect(Math.abs(sc[row]! - amax / 127)).toBeLessThanOrEqual(3 * 2 ** -23 * (amax / 127));
                for (let i = 0; i < n; i++) {
                  const qi = q[row * n + i]!;
                  expect(Math.abs(qi)).toBeLessThanOrEqual(127);
                  // f32 (GPU) and float64 (interpreter) may round a near-tie apart, by one step at most
                  expect(Math.abs(qi - refQ[row * n + i]!)).toBeLessThanOrEqual(1);
                  expect(Math.abs(qi * sc[row]! - rows[src * n + i]!)).toBeLessThanOrEqual(sc[row]! * QHALF);
                }
              }
        }
      }),
      { numRuns: 30 },
    );
  });

  test('rows that start and end inside a word (d = 3): every neighbouring byte survives', async () => {
    const dims = { b: 1, g: 1, s: 3, t: 7, d: 3, dv: 5 };
    const x = cacheInputs(dims, 1);
    x.k_q.fill(-99); // a pattern that a byte-wise race or a misplaced shift would disturb
    x.kv_len[0] = 2; // rows 2..4: bytes 6..14, words 1..3 are shared with old rows
    const out = (await compile(g).run(x, dims)).outputs;
    const q = Array.from(out.k_q_next!.data);
    const want = appendLoop({ q: x.k_q, scale: x.k_scale }, x.k_new, x.kv_len, dims, 3).q;
    expect(q.slice(0, 6)).toEqual(Array(6).fill(-99));
    expect(q.slice(15)).toEqual(Array(6).fill(-99));
    for (let i = 6; i < 15; i++) expect(Math.abs(q[i]! - want[i]!)).toBeLessThanOrEqual(1);
  });

  test('checkAppendRoom names kv_len and the capacity; appendInt8 names mismatched axes', () => {
    expect(() => checkAppendRoom([3, 9], { s: 2, t: 10 })).toThrow(
      "input 'kv_len' has 9 at [b=1]: appending s = 2 rows needs 0 <= kv_len <= t - s = 8 (capacity t = 10)",
    );
    expect(() => checkAppendRoom([8], { s: 2, t: 10 })).not.toThrow();
    const kq = input('k_q', 'b g t d', 'i8');
    const len = input('kv_len', 'b', 'i32', { max: 't' });
    const err = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e as EinattnError;
      }
      throw new Error('expected an error');
    };
    const e1 = err(() => appendInt8({ q: kq, scale: input('k_scale', 'b t') }, input('k_new', 'b g s d'), len, { token: 't', rows: 's', axis: 'd' }));
    expect(e1.code).toBe('AXIS_MISMATCH');
    expect(e1.message).toContain("the cache scales have axes [b t]; one scale per row along 'd' needs [b g t]");
    const e2 = err(() => appendInt8({ q: kq, scale: input('k_scale', 'b g t') }, input('k_new', 'b s g d'), len, { token: 't', rows: 's', axis: 'd' }));
    expect(e2.message).toContain('the cache has axes [b g t d] but the new rows [b s g d] need a cache [b t g d]');
    const e3 = err(() => einsum('b g t d, b g t d -> b g t', kq, kq));
    expect(e3.code).toBe('DTYPE');
    expect(e3.message).toContain('dequantise int8 first: k_q.mul(k_scale)');
  });
});

describe('new ops on the GPU agree with the interpreter', () => {
  test('round (half to even) and the saturating cast to i8', async () => {
    const x = input('x', 'i');
    const g = graph('ops', { r: x.round(), c: x.cast('i8'), w: x.round().cast('i8').mul(2) });
    const v = Float32Array.from([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5, 2.4999, -7.7, 126.6, 127.6, -128.9, 300, -1e6]);
    const want = interpret(g, { x: v }, { i: v.length });
    const got = (await compile(g).run({ x: v }, { i: v.length })).outputs;
    expect(Array.from(want.r!.data)).toEqual([-2, -2, -0, 0, 2, 2, 4, 2, -8, 127, 128, -129, 300, -1e6]);
    expect(Array.from(want.c!.data)).toEqual([-2, -1, 0, 0, 1, 2, 3, 2, -7, 126, 127, -128, 127, -128]);
    for (const k of ['r', 'c', 'w']) expect(Array.from(got[k]!.data), k).toEqual(Array.from(want[k]!.data));
    expect(got.c!.data).toBeInstanceOf(Int8Array);
  });
});

describe('attention over an int8 cache', () => {
  test('exactly representable caches (integers times a power of two) equal the f32 result to f32 precision', async () => {
    const dims = { b: 2, h: 8, g: 2, s: 1, t: 45, d: 24, dv: 20 };
    const r = rng(3);
    const pow2 = (n: number) => Float32Array.from({ length: n }, () => 2 ** -(3 + Math.floor(r() * 6)));
    const x8 = {
      q: randn(r, count('b h s d', dims)),
      k_q: Int8Array.from(randInt(r, count('b g t d', dims), -127, 127)),
      k_scale: pow2(count('b g t', dims)),
      v_q: Int8Array.from(randInt(r, count('b g t dv', dims), -127, 127)),
      v_scale: pow2(count('b g t', dims)),
      kv_len: Int32Array.from([45, 17]),
    };
    const deq = (q: Int8Array, s: Float32Array, n: number) => Float32Array.from(q, (v, i) => v * s[Math.floor(i / n)]!);
    const x32 = { q: x8.q, k: deq(x8.k_q, x8.k_scale, dims.d), v: deq(x8.v_q, x8.v_scale, dims.dv), kv_len: x8.kv_len };
    const a = (await compile(gqa({ int8: true, causal: true, cache: true }), FIXED).run(x8, dims)).outputs.o!.data;
    const b = (await compile(gqa({ causal: true, cache: true }), FIXED).run(x32, dims)).outputs.o!.data;
    const want = interpret(gqa({ causal: true, cache: true }), x32, dims).o!.data;
    expectWithin(a, b, new Float64Array(a.length), 45, 'int8 vs f32 on the same values');
    expectWithin(a, want, new Float64Array(a.length), 45, 'int8 vs the interpreter');

    // MLA decode (absorbed) over an int8 latent cache
    const md = { b: 2, h: 4, s: 1, t: 30, dn: 16, dr: 8, dc: 32, dv: 16 };
    const m8 = {
      q_nope: randn(r, count('b h s dn', md)),
      q_rope: randn(r, count('b h s dr', md)),
      c_kv_q: Int8Array.from(randInt(r, count('b t dc', md), -127, 127)),
      c_kv_scale: pow2(count('b t', md)),
      k_rope_q: Int8Array.from(randInt(r, count('b t dr', md), -127, 127)),
      k_rope_scale: pow2(count('b t', md)),
      w_uk: randn(r, count('dc h dn', md), 0.2),
      w_uv: randn(r, count('dc h dv', md), 0.2),
      kv_len: Int32Array.from([30, 9]),
    };
    const { c_kv_q, c_kv_scale, k_rope_q, k_rope_scale, ...rest } = m8;
    const m32 = { ...rest, c_kv: deq(c_kv_q, c_kv_scale, md.dc), k_rope: deq(k_rope_q, k_rope_scale, md.dr) };
    const opts = { absorbed: true, causal: true, cache: true };
    const ma = (await compile(mla({ ...opts, int8: true }), FIXED).run(m8, md)).outputs.o!.data;
    const mb = (await compile(mla(opts), FIXED).run(m32, md)).outputs.o!.data;
    expectWithin(ma, mb, new Float64Array(ma.length), 512, 'mla int8 vs f32 on the same values');
  });

  test('quantise (the GPU append step) then attend: within the quantisation bound of the f32 attention on the original K and V', async () => {
    const append = compile(kvAppendInt8('gqa'));
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          b: fc.integer({ min: 1, max: 2 }),
          g: fc.integer({ min: 1, max: 2 }),
          r: fc.integer({ min: 1, max: 4 }),
          t: fc.integer({ min: 1, max: 40 }),
          d: fc.integer({ min: 1, max: 40 }),
          dv: fc.integer({ min: 1, max: 24 }),
        }),
        fc.constantFrom('f32', 'f16'),
        fc.constantFrom(0.3, 1, 4),
        fc.integer(),
        async ({ r: reps, ...base }, compute, amp, seed) => {
          const dims = { ...base, h: base.g * reps, s: base.t };
          const r = rng(seed);
          const k = randn(r, count('b g t d', dims), amp);
          const v = randn(r, count('b g t dv', dims), amp);
          // fill the whole cache (capacity t) in one append at kv_len = 0
          const zeros = {
            k_q: new Int8Array(k.length),
            k_scale: new Float32Array(count('b g t', dims)),
            v_q: new Int8Array(v.length),
            v_scale: new Float32Array(count('b g t', dims)),
          };
          const cache = (
            await append.run(
              { ...zeros, k_new: k, v_new: v, kv_len: new Int32Array(dims.b) },
              { b: dims.b, g: dims.g, s: dims.t, t: dims.t, d: dims.d, dv: dims.dv },
            )
          ).outputs;
          const decode = { ...dims, s: 1 };
          const q = randn(r, count('b h s d', decode), amp);
          const kvLen = Int32Array.from({ length: dims.b }, () => 1 + Math.floor(r() * dims.t));
          const x8 = {
            q,
            k_q: cache.k_q_next!.data,
            k_scale: cache.k_scale_next!.data,
            v_q: cache.v_q_next!.data,
            v_scale: cache.v_scale_next!.data,
            kv_len: kvLen,
          };
          const g8 = gqa({ int8: true, causal: true, cache: true });
          const got = (await compile(g8, { compute: compute as 'f32' | 'f16', ...FIXED }).run(x8, decode)).outputs.o!.data;
          const ref = gqa({ causal: true, cache: true });
          const want = interpret(ref, { q, k, v, kv_len: kvLen }, decode).o!.data;
          const sk = x8.k_scale as Float32Array;
          const sv = x8.v_scale as Float32Array;
          const rounds = compute === 'f16' ? 3 : 0;
          const bound = gqaBounds(
            decode,
            { q, k, v },
            {
              qkRoundings: rounds,
              pvRoundings: rounds,
              kErr: (b, g, j) => sk[(b * dims.g + g) * dims.t + j]! * QHALF,
              vErr: (b, g, j) => sv[(b * dims.g + g) * dims.t + j]! * QHALF,
            },
          );
          expectWithin(got, want, bound, Math.max(dims.t, dims.d), `int8 KV, ${compute} compute, ${JSON.stringify(decode)}`);
        },
      ),
      { numRuns: 15 },
    );
  });

  test('a decode loop: append one token, attend, repeat; every step within the bound of f32 attention over the original rows', async () => {
    const dims = { b: 1, h: 4, g: 2, t: 12, d: 16, dv: 16 };
    const append = compile(kvAppendInt8('gqa'));
    const attend = compile(gqa({ int8: true, causal: true, cache: true }));
    const r = rng(9);
    const K = randn(r, count('b g t d', dims));
    const V = randn(r, count('b g t dv', dims));
    let cache: { k_q: Int8Array; k_scale: Float32Array; v_q: Int8Array; v_scale: Float32Array } = {
      k_q: new Int8Array(K.length),
      k_scale: new Float32Array(dims.g * dims.t),
      v_q: new Int8Array(V.length),
      v_scale: new Float32Array(dims.g * dims.t),
    };
    for (let len = 0; len < dims.t; len++) {
      // the new token's K/V rows, [b g s d] with s = 1
      const row = (x: Float32Array, n: number) => Float32Array.from({ length: dims.g * n }, (_, i) => x[(Math.floor(i / n) * dims.t + len) * n + (i % n)]!);
      checkAppendRoom([len], { s: 1, t: dims.t });
      const next = (
        await append.run(
          { ...cache, k_new: row(K, dims.d), v_new: row(V, dims.dv), kv_len: [len] },
          { b: 1, g: dims.g, s: 1, t: dims.t, d: dims.d, dv: dims.dv },
        )
      ).outputs;
      cache = {
        k_q: next.k_q_next!.data as Int8Array,
        k_scale: next.k_scale_next!.data as Float32Array,
        v_q: next.v_q_next!.data as Int8Array,
        v_scale: next.v_scale_next!.data as Float32Array,
      };
      const q = randn(r, dims.h * dims.d);
      const d1 = { ...dims, s: 1 };
      const got = (await attend.run({ q, ...cache, kv_len: [len + 1] }, d1)).outputs.o!.data;
      const want = interpret(gqa({ causal: true, cache: true }), { q, k: K, v: V, kv_len: [len + 1] }, d1).o!.data;
      const bound = gqaBounds(
        d1,
        { q, k: K, v: V },
        {
          qkRoundings: 0,
          pvRoundings: 0,
          kErr: (_, g, j) => cache.k_scale[g * dims.t + j]! * QHALF,
          vErr: (_, g, j) => cache.v_scale[g * dims.t + j]! * QHALF,
        },
      );
      expectWithin(got, want, bound, dims.t, `decode step ${len}`);
    }
  });
});

describe('bad int8 inputs are named', () => {
  const g = gqa({ int8: true, cache: true });
  const dims = { b: 1, h: 2, g: 1, s: 1, t: 2, d: 2, dv: 2 };
  const ok = () => ({
    q: new Float32Array(4),
    k_q: new Int8Array(4),
    k_scale: new Float32Array(2),
    v_q: new Int8Array(4),
    v_scale: new Float32Array(2),
    kv_len: Int32Array.of(2),
  });

  test('wrong host array types', async () => {
    const c = compile(g);
    const e1 = await rejects(c.run({ ...ok(), k_q: new Uint8Array(4) as never }, dims));
    expect(e1.message).toBe("input 'k_q' is i8: pass an Int8Array (or numbers in -128..127), not a Uint8Array");
    const e2 = await rejects(c.run({ ...ok(), v_q: Float32Array.of(1, 0.5, 0, 0) }, dims));
    expect(e2.message).toBe("input 'v_q' is i8 (integers -128..127) but value 1 is 0.5");
    const e3 = await rejects(c.run({ ...ok(), k_q: [0, 200, 0, 0] }, dims));
    expect(e3.code).toBe('BAD_INPUT');
    expect(e3.message).toContain('value 1 is 200');
    // the runtime, used directly (generated modules), checks the class
    const e4 = await rejects(runPlan(c.planFor(dims), { ...ok(), k_q: new Float32Array(4) } as never, dims));
    expect(e4.message).toContain("input 'k_q' expects i8 [b=1, g=1, t=2, d=2] = 4 elements as a Int8Array, got Float32Array of length 4");
  });

  test('scale shape mismatches name the tensor and its axes', async () => {
    const c = compile(g);
    const e = await rejects(c.run({ ...ok(), k_scale: new Float32Array(4) }, dims));
    expect(e.code).toBe('BAD_INPUT');
    expect(e.message).toContain("input 'k_scale' expects f32 [b=1, g=1, t=2] = 2 elements");
    expect(() => interpret(g, { ...ok(), v_scale: new Float32Array(3) }, dims)).toThrow("input 'v_scale' has 3 values; expected f32[b=1 g=1 t=2] (2 values)");
    // a scale declared with the wrong axes is an einsum / broadcast of its own: the graph names it
    expect(() => quantizeInt8(input('x', 'b t d'), 'e' as never)).toThrow("quantizeInt8: axis 'e' is not an axis of the tensor [b t d]");
  });
});
