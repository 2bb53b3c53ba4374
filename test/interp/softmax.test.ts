/** Softmax (masks, sinks, invariances) and multi-head attention against hand-written loops. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { index, input, softmax } from '../../src/index.ts';
import { mha } from '../../src/variants/mha.ts';
import { interpret } from '../../src/index.ts';
import { expectClose, floats, forAll, offset, product, run, size } from './helpers.ts';

const AXES = ['a', 'b', 'c'] as const;
type Dims = Record<(typeof AXES)[number], number>;

/** Logits over [a b c], a softmax axis, and a 0/1 mask over a random subset of the axes. */
const arb = fc
  .record({
    dims: fc.record({ a: size, b: size, c: size }),
    axis: fc.constantFrom(...AXES),
    maskAxes: fc.subarray([...AXES], { minLength: 0, maxLength: 3 }),
  })
  .chain(({ dims, axis, maskAxes }) =>
    fc.record({
      dims: fc.constant(dims),
      axis: fc.constant(axis),
      maskAxes: fc.constant(maskAxes),
      x: floats(dims.a * dims.b * dims.c),
      m: fc.array(fc.constantFrom(0, 1, 1), { minLength: product(maskAxes.map((a) => dims[a])), maxLength: product(maskAxes.map((a) => dims[a])) }),
    }),
  );

const shapeOf = (axes: readonly string[], dims: Dims) => axes.map((a) => dims[a as keyof Dims]);

/** Visits each softmax row: the row's named index (without `axis`) and its offsets into [a b c]. */
function rows(dims: Dims, axis: string, f: (row: Record<string, number>, offs: number[]) => void): void {
  const rowAxes = AXES.filter((a) => a !== axis);
  forAll(rowAxes, dims, (row) => {
    const offs = Array.from({ length: dims[axis as keyof Dims] }, (_, j) => offset(AXES, shapeOf(AXES, dims), { ...row, [axis]: j }));
    f(row, offs);
  });
}

