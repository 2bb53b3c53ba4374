/** The generic lowering on the GPU, feature by feature, against the interpreter. */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { compile } from '../../src/compile.ts';
import { constant, EinattnError, einsum, graph, index, input, interpret, type Graph } from '../../src/index.ts';
import { closeRuntime, getRuntime } from '../../src/runtime/index.ts';
import { mha } from '../../src/variants/index.ts';

beforeAll(async () => {
  await getRuntime(); // no adapter → the suite fails here with the reason
});
afterAll(closeRuntime);

function values(n: number, salt: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.fround(Math.sin(i * 1.618 + salt) * 0.9));
}

function inputsOf(g: Graph, dims: Record<string, number>): Record<string, Float32Array> {
  return Object.fromEntries(
    g.inputs.map((i, k) => [
      i.name,
      values(
        i.axes.reduce((p, a) => p * dims[a]!, 1),
        k,
      ),
    ]),
  );
}

async function expectMatch(g: Graph, dims: Record<string, number>, inputs: Record<string, ArrayLike<number>> = inputsOf(g, dims), tol = 1e-5) {
  const want = interpret(g, inputs, dims);
  const got = await compile(g).run(inputs, dims);
  for (const [name, w] of Object.entries(want)) {
    const o = got.outputs[name]!;
    expect(o.shape).toEqual(w.shape);
    let err = 0;
    for (let i = 0; i < w.data.length; i++) err = Math.max(err, Math.abs(w.data[i]! - o.data[i]!));
    expect(err, `output ${name}`).toBeLessThanOrEqual(tol);
  }
}

test('MHA (causal or not, s < t, s = t, s > t) matches the interpreter for random shapes', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.record({
        b: fc.integer({ min: 1, max: 2 }),
        h: fc.integer({ min: 1, max: 3 }),
        s: fc.integer({ min: 1, max: 13 }),
        t: fc.integer({ min: 1, max: 13 }),
        d: fc.integer({ min: 1, max: 9 }),
        dv: fc.integer({ min: 1, max: 6 }),
      }),
      fc.boolean(),
      async (dims, causal) => expectMatch(mha({ causal }), dims, undefined, 2e-6 * Math.sqrt(dims.t * dims.d) + 1e-6),
    ),
    { numRuns: 30 },
  );
});

test('GQA through a split view: query head i reads KV head floor(i / (h / g))', async () => {
  const q = input('q', 'b h s d').split('h', 'g r');
  const k = input('k', 'b g t d');
  const v = input('v', 'b g t d');
  const p = einsum('b g r s d, b g t d -> b g r s t', q, k).softmax('t');
  const o = einsum('b g r s t, b g t d -> b g r s d', p, v).merge('g r', 'h');
  await expectMatch(graph('gqa', { o }), { b: 1, h: 6, g: 2, s: 5, t: 7, d: 3 });
});

describe('paged KV cache through gather', () => {
  const cache = input('kc', 'n blk d');
  const table = input('table', 'b m', 'i32');
  const q = input('q', 'b s d');
  const k = cache.gather('n', table).merge('m blk', 't'); // [b t d]
  const g = graph('paged_scores', { o: einsum('b s d, b t d -> b s t', q, k) });
  const dims = { n: 5, blk: 3, d: 4, b: 2, m: 2, s: 2 };

  test('matches the interpreter', async () => {
    const ins = { ...inputsOf(g, { ...dims, t: 6 }), table: Int32Array.from([4, 0, 2, 2]) };
    await expectMatch(g, dims, ins);
  });

  test('an out-of-range block index is rejected before dispatch, naming where', async () => {
    const ins = { ...inputsOf(g, { ...dims, t: 6 }), table: Int32Array.from([4, 0, 5, 2]) };
    const err = await compile(g)
      .run(ins, dims)
      .catch((e) => e);
    expect(err).toBeInstanceOf(EinattnError);
    expect(err.code).toBe('INDEX_RANGE');
    expect(err.message).toContain("'table' has 5 at [b=1 m=0], outside 0..4");
  });
});

test('i32 arithmetic follows WGSL: wrapping, truncating division, x / 0 = x, x % 0 = 0', async () => {
  const a = input('a', 'i', 'i32');
  const b = input('b', 'i', 'i32');
  const g = graph('ints', { q: a.div(b), r: a.mod(b), s: a.add(b), m: a.mul(b), n: a.neg() });
  const av = Int32Array.from([7, -7, 7, -7, 5, -2147483648, 2147483647, 0]);
  const bv = Int32Array.from([2, 2, -2, -2, 0, -1, 1, 3]);
  const want = interpret(g, { a: av, b: bv }, { i: 8 });
  const got = await compile(g).run({ a: av, b: bv }, { i: 8 });
  for (const k of ['q', 'r', 's', 'm', 'n']) expect(Array.from(got.outputs[k]!.data), k).toEqual(Array.from(want[k]!.data));
});

test('f16 storage: inputs and outputs in half precision, math in f32', async () => {
  const x = input('x', 'i k', 'f16');
  const y = input('y', 'k j', 'f16');
  const g = graph('half', { o: einsum('i k, k j -> i j', x, y) });
  const dims = { i: 5, k: 7, j: 3 };
  const ins = { x: values(35, 1).map((v) => Math.round(v * 64) / 64), y: values(21, 2).map((v) => Math.round(v * 64) / 64) };
  expect(compile(g).plan.kernels[0]!.wgsl).toContain('enable f16;');
  await expectMatch(g, dims, ins, 7 * 2 ** -10);
});

