/** Views (split, merge, rename, transpose), the size solver, and gather. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { einsum, graph, input, interpret, resolveSizes } from '../../src/index.ts';
import { expectError, floats, forAll, offset, product, run, size } from './helpers.ts';

describe('split and merge', () => {
  const arb = fc.record({ a: size, g: size, r: size, c: size }).chain((d) => fc.record({ d: fc.constant(d), x: floats(d.a * d.g * d.r * d.c) }));

  it('split then merge is the identity, and split reads h = g * R + r (outer first)', () => {
    fc.assert(
      fc.property(arb, ({ d, x }) => {
        const X = input('x', 'a h c');
        const parts = X.split('h', 'g r');
        const back = parts.merge('g r', 'h');
        expect(parts.axes).toEqual(['a', 'g', 'r', 'c']);
        expect(back.axes).toEqual(['a', 'h', 'c']);
        // only h and g are given: r is solved from the split equation
        const res = run({ parts, back }, { x }, { a: d.a, h: d.g * d.r, c: d.c, g: d.g });
        expect(Array.from(res.back!.data)).toEqual(x);
        forAll(['a', 'g', 'r', 'c'], d, (i) => {
          const got = res.parts!.data[offset(['a', 'g', 'r', 'c'], [d.a, d.g, d.r, d.c], i)];
          const want = x[offset(['a', 'h', 'c'], [d.a, d.g * d.r, d.c], { a: i.a!, h: i.g! * d.r + i.r!, c: i.c! })];
          expect(got).toBe(want);
        });
      }),
      { numRuns: 100 },
    );
  });

  it('merge then split is the identity', () => {
    fc.assert(
      fc.property(arb, ({ d, x }) => {
        const X = input('x', 'a g r c');
        const m = X.merge('g r', 'h');
        const res = run({ y: m.split('h', 'g r') }, { x }, { a: d.a, g: d.g, r: d.r, c: d.c });
        expect(Array.from(res.y!.data)).toEqual(x);
      }),
      { numRuns: 50 },
    );
  });

  it('merging non-adjacent axes puts the merged axis where the first of them was; `from` is outer first', () => {
    fc.assert(
      fc.property(
        fc.record({ a: size, b: size, c: size }).chain((d) => fc.record({ d: fc.constant(d), x: floats(d.a * d.b * d.c) })),
        ({ d, x }) => {
          const X = input('x', 'a b c');
          const ac = X.merge('a c', 'm'); // m = a * C + c
          const ca = X.merge('c a', 'n'); // n = c * A + a
          expect(ac.axes).toEqual(['m', 'b']);
          expect(ca.axes).toEqual(['n', 'b']);
          const res = run({ ac, ca }, { x }, d);
          forAll(['a', 'b', 'c'], d, ({ a, b, c }) => {
            const v = x[(a! * d.b + b!) * d.c + c!];
            expect(res.ac!.data[(a! * d.c + c!) * d.b + b!]).toBe(v);
            expect(res.ca!.data[(c! * d.a + a!) * d.b + b!]).toBe(v);
          });
        },
      ),
      { numRuns: 60 },
    );
  });

  it('merging the two trailing axes of a row-major buffer is the identity on the data', () => {
    const X = input('x', 'a b c');
    const x = Array.from({ length: 30 }, (_, i) => i);
    expect(Array.from(run({ y: X.merge('b c', 'm') }, { x }, { a: 2, b: 3, c: 5 }).y!.data)).toEqual(x);
  });

  it('a transpose view equals loops over any permutation', () => {
    fc.assert(
      fc.property(
        fc
          .record({ a: size, b: size, c: size })
          .chain((d) =>
            fc.record({ d: fc.constant(d), x: floats(d.a * d.b * d.c), order: fc.shuffledSubarray(['a', 'b', 'c'], { minLength: 3, maxLength: 3 }) }),
          ),
        ({ d, x, order }) => {
          const y = run({ y: input('x', 'a b c').transpose(order.join(' ') as string) }, { x }, d).y!;
          expect(y.axes).toEqual(order);
          const want: number[] = [];
          forAll(order, d, (i) => want.push(x[offset(['a', 'b', 'c'], [d.a, d.b, d.c], i)]!));
          expect(Array.from(y.data)).toEqual(want);
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('size solving (resolveSizes)', () => {
  it('a split h -> g r with h = 8, g = 2 solves r = 4; and with r given, g', () => {
    const g = graph('gqa_like', { o: input('q', 'b h s').split('h', 'g r') });
    expect(resolveSizes(g, { b: 1, h: 8, g: 2, s: 3 })).toEqual({ b: 1, h: 8, g: 2, r: 4, s: 3 });
    expect(resolveSizes(g, { b: 1, h: 8, r: 2, s: 3 }).g).toBe(4);
    expect(resolveSizes(g, { b: 1, g: 3, r: 5, s: 3 }).h).toBe(15);
  });

  it('a merge solves the merged size from its parts, a rename copies a size, and static sizes count', () => {
    const m = graph('merge_sizes', { o: input('x', 'p q').merge('p q', 'n').rename('n', 'z') }, { sizes: { q: 3 } });
    expect(resolveSizes(m, { p: 2 })).toEqual({ p: 2, q: 3, n: 6, z: 6 });
    // and backwards: from the merged size and one part
    expect(resolveSizes(m, { z: 12 })).toEqual({ p: 4, q: 3, n: 12, z: 12 });
  });

  it('GQA through split: q [b g r s d] against k [b g t d] equals MHA with repeated KV heads', () => {
    const dims = { b: 1, h: 4, g: 2, s: 2, t: 3, d: 2 };
    const q = Array.from({ length: 1 * 4 * 2 * 2 }, (_, i) => Math.sin(i));
    const k = Array.from({ length: 1 * 2 * 3 * 2 }, (_, i) => Math.cos(i));
    const Q = input('q', 'b h s d');
    const K = input('k', 'b g t d');
    const gqa = einsum('b g r s d, b g t d -> b g r s t', Q.split('h', 'g r'), K).merge('g r', 'h');
    const res = run({ gqa }, { q, k }, dims);
    expect(res.gqa!.axes).toEqual(['b', 'h', 's', 't']);
    forAll(['h', 's', 't'], dims, ({ h, s, t }) => {
      const kv = Math.floor(h! / (dims.h / dims.g)); // the repeat-KV rule
      let dot = 0;
      for (let d = 0; d < 2; d++) dot += q[(h! * 2 + s!) * 2 + d]! * k[(kv * 3 + t!) * 2 + d]!;
      expect(res.gqa!.data[(h! * 2 + s!) * 3 + t!]).toBeCloseTo(dot, 12);
    });
  });
});

describe('gather', () => {
  /** src over a permutation of [n b d], index over [b m] (b is a batch axis) or [m]. */
  const arb = fc
    .record({
      dims: fc.record({ n: size, b: size, d: size, m: size }),
      srcAxes: fc.shuffledSubarray(['n', 'b', 'd'], { minLength: 3, maxLength: 3 }),
      idxAxes: fc.constantFrom(['b', 'm'], ['m', 'b'], ['m']),
    })
    .chain(({ dims, srcAxes, idxAxes }) =>
      fc.record({
        dims: fc.constant(dims),
        srcAxes: fc.constant(srcAxes),
        idxAxes: fc.constant(idxAxes),
        src: floats(dims.n * dims.b * dims.d),
        idx: fc.array(fc.integer({ min: 0, max: dims.n - 1 }), {
          minLength: product(idxAxes.map((a) => dims[a as 'n'])),
          maxLength: product(idxAxes.map((a) => dims[a as 'n'])),
        }),
      }),
    );

  it('gather through an i32 index tensor equals direct indexing', () => {
    fc.assert(
      fc.property(arb, ({ dims, srcAxes, idxAxes, src, idx }) => {
        const S = input('src', srcAxes.join(' '));
        const I = input('idx', idxAxes.join(' '), 'i32');
        const out = S.gather('n', I);
        // the gathered axis is replaced, in place, by the index axes the source lacks
        const want = srcAxes.flatMap((a) => (a === 'n' ? idxAxes.filter((x) => !srcAxes.includes(x)) : [a]));
        expect(out.axes).toEqual(want);
        const res = run({ out }, { src, idx }, dims).out!;
        const sh = (axes: readonly string[]) => axes.map((a) => dims[a as 'n']);
        const got: number[] = [];
        const exp: number[] = [];
        forAll(want, dims, (i) => {
          got.push(res.data[offset(want, sh(want), i)]!);
          const j = idx[offset(idxAxes, sh(idxAxes), i)]!;
          exp.push(src[offset(srcAxes, sh(srcAxes), { ...i, n: j })]!);
        });
        expect(got).toEqual(exp);
      }),
      { numRuns: 150 },
    );
  });

  it('a paged KV cache read through a block table equals the contiguous cache', () => {
    // pages [p blk d] of 2 tokens each; the block table maps logical block m -> page
    const pages = input('pages', 'p blk d');
    const table = input('table', 'm', 'i32');
    const kv = pages.gather('p', table).merge('m blk', 't');
    expect(kv.axes).toEqual(['t', 'd']);
    const data = Array.from({ length: 3 * 2 * 1 }, (_, i) => i); // page p holds tokens 2p, 2p+1
    const res = run({ kv }, { pages: data, table: [2, 0] }, { p: 3, blk: 2, d: 1, m: 2 });
    expect(Array.from(res.kv!.data)).toEqual([4, 5, 0, 1]);
  });

  it('an out-of-range index (too large or negative) throws INDEX_RANGE naming the value and axis', () => {
    const S = input('src', 'n d');
    const I = input('idx', 'm', 'i32');
    const g = graph('gather_oob', { o: S.gather('n', I) });
    const src = [1, 2, 3, 4, 5, 6];
    expectError(() => interpret(g, { src, idx: [0, 3] }, { n: 3, d: 2, m: 2 }), 'INDEX_RANGE', "gather 'n'", 'index value 3', 'm=1', '0..2');
    expectError(() => interpret(g, { src, idx: [-1, 0] }, { n: 3, d: 2, m: 2 }), 'INDEX_RANGE', 'index value -1', 'm=0');
    // in range at the edges is fine
    expect(Array.from(interpret(g, { src, idx: [2, 0] }, { n: 3, d: 2, m: 2 }).o!.data)).toEqual([5, 6, 1, 2]);
  });
});