describe('softmax', () => {
  it('rows sum to 1 and lie in [0, 1], along any axis', () => {
    fc.assert(
      fc.property(arb, ({ dims, axis, x }) => {
        const X = input('x', 'a b c');
        const r = run({ p: X.softmax(axis), q: softmax(X, axis) }, { x }, dims);
        expect(Array.from(r.q!.data)).toEqual(Array.from(r.p!.data));
        rows(dims, axis, (_, offs) => {
          const ps = offs.map((o) => r.p!.data[o]!);
          for (const p of ps) expect(p >= 0 && p <= 1).toBe(true);
          expect(Math.abs(ps.reduce((s, p) => s + p, 0) - 1)).toBeLessThan(1e-12);
          // and the values are exp(x - max) / Σ exp(x - max)
          const xs = offs.map((o) => x[o]!);
          const mx = Math.max(...xs);
          const den = xs.reduce((s, v) => s + Math.exp(v - mx), 0);
          expectClose(
            ps,
            xs.map((v) => Math.exp(v - mx) / den),
            1e-12,
          );
        });
      }),
      { numRuns: 150 },
    );
  });

  it('masked entries are exactly 0; a row with any entry left sums to 1; a fully masked row is all zeros, not NaN', () => {
    fc.assert(
      fc.property(arb, ({ dims, axis, maskAxes, x, m }) => {
        const X = input('x', 'a b c');
        const M = input('m', maskAxes.join(' '), 'i32');
        const r = run({ p: X.softmax(axis, { mask: M.ne(0) }) }, { x, m }, dims);
        rows(dims, axis, (row, offs) => {
          const live = offs.map((_, j) => m[offset(maskAxes, shapeOf(maskAxes, dims), { ...row, [axis]: j })] !== 0);
          const ps = offs.map((o) => r.p!.data[o]!);
          ps.forEach((p, j) => {
            if (!live[j]) expect(p).toBe(0);
          });
          for (const p of ps) expect(Number.isNaN(p)).toBe(false);
          const total = ps.reduce((s, p) => s + p, 0);
          if (live.some(Boolean)) expect(Math.abs(total - 1)).toBeLessThan(1e-12);
          else expect(ps.every((p) => p === 0)).toBe(true);
        });
      }),
      { numRuns: 150 },
    );
  });

  it('a fully masked row (by mask or by -Infinity logits) is all zeros', () => {
    const X = input('x', 's t');
    const [s, t] = [index('s'), index('t')];
    // row 0 masked by t < s (no t < 0), row 1 sees t = 0
    const r = run({ p: X.softmax('t', { mask: t.lt(s) }) }, { x: [1, 2, 3, 4, 5, 6] }, { s: 2, t: 3 });
    expect(Array.from(r.p!.data)).toEqual([0, 0, 0, 1, 0, 0]);
    const r2 = run({ p: X.softmax('t') }, { x: [-Infinity, -Infinity, -Infinity, 0, -Infinity, 0] }, { s: 2, t: 3 });
    expect(Array.from(r2.p!.data)).toEqual([0, 0, 0, 0.5, 0, 0.5]);
  });

  it('a sink lowers the row sum below 1 by exactly exp(sink - m) / denominator', () => {
    const sinkArb = fc
      .record({ h: size, s: size, t: size })
      .chain((dims) => fc.record({ dims: fc.constant(dims), x: floats(dims.h * dims.s * dims.t), sink: floats(dims.h), scalar: fc.boolean() }));
    fc.assert(
      fc.property(sinkArb, ({ dims, x, sink, scalar }) => {
        const X = input('x', 'h s t');
        const out = scalar ? X.softmax('t', { sink: sink[0]! }) : X.softmax('t', { sink: input('sink', 'h') });
        const r = run({ p: out }, scalar ? { x } : { x, sink }, dims);
        for (let h = 0; h < dims.h; h++)
          for (let s = 0; s < dims.s; s++) {
            const sk = scalar ? sink[0]! : sink[h]!;
            const xs = Array.from({ length: dims.t }, (_, t) => x[(h * dims.s + s) * dims.t + t]!);
            const ps = Array.from({ length: dims.t }, (_, t) => r.p!.data[(h * dims.s + s) * dims.t + t]!);
            const m = Math.max(sk, ...xs);
            const den = Math.exp(sk - m) + xs.reduce((acc, v) => acc + Math.exp(v - m), 0);
            const total = ps.reduce((acc, p) => acc + p, 0);
            expect(total).toBeLessThan(1);
            expect(Math.abs(1 - total - Math.exp(sk - m) / den)).toBeLessThan(1e-12);
            expectClose(
              ps,
              xs.map((v) => Math.exp(v - m) / den),
              1e-12,
            );
          }
      }),
      { numRuns: 100 },
    );
  });

  it('a -Infinity sink changes nothing', () => {
    const X = input('x', 's t');
    const r = run({ a: X.softmax('t', { sink: -Infinity }), b: X.softmax('t') }, { x: [1, 2, 3, 4, 5, 6] }, { s: 2, t: 3 });
    expect(Array.from(r.a!.data)).toEqual(Array.from(r.b!.data));
  });

  it('is invariant to adding a constant per row', () => {
    fc.assert(
      fc.property(
        arb.chain((c) => {
          const rowAxes = AXES.filter((a) => a !== c.axis);
          return fc.record({ c: fc.constant(c), shift: floats(product(rowAxes.map((a) => c.dims[a]))) });
        }),
        ({ c: { dims, axis, x }, shift }) => {
          const rowAxes = AXES.filter((a) => a !== axis).join(' ');
          const X = input('x', 'a b c');
          const C = input('shift', rowAxes);
          const r = run({ p: X.softmax(axis), q: X.add(C).softmax(axis) }, { x, shift }, dims);
          expect(r.q!.axes).toEqual(['a', 'b', 'c']);
          expectClose(r.q!.data, r.p!.data, 1e-12, undefined, 1e-15);
        },
      ),
      { numRuns: 100 },
    );
  });
});

