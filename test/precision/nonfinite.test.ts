/**
 * NaN and Inf under reduced precision: propagated to the outputs they reach, never hidden,
 * on the GPU as in the interpreter (docs/PRECISION.md, "NaN and Inf").
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { compile, graph, input, interpret, type Graph } from '../../src/index.ts';
import { closeRuntime, getRuntime } from '../../src/runtime/index.ts';
import { gqa, kvAppendInt8, mha } from '../../src/variants/index.ts';
import { randn, rng } from '../variants/reference.ts';
import { SMALL } from './check.ts';

beforeAll(async () => {
  await getRuntime(); // no adapter → the suite fails here with the reason
});
afterAll(closeRuntime);

/** NaN where the reference is NaN, otherwise close; returns which rows were NaN. */
function expectSameNonFinite(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    if (Number.isNaN(want[i]!)) expect(got[i], `${what} [${i}]`).toBeNaN();
    else expect(Math.abs(got[i]! - want[i]!), `${what} [${i}]: got ${got[i]}, want ${want[i]}`).toBeLessThanOrEqual(tol);
  }
}

function mhaInputs(g: Graph, dims: Record<string, number>) {
  const r = rng(3);
  return Object.fromEntries(
    g.inputs.map((i) => [
      i.name,
      randn(
        r,
        i.axes.reduce((p, a) => p * dims[a]!, 1),
      ),
    ]),
  );
}

describe("f16 compute (compute: 'f16')", () => {
  const dims = { b: 1, h: 1, s: 4, t: 4, d: 2, dv: 2 };
  const g = mha({ causal: true });

  test('a NaN query gives a NaN row; an infinite key seen by a row makes that row NaN; other rows are untouched', async () => {
    const base = mhaInputs(g, dims);
    const q = base.q!.slice();
    q[2 * 2] = NaN; // query row 2
    const k = base.k!.slice();
    k[3 * 2] = Infinity; // key 3: only the last query row sees it (causal)
    const q3 = base.q!.slice();
    q3[3 * 2] = 1; // a positive q·k: the logit is +inf
    for (const ins of [
      { ...base, q },
      { ...base, q: q3, k },
    ]) {
      const want = interpret(g, ins, dims).o!.data;
      const got = (await compile(g, { compute: 'f16', ...SMALL }).run(ins, dims)).outputs.o!.data;
      expectSameNonFinite(got, want, 2e-2, 'f16 compute');
      expect(Array.from(want).some(Number.isNaN)).toBe(true);
      expect(Array.from(want).some(Number.isFinite)).toBe(true);
    }
  });

  test('an f16 product above 65504 overflows to inf and the row turns NaN: shown, not hidden (f32 stays finite)', async () => {
    const ins = mhaInputs(g, dims);
    const q = ins.q!.slice();
    const k = ins.k!.slice();
    q[3 * 2] = 300; // row 3 · key 0: 300 · 300 = 90000 > 65504
    k[0] = 300;
    const f32 = (await compile(g, SMALL).run({ ...ins, q, k }, dims)).outputs.o!.data;
    const f16 = (await compile(g, { compute: 'f16', ...SMALL }).run({ ...ins, q, k }, dims)).outputs.o!.data;
    expect(Array.from(f32).every(Number.isFinite)).toBe(true);
    expect(f16[3 * 2]).toBeNaN();
    expect(f16[3 * 2 + 1]).toBeNaN();
    for (let i = 0; i < 3 * 2; i++) expect(Math.abs(f16[i]! - f32[i]!)).toBeLessThan(2e-2); // rows 0..2 never see key 0 · 300
  });
});

