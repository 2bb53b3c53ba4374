/**
 * The interpreter's rules for sigmoid, elu, floor, clamp, cumsum, topk and topkMask (the oracle
 * of the GPU tests), and where()'s axis order: checked against hand-written loops.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { clamp, cumsum, einsum, elu, floor, graph, index, input, interpret, sigmoid, topk, topkMask, where } from '../../src/index.ts';
import { floats, run } from './helpers.ts';

const data = (r: ReturnType<typeof run>, k: string) => Array.from(r[k]!.data);

describe('unary ops', () => {
  it('sigmoid is finite and exact at the extremes, 1/2 at 0, NaN for NaN', () => {
    const y = data(run({ y: sigmoid(input('x', 'i')) }, { x: [-1000, -100, 0, 100, 1000, -Infinity, Infinity, NaN] }, { i: 8 }), 'y');
    expect([y[0], ...y.slice(2, 7)]).toEqual([0, 0.5, 1, 1, 0, 1]);
    expect(Math.abs(y[1]! / Math.exp(-100) - 1)).toBeLessThan(1e-15);
    expect(y[7]).toBeNaN();
  });

  it('sigmoid(x) + sigmoid(-x) = 1', () => {
    fc.assert(
      fc.property(floats(6), (xs) => {
        const x = input('x', 'i');
        const r = run({ a: sigmoid(x), b: sigmoid(x.neg()) }, { x: xs }, { i: 6 });
        data(r, 'a').forEach((a, i) => expect(a + data(r, 'b')[i]!).toBeCloseTo(1, 12));
      }),
    );
  });

  it('elu is x above 0 and e^x - 1 below; floor rounds down and keeps i32', () => {
    expect(data(run({ y: elu(input('x', 'i')) }, { x: [2, 0, -1, -50] }, { i: 4 }), 'y')).toEqual([2, 0, Math.expm1(-1), Math.expm1(-50)]);
    expect(data(run({ y: floor(input('x', 'i')) }, { x: [1.5, -1.5, 2, -0.25] }, { i: 4 }), 'y')).toEqual([1, -2, 2, -1]);
    const fi = floor(input('n', 'i', 'i32'));
    expect(fi.dtype).toBe('i32');
    expect(data(run({ y: fi }, { n: [3, -3] }, { i: 2 }), 'y')).toEqual([3, -3]);
  });

  it('clamp clips into [lo, hi] with tensor bounds broadcast by name', () => {
    const y = clamp(index('t').sub(index('s')), -1, input('hi', 's', 'i32'));
    expect(y.axes).toEqual(['t', 's']);
    expect(y.dtype).toBe('i32');
    // t - s over t, s in 0..2, clipped to [-1, hi[s]]
    expect(data(run({ y }, { hi: [0, 1, 2] }, { t: 3, s: 3 }), 'y')).toEqual([0, -1, -1, 0, 0, -1, 0, 1, 0]);
  });
});

describe('cumsum', () => {
  it('is the inclusive prefix sum along the axis, whatever its position', () => {
    const x = input('x', 'a t b');
    const xs = Array.from({ length: 2 * 3 * 2 }, (_, i) => i + 1);
    const y = data(run({ y: cumsum(x, 't') }, { x: xs }, { a: 2, t: 3, b: 2 }), 'y');
    // [a t b] row-major: x[a, t, b] = 6a + 2t + b + 1
    for (let a = 0; a < 2; a++)
      for (let b = 0; b < 2; b++) {
        let acc = 0;
        for (let t = 0; t < 3; t++) {
          acc += xs[6 * a + 2 * t + b]!;
          expect(y[6 * a + 2 * t + b]).toBe(acc);
        }
      }
  });

  it('over a length-1 axis is the identity; i32 wraps; NaN and -inf propagate forward', () => {
    expect(data(run({ y: input('x', 'i t').cumsum('t') }, { x: [4, -2] }, { i: 2, t: 1 }), 'y')).toEqual([4, -2]);
    const wrapped = data(run({ y: input('n', 't', 'i32').cumsum('t') }, { n: [2147483647, 1, 5] }, { t: 3 }), 'y');
    expect(wrapped).toEqual([2147483647, -2147483648, -2147483643]);
    const y = data(run({ y: input('x', 't').cumsum('t') }, { x: [1, -Infinity, 2, NaN, 3] }, { t: 5 }), 'y');
    expect(y.slice(0, 3)).toEqual([1, -Infinity, -Infinity]);
    expect(y.slice(3).every(Number.isNaN)).toBe(true);
  });

  it('the last prefix equals sum()', () => {
    fc.assert(
      fc.property(floats(12), (xs) => {
        const x = input('x', 'a t');
        const r = run({ c: x.cumsum('t'), s: x.sum('t') }, { x: xs }, { a: 3, t: 4 });
        for (let a = 0; a < 3; a++) expect(data(r, 'c')[4 * a + 3]).toBeCloseTo(data(r, 's')[a]!, 12);
      }),
    );
  });
});

describe('topk', () => {
  const ranks = (xs: number[], k: number) => data(run({ i: topk(input('x', 'm'), 'm', k, 'j') }, { x: xs }, { m: xs.length }), 'i');

  it('returns positions largest first, ties to the lower position, over every row', () => {
    expect(ranks([1, 5, 3, 5, 2], 3)).toEqual([1, 3, 2]);
    expect(ranks([7, 7, 7], 3)).toEqual([0, 1, 2]);
    const y = topk(input('x', 'm r'), 'm', 2, 'j');
    expect(y.axes).toEqual(['j', 'r']);
    expect(y.dtype).toBe('i32');
    // two rows along r: [3 1 2] and [0 9 9]
    expect(data(run({ y }, { x: [3, 0, 1, 9, 2, 9] }, { m: 3, r: 2 }), 'y')).toEqual([0, 1, 2, 2]);
  });

  it('k = m is a stable descending argsort; -inf and NaN rank last, by position', () => {
    expect(ranks([2, -Infinity, NaN, 4, -Infinity, 2], 6)).toEqual([3, 0, 5, 1, 2, 4]);
    expect(ranks([-Infinity, -Infinity], 1)).toEqual([0]);
  });

  it('its positions gather the k largest values, in order', () => {
    fc.assert(
      fc.property(floats(8), (xs) => {
        const x = input('x', 'm');
        const r = run({ v: x.gather('m', x.topk('m', 3, 'j')) }, { x: xs }, { m: 8 });
        expect(data(r, 'v')).toEqual([...xs].sort((a, b) => b - a).slice(0, 3));
      }),
    );
  });

  it('the new axis has size k, fixed in the graph', () => {
    const g = graph('g', { i: topk(input('x', 'b m'), 'm', 2, 'j') });
    expect(g.staticSizes).toEqual({ j: 2 });
    expect(interpret(g, { x: [1, 2, 3, 4] }, { b: 2, m: 2 }).i!.shape).toEqual([2, 2]);
  });

  it('k larger than the axis: the positions past it are -1', () => {
    expect(ranks([1, 2], 3)).toEqual([1, 0, -1]);
  });
});

describe('topkMask', () => {
  const mask = (xs: number[], k: number) => data(run({ y: where(topkMask(input('x', 'm'), 'm', k), 1, 0) }, { x: xs }, { m: xs.length }), 'y');

  it('marks the k largest finite entries, ties to the lower position', () => {
    expect(mask([2, -Infinity, 7, 2], 3)).toEqual([1, 0, 1, 1]);
    expect(mask([3, 1, 3, 3], 2)).toEqual([1, 0, 1, 0]);
    expect(mask([3, 1, 3, 3], 4)).toEqual([1, 1, 1, 1]);
    expect(mask([3, -Infinity, 2], 5)).toEqual([1, 0, 1]);
  });

  it('candidates masked out with -inf never get in, even when fewer than k are left; NaN neither; k = 0 marks none', () => {
    expect(mask([-Infinity, 5, -Infinity, -Infinity], 3)).toEqual([0, 1, 0, 0]);
    expect(mask([-Infinity, -Infinity], 2)).toEqual([0, 0]);
    expect(mask([NaN, 1, NaN], 3)).toEqual([0, 1, 0]);
    expect(mask([4, 5], 0)).toEqual([0, 0]);
  });

  it('MoBA: per query block, the top k - 1 earlier blocks by gate plus its own', () => {
    // gate [s m]: 4 query blocks s, 4 key blocks m; block m is a candidate of query block s when m < s
    const gate = input('gate', 's m');
    const [s, m] = [index('s'), index('m')];
    const keep = topkMask(where(m.lt(s), gate, -Infinity), 'm', 1).or(m.eq(s));
    const g = [9, 1, 1, 1, /**/ 1, 9, 1, 1, /**/ 5, 7, 9, 1, /**/ 8, 2, 3, 9];
    expect(data(run({ y: where(keep, 1, 0) }, { gate: g }, { s: 4, m: 4 }), 'y')).toEqual([1, 0, 0, 0, /**/ 1, 1, 0, 0, /**/ 0, 1, 1, 0, /**/ 1, 0, 0, 1]);
  });

  it('agrees with topk on random rows', () => {
    fc.assert(
      fc.property(floats(6), fc.integer({ min: 1, max: 6 }), (xs, k) => {
        const top = new Set(ranks6(xs, k));
        expect(mask(xs, k)).toEqual(xs.map((_, i) => (top.has(i) ? 1 : 0)));
      }),
    );
  });
  const ranks6 = (xs: number[], k: number) => data(run({ i: topk(input('x', 'm'), 'm', k, 'j') }, { x: xs }, { m: 6 }), 'i');
});

describe("where keeps the values' axis order", () => {
  it("where(mask, x, 0) has x's axes and feeds the einsum x fed", () => {
    const scores = input('scores', 'b s t');
    const v = input('v', 'b t d');
    const causal = index('t').le(index('s'));
    const masked = where(causal, scores, 0);
    expect(masked.axes).toEqual(['b', 's', 't']);
    expect(where(causal, 0, scores).axes).toEqual(['b', 's', 't']);
    expect(where(causal, input('slope', 's'), scores).axes).toEqual(['b', 's', 't']);
    const o = einsum('b s t, b t d -> b s d', masked, v);
    const sc = [1, 2, 3, 4];
    const r = run({ o }, { scores: sc, v: [10, 100] }, { b: 1, s: 2, t: 2, d: 1 });
    // row s = 0 keeps t = 0 only: 1·10; row s = 1 keeps both: 3·10 + 4·100
    expect(data(r, 'o')).toEqual([10, 430]);
  });

  it("the mask's own axes come last", () => {
    expect(where(index('t').lt(input('len', 'b', 'i32')), input('x', 'h'), 0).axes).toEqual(['h', 't', 'b']);
  });
});