/** Attention by loops: causal aligned to the end (query i sees keys j <= i + t - s). */
function loopAttention(q: number[], k: number[], v: number[], dims: { b: number; h: number; s: number; t: number; d: number }, causal: boolean): number[] {
  const { b: B, h: H, s: S, t: T, d: D } = dims;
  const o = new Array<number>(B * H * S * D).fill(0);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let i = 0; i < S; i++) {
        const scores: number[] = [];
        const allowed: boolean[] = [];
        for (let j = 0; j < T; j++) {
          let dot = 0;
          for (let d = 0; d < D; d++) dot += q[((b * H + h) * S + i) * D + d]! * k[((b * H + h) * T + j) * D + d]!;
          scores.push(dot / Math.sqrt(D));
          allowed.push(!causal || j <= i + T - S);
        }
        if (!allowed.some(Boolean)) continue; // a fully masked row gives zeros
        const m = Math.max(...scores.filter((_, j) => allowed[j]));
        const w = scores.map((x, j) => (allowed[j] ? Math.exp(x - m) : 0));
        const den = w.reduce((a, x) => a + x, 0);
        for (let d = 0; d < D; d++) {
          let acc = 0;
          for (let j = 0; j < T; j++) acc += (w[j]! / den) * v[((b * H + h) * T + j) * D + d]!;
          o[((b * H + h) * S + i) * D + d] = acc;
        }
      }
  return o;
}

describe('mha (src/variants/mha.ts) against loop attention', () => {
  const dimsArb = fc.record({
    b: fc.integer({ min: 1, max: 2 }),
    h: fc.integer({ min: 1, max: 3 }),
    s: fc.integer({ min: 1, max: 5 }),
    t: fc.integer({ min: 1, max: 6 }),
    d: fc.integer({ min: 1, max: 4 }),
  });
  const caseArb = fc.record({ dims: dimsArb, causal: fc.boolean() }).chain(({ dims, causal }) =>
    fc.record({
      dims: fc.constant(dims),
      causal: fc.constant(causal),
      q: floats(dims.b * dims.h * dims.s * dims.d),
      k: floats(dims.b * dims.h * dims.t * dims.d),
      v: floats(dims.b * dims.h * dims.t * dims.d),
    }),
  );
  const graphs = { true: mha({ causal: true }), false: mha({ causal: false }) };

  it('equals softmax(q kᵀ / sqrt(d)) v, causal aligned to the end when s < t (zeros for rows with no key when s > t)', () => {
    fc.assert(
      fc.property(caseArb, ({ dims, causal, q, k, v }) => {
        const got = interpret(graphs[`${causal}`], { q, k, v }, { ...dims, dv: dims.d }).o!;
        expect(got.axes).toEqual(['b', 'h', 's', 'dv']);
        const want = loopAttention(q, k, v, dims, causal);
        // |o| <= max |v| <= 4; error from dot products of up to 4 terms of size 16
        expectClose(got.data, want, 0, undefined, 1e-9);
      }),
      { numRuns: 150 },
    );
  });

  it('causal decoding: one query (s = 1) sees every key; s = t gives the lower-triangular mask', () => {
    const dims = { b: 1, h: 1, s: 1, t: 4, d: 1, dv: 1 };
    const q = [1];
    const k = [0, 0, 0, 0];
    const v = [1, 2, 3, 4];
    expect(Array.from(interpret(graphs.true, { q, k, v }, dims).o!.data)).toEqual([2.5]);
    const sq = { b: 1, h: 1, s: 3, t: 3, d: 1, dv: 1 };
    const o = interpret(graphs.true, { q: [1, 1, 1], k: [0, 0, 0], v: [3, 6, 9] }, sq).o!;
    expectClose(o.data, [3, 4.5, 6], 1e-15);
  });
});
