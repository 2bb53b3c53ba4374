/** Algebraic properties of einsum, reductions and elementwise ops under the interpreter. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  abs,
  add,
  div,
  einsum,
  exp,
  input,
  log,
  max,
  maximum,
  min,
  minimum,
  mul,
  neg,
  pow,
  rsqrt,
  sin,
  sqrt,
  sum,
  tanh,
  where,
  type Tensor,
} from '../../src/index.ts';
import { expectClose, floats, forAll, offset, plain, product, run, size } from './helpers.ts';

describe('transposition', () => {
  it("einsum 'i j -> j i' = the transpose view = the loop transpose = a rename-based einsum", () => {
    const arb = fc.tuple(size, size).chain(([I, J]) => fc.record({ I: fc.constant(I), J: fc.constant(J), m: floats(I * J) }));
    fc.assert(
      fc.property(arb, ({ I, J, m }) => {
        const x = input('m', 'i j');
        const viaEinsum = einsum('i j -> j i', x);
        const viaView = x.transpose('j i');
        // rename i -> p, j -> q, then reorder by einsum: sizes p, q are solved from the rename equations
        const viaRename = einsum('p q -> q p', x.rename('i', 'p').rename('j', 'q'));
        const r = run({ e: viaEinsum, v: viaView, r: viaRename }, { m }, { i: I, j: J });
        const want: number[] = [];
        for (let j = 0; j < J; j++) for (let i = 0; i < I; i++) want.push(m[i * J + j]!);
        // einsum accumulates from +0, so -0 inputs come out as +0: compare as numbers
        expect(plain(r.e!.data)).toEqual(plain(want));
        expect(Array.from(r.v!.data)).toEqual(want); // a view moves values untouched, -0 included
        expect(plain(r.r!.data)).toEqual(plain(want));
        expect(r.e!.axes).toEqual(['j', 'i']);
        expect(r.v!.axes).toEqual(['j', 'i']);
        expect(r.r!.axes).toEqual(['q', 'p']);
      }),
      { numRuns: 100 },
    );
  });

  it('swapping the names of a square matrix by three renames relabels without moving data', () => {
    fc.assert(
      fc.property(
        size.chain((n) => fc.tuple(fc.constant(n), floats(n * n))),
        ([n, m]) => {
          const x = input('m', 'i j');
          const swapped = x.rename('i', 'x').rename('j', 'i').rename('x', 'j'); // axes [j i], same buffer
          const r = run({ t: einsum('j i -> i j', swapped), e: einsum('i j -> j i', x), s: swapped }, { m }, { i: n, j: n });
          expect(r.s!.axes).toEqual(['j', 'i']);
          expect(Array.from(r.s!.data)).toEqual(m);
          expect(plain(r.t!.data)).toEqual(plain(r.e!.data));
        },
      ),
      { numRuns: 40 },
    );
  });

  it('transposing twice is the identity', () => {
    fc.assert(
      fc.property(size, size, size, (A, B, C) => {
        const data = Array.from({ length: A * B * C }, (_, i) => i * 1.5 - 3);
        const x = input('x', 'a b c');
        const r = run({ y: einsum('c a b -> a b c', x.transpose('c a b')) }, { x: data }, { a: A, b: B, c: C });
        expect(Array.from(r.y!.data)).toEqual(data);
      }),
    );
  });
});

describe('contraction order', () => {
  it('(A B) C = A (B C) = one three-operand einsum', () => {
    const arb = fc
      .tuple(size, size, size, size)
      .chain(([I, J, K, L]) => fc.record({ dims: fc.constant({ i: I, j: J, k: K, l: L }), a: floats(I * J), b: floats(J * K), c: floats(K * L) }));
    fc.assert(
      fc.property(arb, ({ dims, a, b, c }) => {
        const A = input('a', 'i j');
        const B = input('b', 'j k');
        const C = input('c', 'k l');
        const left = einsum('i k, k l -> i l', einsum('i j, j k -> i k', A, B), C);
        const right = einsum('i j, j l -> i l', A, einsum('j k, k l -> j l', B, C));
        const once = einsum('i j, j k, k l -> i l', A, B, C);
        const r = run({ left, right, once }, { a, b, c }, dims);
        // error scale: Σ |a||b||c| per output element
        const scale: number[] = [];
        for (let i = 0; i < dims.i; i++)
          for (let l = 0; l < dims.l; l++) {
            let s = 0;
            for (let j = 0; j < dims.j; j++) for (let k = 0; k < dims.k; k++) s += Math.abs(a[i * dims.j + j]! * b[j * dims.k + k]! * c[k * dims.l + l]!);
            scale.push(s);
          }
        expectClose(r.left!.data, r.once!.data, 1e-9, scale);
        expectClose(r.right!.data, r.once!.data, 1e-9, scale);
      }),
      { numRuns: 150 },
    );
  });

  it('an einsum over a broadcast product equals the product of sums (distributivity)', () => {
    const arb = fc.tuple(size, size).chain(([I, J]) => fc.record({ I: fc.constant(I), J: fc.constant(J), u: floats(I), v: floats(J) }));
    fc.assert(
      fc.property(arb, ({ I, J, u, v }) => {
        const U = input('u', 'i');
        const V = input('v', 'j');
        const r = run({ both: einsum('i, j -> ', U, V), su: sum(U, 'i'), sv: sum(V, 'j') }, { u, v }, { i: I, j: J });
        expectClose(r.both!.data, [r.su!.data[0]! * r.sv!.data[0]!], 1e-9, [u.reduce((p, x) => p + Math.abs(x), 0) * v.reduce((p, x) => p + Math.abs(x), 0)]);
      }),
    );
  });
});

describe('reductions', () => {
  const arb = fc
    .record({
      dims: fc.record({ a: size, b: size, c: size }),
      over: fc.shuffledSubarray(['a', 'b', 'c'], { minLength: 1, maxLength: 3 }),
    })
    .chain(({ dims, over }) => fc.record({ dims: fc.constant(dims), over: fc.constant(over), x: floats(dims.a * dims.b * dims.c) }));

  it('sum and max over any axes equal loops, keeping the other axes in order', () => {
    fc.assert(
      fc.property(arb, ({ dims, over, x }) => {
        const X = input('x', 'a b c');
        const spec = over.join(' ');
        const r = run({ s: X.sum(spec), m: X.max(spec), s2: sum(X, spec), m2: max(X, spec) }, { x }, dims);
        const keep = ['a', 'b', 'c'].filter((a) => !over.includes(a));
        const keepShape = keep.map((a) => dims[a as 'a']);
        const s = new Array<number>(product(keepShape)).fill(0);
        const mag = new Array<number>(product(keepShape)).fill(0);
        const m = new Array<number>(product(keepShape)).fill(-Infinity);
        forAll(['a', 'b', 'c'], dims, (idx) => {
          const v = x[offset(['a', 'b', 'c'], [dims.a, dims.b, dims.c], idx)]!;
          const o = offset(keep, keepShape, idx);
          s[o]! += v;
          mag[o]! += Math.abs(v);
          m[o] = Math.max(m[o]!, v);
        });
        for (const k of ['s', 's2', 'm', 'm2']) expect(r[k]!.axes).toEqual(keep);
        expectClose(r.s!.data, s, 1e-12, mag);
        expectClose(r.s2!.data, s, 1e-12, mag);
        expect(Array.from(r.m!.data)).toEqual(m);
        expect(Array.from(r.m2!.data)).toEqual(m);
      }),
      { numRuns: 150 },
    );
  });

  it('max of a row of -Infinity is -Infinity, and sum over a size-1 axis is the identity', () => {
    const X = input('x', 'a b');
    const r = run({ m: X.max('b'), s: X.sum('a') }, { x: [-Infinity, -Infinity, 1, 2] }, { a: 2, b: 2 });
    expect(Array.from(r.m!.data)).toEqual([-Infinity, 2]);
    const r1 = run({ s: X.sum('a') }, { x: [3, -4] }, { a: 1, b: 2 });
    expect(Array.from(r1.s!.data)).toEqual([3, -4]);
  });
});

describe('elementwise math', () => {
  const positive = fc.integer({ min: 1, max: 64 }).map((k) => k / 8);
  const arb = fc
    .integer({ min: 1, max: 6 })
    .chain((n) => fc.record({ n: fc.constant(n), x: floats(n), y: floats(n), p: fc.array(positive, { minLength: n, maxLength: n }) }));

  it('unary and binary functions equal Math.* elementwise (methods and free functions)', () => {
    fc.assert(
      fc.property(arb, ({ n, x, y, p }) => {
        const X = input('x', 'i');
        const Y = input('y', 'i');
        const P = input('p', 'i');
        const cases: [string, Tensor<any>, (i: number) => number][] = [
          ['exp', exp(X), (i) => Math.exp(x[i]!)],
          ['exp_m', X.exp(), (i) => Math.exp(x[i]!)],
          ['log', log(P), (i) => Math.log(p[i]!)],
          ['log_m', P.log(), (i) => Math.log(p[i]!)],
          ['tanh', tanh(X), (i) => Math.tanh(x[i]!)],
          ['sqrt', sqrt(P), (i) => Math.sqrt(p[i]!)],
          ['rsqrt', rsqrt(P), (i) => 1 / Math.sqrt(p[i]!)],
          ['abs', abs(X), (i) => Math.abs(x[i]!)],
          ['sin', sin(X), (i) => Math.sin(x[i]!)],
          ['cos', X.cos(), (i) => Math.cos(x[i]!)],
          ['neg', neg(X), (i) => -x[i]!],
          ['add', add(X, Y), (i) => x[i]! + y[i]!],
          ['sub', X.sub(Y), (i) => x[i]! - y[i]!],
          ['mul', mul(X, 3), (i) => x[i]! * 3],
          ['div', div(X, P), (i) => x[i]! / p[i]!],
          ['rdiv', div(1, P), (i) => 1 / p[i]!],
          ['pow', pow(P, Y), (i) => p[i]! ** y[i]!],
          ['maximum', maximum(X, Y), (i) => Math.max(x[i]!, y[i]!)],
          ['max2', max(X, 0), (i) => Math.max(x[i]!, 0)],
          ['minimum', minimum(X, Y), (i) => Math.min(x[i]!, y[i]!)],
          ['min2', min(X, Y), (i) => Math.min(x[i]!, y[i]!)],
          ['softcap', mul(tanh(div(X, 3)), 3), (i) => Math.tanh(x[i]! / 3) * 3],
        ];
        const r = run(Object.fromEntries(cases.map(([k, t]) => [k, t])), { x, y, p }, { i: n });
        for (const [k, , f] of cases) {
          const want = Array.from({ length: n }, (_, i) => f(i));
          expectClose(r[k]!.data, want, 1e-15, undefined, 1e-15);
        }
      }),
      { numRuns: 100 },
    );
  });

  it('float functions of an i32 tensor compute in float (exp of an index)', () => {
    const n = input('n', 'i', 'i32');
    const r = run({ e: exp(n), h: div(n, 2.5) }, { n: [0, 1, -2] }, { i: 3 });
    expectClose(r.e!.data, [1, Math.E, Math.exp(-2)], 1e-15);
    expectClose(r.h!.data, [0, 0.4, -0.8], 1e-15);
  });

  it('broadcasting by name: a[i j] + b[j k] has axes [i j k]', () => {
    const A = input('a', 'i j');
    const B = input('b', 'j k');
    const r = run({ o: A.add(B) }, { a: [1, 2, 3, 4, 5, 6], b: [10, 20, 30, 40] }, { i: 3, j: 2, k: 2 });
    expect(r.o!.axes).toEqual(['i', 'j', 'k']);
    const want: number[] = [];
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < 2; j++) for (let k = 0; k < 2; k++) want.push([1, 2, 3, 4, 5, 6][i * 2 + j]! + [10, 20, 30, 40][j * 2 + k]!);
    expect(Array.from(r.o!.data)).toEqual(want);
  });
});

describe('where', () => {
  const arb = fc.record({ i: size, j: size, k: size }).chain((dims) =>
    fc.record({
      dims: fc.constant(dims),
      c: fc.array(fc.integer({ min: -1, max: 1 }), { minLength: dims.i, maxLength: dims.i }),
      a: floats(dims.i * dims.j),
      b: floats(dims.j * dims.k),
    }),
  );

  it('where(c[i] > 0, a[i j], b[j k]) broadcasts to [i j k]', () => {
    fc.assert(
      fc.property(arb, ({ dims, c, a, b }) => {
        const C = input('c', 'i', 'i32');
        const A = input('a', 'i j');
        const B = input('b', 'j k');
        const r = run({ o: where(C.gt(0), A, B), s: where(C.gt(0), A, -Infinity) }, { c, a, b }, dims);
        expect(r.o!.axes).toEqual(['i', 'j', 'k']);
        expect(r.s!.axes).toEqual(['i', 'j']);
        const want: number[] = [];
        forAll(['i', 'j', 'k'], dims, ({ i, j, k }) => want.push(c[i!]! > 0 ? a[i! * dims.j + j!]! : b[j! * dims.k + k!]!));
        expect(Array.from(r.o!.data)).toEqual(want);
        const want2: number[] = [];
        forAll(['i', 'j'], dims, ({ i, j }) => want2.push(c[i!]! > 0 ? a[i! * dims.j + j!]! : -Infinity));
        expect(Array.from(r.s!.data)).toEqual(want2);
      }),
      { numRuns: 100 },
    );
  });
});
