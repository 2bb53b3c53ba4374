/** i32 semantics (WGSL rules) and index expressions. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { add, div, graph, index, indices, input, interpret, mod, mul, size, sizes, sub, where } from '../../src/index.ts';
import { run } from './helpers.ts';

const I32_MIN = -(2 ** 31);
const I32_MAX = 2 ** 31 - 1;
const i32 = fc.oneof(fc.integer({ min: I32_MIN, max: I32_MAX }), fc.integer({ min: -9, max: 9 }), fc.constantFrom(I32_MIN, I32_MAX, -1, 0, 1));

/** Reference i32 arithmetic via BigInt (WGSL: wrap; div truncates, x/0 = x; rem has the dividend's sign, x%0 = 0). */
const ref = {
  add: (a: number, b: number) => Number(BigInt.asIntN(32, BigInt(a) + BigInt(b))),
  sub: (a: number, b: number) => Number(BigInt.asIntN(32, BigInt(a) - BigInt(b))),
  mul: (a: number, b: number) => Number(BigInt.asIntN(32, BigInt(a) * BigInt(b))),
  div: (a: number, b: number) => (b === 0 ? a : Number(BigInt.asIntN(32, BigInt(a) / BigInt(b)))),
  mod: (a: number, b: number) => (b === 0 ? 0 : Number(BigInt.asIntN(32, BigInt(a) % BigInt(b)))),
};

describe('i32 arithmetic', () => {
  const A = input('a', 'i', 'i32');
  const B = input('b', 'i', 'i32');
  // output names avoid WGSL reserved words ('mod' is one)
  const g = graph('int_ops', { o_add: add(A, B), o_sub: sub(A, B), o_mul: mul(A, B), o_div: div(A, B), o_mod: mod(A, B), o_neg: A.neg(), o_abs: A.abs() });

  it('all outputs stay i32', () => {
    for (const o of g.outputs) expect(o.node.dtype, o.name).toBe('i32');
  });

  it('add/sub/mul wrap, div truncates toward zero (x / 0 = x), mod has the sign of the dividend (x % 0 = 0)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(i32, i32), { minLength: 1, maxLength: 8 }), (pairs) => {
        const a = pairs.map((p) => p[0]);
        const b = pairs.map((p) => p[1]);
        const r = interpret(g, { a, b }, { i: pairs.length });
        for (const fn of ['add', 'sub', 'mul', 'div', 'mod'] as const) expect(Array.from(r[`o_${fn}`]!.data), fn).toEqual(pairs.map(([x, y]) => ref[fn](x, y)));
        expect(Array.from(r.o_neg!.data)).toEqual(a.map((x) => Number(BigInt.asIntN(32, -BigInt(x)))));
        expect(Array.from(r.o_abs!.data)).toEqual(a.map((x) => Number(BigInt.asIntN(32, BigInt(Math.abs(x))))));
      }),
      { numRuns: 200 },
    );
  });

  it('edge cases written out', () => {
    const cases: [number, number][] = [
      [7, 2],
      [-7, 2],
      [7, -2],
      [-7, -2],
      [5, 0],
      [-5, 0],
      [I32_MAX, 1],
      [I32_MIN, -1],
      [I32_MIN, 0],
      [0, 0],
    ];
    const r = interpret(g, { a: cases.map((c) => c[0]), b: cases.map((c) => c[1]) }, { i: cases.length });
    expect(Array.from(r.o_div!.data)).toEqual([3, -3, -3, 3, 5, -5, I32_MAX, I32_MIN, I32_MIN, 0]);
    expect(Array.from(r.o_mod!.data)).toEqual([1, -1, 1, -1, 0, 0, 0, 0, 0, 0]);
    expect(Array.from(r.o_add!.data)).toEqual([9, -5, 5, -9, 5, -5, I32_MIN, I32_MAX, I32_MIN, 0]);
    expect(Array.from(r.o_mul!.data)).toEqual([14, -14, -14, 14, 0, 0, I32_MAX, I32_MIN, 0, 0]);
    expect(Array.from(r.o_neg!.data)).toEqual([-7, 7, -7, 7, -5, 5, -I32_MAX, I32_MIN, I32_MIN, 0]);
  });

  it('an integer literal next to an i32 tensor stays i32; a fraction makes it float', () => {
    const A = input('a', 'i', 'i32');
    const r = run({ q: A.div(2), f: A.div(2.5), m: A.mod(3) }, { a: [-7, 7] }, { i: 2 });
    expect(Array.from(r.q!.data)).toEqual([-3, 3]);
    expect(Array.from(r.f!.data)).toEqual([-2.8, 2.8]);
    expect(Array.from(r.m!.data)).toEqual([-1, 1]);
  });

  it('a float cast to i32 truncates toward zero and saturates', () => {
    const X = input('x', 'i');
    const r = run({ y: X.cast('i32') }, { x: [2.9, -2.9, 1e12, -1e12, 0] }, { i: 5 });
    expect(Array.from(r.y!.data)).toEqual([2, -2, I32_MAX, I32_MIN, 0]);
  });
});

