/**
 * sigmoid, elu, floor, clamp, cumsum, topk and topkMask lowered to WGSL and run on the GPU,
 * against the float64 interpreter: the edge cases (sigmoid at ±100 and ±inf, a cumsum over one
 * element and over 5000, top-k with ties, -inf and NaN entries and k = m), the kernels' shape
 * (one pass per row for a scan) and the errors a dispatch gets.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { compile } from '../../src/compile.ts';
import {
  clamp,
  constant,
  cumsum,
  elu,
  floor,
  graph,
  index,
  input,
  interpret,
  sigmoid,
  topk,
  topkMask,
  where,
  type Graph,
  type Tensor,
} from '../../src/index.ts';
import { lower } from '../../src/lower/index.ts';
import { closeRuntime, getRuntime } from '../../src/runtime/index.ts';

beforeAll(async () => {
  await getRuntime();
});
afterAll(closeRuntime);

type Inputs = Record<string, Float32Array | Int32Array>;

/** GPU and interpreter outputs of `g`. */
async function both(g: Graph, inputs: Inputs, dims: Record<string, number>) {
  const want = interpret(g, inputs, dims);
  const got = (await compile(g).run(inputs, dims)).outputs;
  return Object.fromEntries(Object.keys(want).map((k) => [k, { want: Array.from(want[k]!.data), got: Array.from(got[k]!.data) }]));
}

/** Elementwise agreement: non-finite values identical, finite ones within `tol(i)`. */
function expectAgree(r: { want: number[]; got: number[] }, tol: (i: number) => number, what = '') {
  expect(r.got.length).toBe(r.want.length);
  r.want.forEach((w, i) => {
    const g = r.got[i]!;
    if (!Number.isFinite(w)) expect(Object.is(g, w) || (Number.isNaN(w) && Number.isNaN(g)), `${what} element ${i}: GPU ${g}, interpreter ${w}`).toBe(true);
    else expect(Math.abs(g - w), `${what} element ${i}: GPU ${g}, interpreter ${w}`).toBeLessThanOrEqual(tol(i));
  });
}

const f32 = (xs: number[]) => Float32Array.from(xs);
/** Deterministic values in [-1, 1], exact in f32. */
const wave = (n: number, seed = 1) => Float32Array.from({ length: n }, (_, i) => Math.fround(Math.sin(i * 12.9898 + seed * 78.233)));
const U = 2 ** -24; // unit roundoff of f32

describe('unary ops on the GPU', () => {
  const X = f32([-1000, -100, -20, -1e-3, 0, 1e-3, 20, 100, 1000, -Infinity, Infinity, 2.5, -2.5, NaN]);

  test('sigmoid at ±100, ±1000 and ±inf is finite and matches (no exp overflow to NaN)', async () => {
    const r = await both(graph('sig', { y: sigmoid(input('x', 'i')) }), { x: X }, { i: X.length });
    // 4 ulps of the result, and absolute 2^-126 (subnormals may flush to zero)
    expectAgree(r.y!, (i) => 4 * U * Math.abs(r.y!.want[i]!) + 2 ** -126);
    expect(r.y!.got.slice(0, -1).every(Number.isFinite)).toBe(true);
    expect(r.y!.got.slice(7, 9)).toEqual([1, 1]);
  });

  test('elu and floor, in f32 and i32; clamp with tensor bounds', async () => {
    const x = input('x', 'i');
    const n = input('n', 'i', 'i32');
    const g = graph('un', { e: elu(x), f: floor(x), fi: floor(n), c: clamp(x, input('lo', 'i'), 1), ci: n.clamp(-2, 3) });
    const r = await both(g, { x: X, n: Int32Array.from(X, (v, i) => (Number.isFinite(v) ? Math.trunc(v) : i)), lo: wave(X.length) }, { i: X.length });
    expectAgree(r.e!, (i) => 4 * U * Math.max(1, Math.abs(r.e!.want[i]!)), 'elu');
    for (const k of ['f', 'fi', 'ci']) expectAgree(r[k]!, () => 0, k);
    // clamp of NaN follows min/max, which WGSL leaves to the implementation: finite inputs only
    expectAgree({ want: r.c!.want.slice(0, -1), got: r.c!.got.slice(0, -1) }, () => 0, 'clamp');
  });
});