test('masks, index math, reductions and outputs that are inputs or views', async () => {
  const x = input('x', 's t');
  const [s, t] = [index('s'), index('t')];
  const window = t.le(s).and(t.gt(s.sub(constant(3, 'i32'))));
  const alibi = x.add(t.sub(s).cast('f32').mul(0.25));
  const g = graph('misc', {
    p: alibi.softmax('t', { mask: window, sink: 0.5 }),
    m: x.max('t'),
    z: x.sum('s t'),
    same: x,
    xt: x.transpose('t s'),
  });
  await expectMatch(g, { s: 6, t: 9 });
});

test('tensors named like WGSL built-ins (exp, max) run correctly', async () => {
  await expectMatch(graph('shadow', { max: input('exp', 'i j').exp().max('j') }), { i: 3, j: 5 });
});

test('static sizes are checked at dispatch', async () => {
  const g = graph('fixed', { o: einsum('s d, t d -> s t', input('q', 's d'), input('k', 't d')) }, { sizes: { d: 4 } });
  await expectMatch(g, { s: 3, t: 5 }, inputsOf(g, { s: 3, t: 5, d: 4 }));
  const err = await compile(g)
    .run(inputsOf(g, { s: 3, t: 5, d: 8 }), { s: 3, t: 5, d: 8 })
    .catch((e) => e);
  expect(err.code).toBe('SIZE_CONFLICT');
});

test('views of a contracted or softmax axis (rename, merge, gather) stay inside their loops', async () => {
  const x = input('x', 'i k');
  const y = input('y', 'k2 j').rename('k2', 'k');
  const z = input('z', 'i m blk').merge('m blk', 'k');
  const table = input('table', 'u', 'i32');
  const w = input('w', 'n j').gather('n', table).rename('u', 'k');
  const g = graph('loop_views', {
    a: einsum('i k, k j -> i j', x, y),
    b: einsum('i k, k j -> i j', z, w),
    p: x.rename('k', 'q').softmax('q').mul(y.sum('j').rename('k', 'q')),
  });
  const dims = { i: 3, k: 6, k2: 6, j: 5, m: 2, blk: 3, n: 4, u: 6 };
  const ins = { ...inputsOf(g, dims), table: Int32Array.from([3, 0, 1, 1, 2, 3]) };
  await expectMatch(g, dims, ins);
});

test('a bounded length input (kv_len ≤ t) is range-checked before dispatch and in the interpreter', async () => {
  const [t] = [index('t')];
  const len = input('kv_len', 'b', 'i32', { max: 't' });
  const p = einsum('b s d, b t d -> b s t', input('q', 'b s d'), input('k', 'b t d')).softmax('t', { mask: t.lt(len) });
  const g = graph('ragged', { o: einsum('b s t, b t d -> b s d', p, input('v', 'b t d')) });
  const dims = { b: 2, s: 1, t: 5, d: 3 };
  const ins = { ...inputsOf(g, dims), kv_len: Int32Array.from([5, 0]) };
  await expectMatch(g, dims, ins);
  for (const bad of [
    [6, 1],
    [2, -1],
  ]) {
    const wrong = { ...ins, kv_len: Int32Array.from(bad) };
    const err = await compile(g)
      .run(wrong, dims)
      .catch((e) => e);
    expect(err.code).toBe('INDEX_RANGE');
    expect(err.message).toMatch(/input 'kv_len' \(values 0\.\.t\)/);
    expect(() => interpret(g, wrong, dims)).toThrow(/kv_len.*outside 0\.\.5/);
  }
});

test('compile() stages contractions through workgroup memory on hardware adapters only', async () => {
  const g = graph('mm', { c: einsum('i k, k j -> i j', input('a', 'i k'), input('b', 'k j')) });
  const dims = { i: 33, k: 20, j: 17 };
  const ins = inputsOf(g, dims);
  const rt = await getRuntime();
  const c = compile(g);
  const soft = await c.run(ins, dims);
  expect(c.plan.kernels[0]!.wgsl).not.toContain('var<workgroup>');
  const hard = await c.run(ins, dims, { runtime: { ...rt, kind: 'hardware' } as typeof rt });
  expect(c.plan.kernels[0]!.wgsl).toContain('var<workgroup>');
  for (let i = 0; i < soft.outputs.c!.data.length; i++) expect(hard.outputs.c!.data[i]).toBeCloseTo(soft.outputs.c!.data[i]!, 5);
});

test('NaN and Inf in inputs propagate to the outputs they reach, on the GPU as in the interpreter', async () => {
  const dims = { b: 1, h: 1, s: 4, t: 4, d: 2, dv: 2 };
  const g = mha({ causal: true });
  const base = inputsOf(g, dims);
  const q = base.q!.slice();
  q[2 * 2] = NaN; // query row 2
  const k = base.k!.slice();
  k[3 * 2] = Infinity; // key 3: only the last query row sees it (causal), with a logit of +inf
  const q3 = base.q!.slice();
  q3[3 * 2] = 1;
  for (const ins of [
    { ...base, q },
    { ...base, q: q3, k },
  ]) {
    const want = interpret(g, ins, dims).o!.data;
    const got = (await compile(g).run(ins, dims)).outputs.o!.data;
    for (let i = 0; i < want.length; i++) {
      const row = Math.floor(i / 2);
      if (Number.isNaN(want[i]!)) expect(got[i], `row ${row}`).toBeNaN();
      else expect(Math.abs(got[i]! - want[i]!), `row ${row}`).toBeLessThan(1e-5);
    }
    expect(Array.from(want).some(Number.isNaN)).toBe(true);
    expect(Array.from(want).some(Number.isFinite)).toBe(true);
  }
});