describe('index expressions', () => {
  const dims = fc.record({ s: fc.integer({ min: 1, max: 6 }), t: fc.integer({ min: 1, max: 6 }) });

  it('t - s over [t s], and sizes as scalars', () => {
    fc.assert(
      fc.property(dims, ({ s: S, t: T }) => {
        const [s, t] = indices('s t');
        const r = run({ d: t.sub(s), T: size('t'), off: sub(size('t'), size('s')) }, {}, { s: S, t: T });
        expect(r.d!.axes).toEqual(['t', 's']);
        const want: number[] = [];
        for (let ti = 0; ti < T; ti++) for (let si = 0; si < S; si++) want.push(ti - si);
        expect(Array.from(r.d!.data)).toEqual(want);
        expect(Array.from(r.T!.data)).toEqual([T]);
        expect(Array.from(r.off!.data)).toEqual([T - S]);
      }),
      { numRuns: 40 },
    );
  });

  it('the end-aligned causal mask t <= s + (T - S)', () => {
    fc.assert(
      fc.property(dims, ({ s: S, t: T }) => {
        const [s, t] = indices('s t');
        const [Ss, Ts] = sizes('s t');
        const mask = t.le(s.add(Ts.sub(Ss)));
        const r = run({ m: where(mask, 1, 0).transpose('s t') }, {}, { s: S, t: T });
        const want: number[] = [];
        for (let si = 0; si < S; si++) for (let ti = 0; ti < T; ti++) want.push(ti <= si + T - S ? 1 : 0);
        expect(Array.from(r.m!.data)).toEqual(want);
      }),
      { numRuns: 40 },
    );
  });

  it('comparisons and logic: a sliding window (t <= s) and (s - t < w)', () => {
    const [s, t] = [index('s'), index('t')];
    const win = t.le(s).and(s.sub(t).lt(2));
    const r = run({ m: where(win, 1, 0), n: where(win.not().or(s.eq(t)), 1, 0) }, {}, { s: 3, t: 3 });
    expect(r.m!.axes).toEqual(['t', 's']);
    // [t s]: t=0: s=0..2 -> 1,1,0 ; t=1: 0,1,1 ; t=2: 0,0,1
    expect(Array.from(r.m!.data)).toEqual([1, 1, 0, 0, 1, 1, 0, 0, 1]);
    expect(Array.from(r.n!.data)).toEqual([1, 0, 1, 1, 1, 0, 1, 1, 1]);
  });

  it('an index mixed with floats promotes to f32 (ALiBi-style slope * (t - s))', () => {
    const slope = input('slope', 'h');
    const bias = slope.mul(index('t').sub(index('s')));
    expect(bias.dtype).toBe('f32');
    const r = run({ bias }, { slope: [0.5, -1] }, { h: 2, s: 2, t: 2 });
    expect(r.bias!.axes).toEqual(['h', 't', 's']);
    expect(Array.from(r.bias!.data)).toEqual([0, -0.5, 0.5, 0, -0, 1, -1, -0]);
  });
});