describe('cumsum on the GPU', () => {
  /** The f32 error bound of a running sum: γ_(i+1) · Σ_{j ≤ i} |x_j| per row. */
  const bound = (x: Float32Array, t: number) => {
    const out: number[] = [];
    for (let r = 0; r < x.length / t; r++) {
      let abs = 0;
      for (let i = 0; i < t; i++) out.push((((i + 1) * U) / (1 - (i + 1) * U)) * (abs += Math.abs(x[r * t + i]!)));
    }
    return out;
  };

  test('over a length-1 axis and over 5000 elements, within the f32 running-sum bound', async () => {
    for (const t of [1, 5000]) {
      const x = wave(3 * t, t);
      const r = await both(graph('scan', { c: input('x', 'r t').cumsum('t') }), { x }, { r: 3, t });
      const tol = bound(x, t);
      expectAgree(r.c!, (i) => tol[i]!, `t = ${t}`);
    }
  });

  test('a middle axis, a fused operand and epilogue, i32 (wrapping) and non-finite values', async () => {
    const x = input('x', 'a t b');
    const xs = wave(2 * 7 * 3);
    xs[5] = -Infinity;
    xs[20] = NaN;
    const n = input('n', 't', 'i32');
    const g = graph('scans', { c: x.mul(2).cumsum('t').add(1), ci: cumsum(n, 't') });
    const r = await both(g, { x: xs, n: Int32Array.from([2147483647, 1, 5, -7, 0, 3, 9]) }, { a: 2, t: 7, b: 3 });
    expectAgree(r.c!, (i) => 16 * U * (1 + Math.abs(r.c!.want[i]!)) * 8, 'c');
    expectAgree(r.ci!, () => 0, 'ci');
  });

  test('one kernel that loops once along the axis per row (O(t)), the epilogue fused', () => {
    const plan = lower(graph('one', { c: cumsum(input('x', 'b h t'), 't').mul(2) }));
    expect(plan.kernels).toHaveLength(1);
    const wgsl = plan.kernels[0]!.wgsl;
    expect(wgsl.match(/for \(/g)).toHaveLength(1);
    expect(wgsl).toMatch(/for \(var _t: u32 = 0u; _t < _sz\.t; _t\+\+\)/);
    expect(plan.kernels[0]!.workgroups).toEqual(['cdiv', ['*', 1, 'b', 'h'], 64]);
  });
});

describe('topk on the GPU', () => {
  const rank = async (rows: number[][], k: number, extra: (x: Tensor<['r', 'm']>) => Record<string, Tensor<any>> = () => ({})) => {
    const x = input('x', 'r m');
    const g = graph('top', { i: topk(x, 'm', k, 'j'), ...extra(x) });
    return both(g, { x: f32(rows.flat()) }, { r: rows.length, m: rows[0]!.length });
  };

  test('ties go to the lower position, -inf and NaN rank last, k = m sorts the row', async () => {
    const rows = [
      [3, 1, 3, 3, 2, 1],
      [-Infinity, 5, -Infinity, NaN, 5, -1],
      [NaN, NaN, NaN, NaN, NaN, NaN],
      [0, -0, 7, Infinity, -Infinity, 7],
    ];
    for (const k of [1, 3, 6]) {
      const r = await rank(rows, k);
      expect(r.i!.got, `k = ${k}`).toEqual(r.i!.want);
    }
    expect((await rank(rows, 6)).i!.got.slice(6, 12)).toEqual([1, 4, 5, 0, 2, 3]);
  });

  test('the positions gather values; the mask keeps only finite entries when fewer than k are', async () => {
    const rows = [
      [1, -Infinity, 4, 4, -Infinity],
      [-Infinity, -Infinity, 2, -Infinity, -Infinity],
      [9, 8, 7, 6, 5],
    ];
    const r = await rank(rows, 3, (x) => ({
      v: x.gather('m', x.topk('m', 3, 'j')),
      mask: where(topkMask(x, 'm', 3), 1, 0),
      none: where(x.topkMask('m', 0), 1, 0),
    }));
    for (const k of ['i', 'v', 'mask', 'none']) expect(r[k]!.got, k).toEqual(r[k]!.want);
    expect(r.mask!.got).toEqual([1, 0, 1, 1, 0, /**/ 0, 0, 1, 0, 0, /**/ 1, 1, 1, 0, 0]);
  });

  test('an inlined operand (MoBA-style: later blocks masked with -inf), an i32 operand and an epilogue', async () => {
    const gate = input('gate', 's m');
    const [s, m] = [index('s'), index('m')];
    const earlier = where(m.lt(s), gate, -Infinity);
    const keep = topkMask(earlier, 'm', 2).or(m.eq(s));
    const n = input('n', 'm s', 'i32');
    const g = graph('moba', {
      keep: where(keep, 1, 0),
      at: earlier.topk('m', 2, 'j').mul(10).add(constant(1, 'i32')),
      ni: n.topk('m', 4, 'j4'),
    });
    const r = await both(g, { gate: wave(5 * 5), n: Int32Array.from({ length: 25 }, (_, i) => ((i * 7) % 5) - 2) }, { s: 5, m: 5 });
    for (const k of ['keep', 'at', 'ni']) expect(r[k]!.got, k).toEqual(r[k]!.want);
    // query block 0 has no earlier block: only its own
    expect(r.keep!.got.slice(0, 5)).toEqual([1, 0, 0, 0, 0]);
  });

  test('k larger than the axis: the positions past it are -1, and topkMask keeps every finite entry', async () => {
    const x0 = input('x', 'r m');
    const g = graph('big', { i: topk(x0, 'm', 4, 'j'), keep: where(topkMask(x0, 'm', 5), 1, 0) });
    const x = f32([1, -Infinity, 3]);
    const got = await compile(g).run({ x }, { r: 1, m: 3 });
    expect(Array.from(got.outputs.i!.data)).toEqual([2, 0, 1, -1]);
    expect(Array.from(got.outputs.keep!.data)).toEqual([1, 0, 1]);
    expect(Array.from(interpret(g, { x }, { r: 1, m: 3 }).i!.data)).toEqual([2, 0, 1, -1]);
  });

  test('several positions past the axis are all -1, on every row', async () => {
    const g = graph('past', { i: topk(input('x', 'r m'), 'm', 6, 'j') });
    const r = await both(g, { x: f32([1, -Infinity, 3, /**/ 0, 0, 5]) }, { r: 2, m: 3 });
    expect(r.i!.got).toEqual([2, 0, 1, -1, -1, -1, /**/ 2, 0, 1, -1, -1, -1]);
    expect(r.i!.got).toEqual(r.i!.want);
  });
});