describe('f16 storage', () => {
  test('NaN and ±Inf survive the f16 conversion; values past 65504 become inf; both propagate', async () => {
    const x = input('x', 'i j', 'f16');
    const g = graph('half', { s: x.sum('j'), m: x.max('j') });
    const v = Float32Array.from([1, NaN, 2, 3, Infinity, 1, 1e6, 1, 1, -Infinity, 2, 2]);
    const want = interpret(g, { x: Float32Array.from(v, (a) => (Math.abs(a) > 65504 && Number.isFinite(a) ? Math.sign(a) * Infinity : a)) }, { i: 4, j: 3 });
    const got = (await compile(g).run({ x: v }, { i: 4, j: 3 })).outputs;
    expect(Array.from(got.s!.data)).toEqual(Array.from(want.s!.data)); // [NaN, Infinity, Infinity, -Infinity]
    expect(Array.from(got.m!.data)).toEqual(Array.from(want.m!.data)); // [NaN, Infinity, Infinity, 2]
    expect(Number.isNaN(got.m!.data[0]!)).toBe(true);
  });
});

describe('int8 KV cache', () => {
  test('a new row with a NaN or an infinity gets a non-finite scale, and every query that sees it gets a non-finite row', async () => {
    const dims = { b: 1, g: 1, s: 3, t: 3, d: 4, dv: 4 };
    const ad = { b: 1, h: 2, g: 1, s: 3, t: 3, d: 4, dv: 4 };
    const att = gqa({ int8: true, causal: true, cache: true });
    const attend = compile(att, SMALL);
    const append = compile(kvAppendInt8('gqa'));
    const zeros = { k_q: new Int8Array(12), k_scale: new Float32Array(3), v_q: new Int8Array(12), v_scale: new Float32Array(3) };
    // query row p sees tokens 0..p (causal, kv_len = 3 = s)
    for (const [tensor, token, value, nonFiniteRows] of [
      ['k', 1, NaN, [1, 2]],
      ['v', 0, Infinity, [0, 1, 2]],
    ] as const) {
      const r = rng(8);
      const x = { ...zeros, k_new: randn(r, 12), v_new: randn(r, 12), kv_len: Int32Array.of(0) };
      x[`${tensor}_new`][token * 4 + 2] = value;
      const want = interpret(kvAppendInt8('gqa'), x, dims);
      const got = (await append.run(x, dims)).outputs;
      for (const sc of [got[`${tensor}_scale_next`]!.data, want[`${tensor}_scale_next`]!.data])
        expect(
          Array.from(sc, (a) => !Number.isFinite(a)),
          `${tensor}_scale`,
        ).toEqual([0, 1, 2].map((t) => t === token));
      const ins = {
        q: randn(r, 24),
        k_q: got.k_q_next!.data,
        k_scale: got.k_scale_next!.data,
        v_q: got.v_q_next!.data,
        v_scale: got.v_scale_next!.data,
        kv_len: Int32Array.of(3),
      };
      const o = (await attend.run(ins, ad)).outputs.o!.data;
      const ref = interpret(att, { ...ins, k_q: want.k_q_next!.data, v_q: want.v_q_next!.data }, ad).o!.data;
      for (let h = 0; h < 2; h++)
        for (let s = 0; s < 3; s++)
          for (let c = 0; c < 4; c++) {
            const i = (h * 3 + s) * 4 + c;
            if ((nonFiniteRows as readonly number[]).includes(s)) {
              expect(Number.isFinite(o[i]!), `${tensor}: row ${s} on the GPU`).toBe(false);
              expect(Number.isFinite(ref[i]!), `${tensor}: row ${s} in the interpreter`).toBe(false);
            } else expect(Math.abs(o[i]! - ref[i]!), `${tensor}: row ${s}`).toBeLessThan(1e-5);
          }
    }
  });

  test('reductions propagate NaN on the GPU as in the interpreter (the quantiser relies on max)', async () => {
    const x = input('x', 'i j');
    const g = graph('mx', { m: x.abs().max('j'), s: x.sum('j') });
    const v = Float32Array.from([1, NaN, 2, NaN, 3, 1, 1, 1, Infinity]);
    const got = (await compile(g).run({ x: v }, { i: 3, j: 3 })).outputs;
    const want = interpret(g, { x: v }, { i: 3, j: 3 });
    expect(Array.from(got.m!.data)).toEqual(Array.from(want.m!.data)); // [NaN, NaN, Infinity]
    expect(Array.from(got.s!.data)).toEqual(Array.from(want.s!.data));
  });
});
