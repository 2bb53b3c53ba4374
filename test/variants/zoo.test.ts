/**
 * The variant zoo (issue 21): each variant run by the interpreter against its paper's formula
 * written as loops, on the GPU against the interpreter, metamorphic relations, and the lowering's
 * promise that no temporary holds both the query axis s and the key axis t.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { compile, interpret, type Graph } from '../../src/index.ts';
import { lower } from '../../src/lower/index.ts';
import type { PlanBuffer } from '../../src/runtime/plan.ts';
import { closeRuntime, getRuntime } from '../../src/runtime/index.ts';
import { diff, findVariant, fox, linearAttention, mha, moba, qknorm, relbias, sigmoidAttention, type AttentionOptions } from '../../src/variants/index.ts';
import { count, groupedDimsArb, optionsArb } from './arbitraries.ts';
import { expectGpuMatch } from './gpu.ts';
import { expectClose, modInputs, randn, rng, type HeadDims } from './reference.ts';
import { refDiff, refFox, refLinear, refMoba, refQknorm, refRelbias, refSigmoid, ZOO } from './zoo-reference.ts';

beforeAll(async () => {
  await getRuntime(); // no adapter → the suite fails here with the reason
});
afterAll(closeRuntime);

/** Random inputs for `g`; option inputs via modInputs, `fixed` wins. */
function inputsFor(g: Graph, dims: Record<string, number>, seed: number, fixed: Record<string, ArrayLike<number>> = {}): Record<string, ArrayLike<number>> {
  const r = rng(seed);
  const mods = modInputs(
    r,
    dims as never,
    g.inputs.map((i) => i.name),
  );
  return Object.fromEntries(g.inputs.map((i) => [i.name, fixed[i.name] ?? mods[i.name] ?? randn(r, count(i.axes, dims))]));
}

const dimsOf = (g: Graph, dims: Record<string, number>) => Object.fromEntries(Object.entries(dims).filter(([k]) => g.sizes.includes(k)));
const noSink = (o: AttentionOptions): AttentionOptions => ({ ...o, sink: false });

type Ref<D> = (d: D, x: Record<string, ArrayLike<number>>, o: AttentionOptions) => Float64Array;

/** Interpreter = loops for random shapes and options; `extra` adds sizes, `fixed` replaces inputs. */
function againstLoops<E extends Record<string, number>>(
  build: (o: AttentionOptions) => Graph,
  ref: Ref<HeadDims & E>,
  extra: fc.Arbitrary<E> = fc.constant({} as E),
  fixed: (dims: HeadDims) => Record<string, ArrayLike<number>> = () => ({}),
) {
  fc.assert(
    fc.property(groupedDimsArb, extra, optionsArb, fc.integer(), (d, e, o, seed) => {
      const dims = { ...d, ...e };
      const g = build(o);
      const x = inputsFor(g, dims, seed, fixed(dims));
      expectClose(interpret(g, x, dimsOf(g, dims)).o!.data, ref(dims, x, o), 1e-9);
    }),
    { numRuns: 80 },
  );
}

describe('the zoo against its papers, in the interpreter', () => {
  test('every zoo variant is a built-in', () => {
    for (const name of ZOO.filter((n) => findVariant(n))) expect(findVariant(name)!.build().outputs[0]!.node.axes).toEqual(['b', 'h', 's', 'dv']);
  });
  test('diff: (softmax(q1·k1) − lam·softmax(q2·k2))·v under any mask and score mod', () => {
    againstLoops(
      (o) => diff(noSink(o)),
      (d, x, o) => refDiff(d, x, noSink(o), x),
    );
  });
  test('qknorm: softmax(rms(q)·gq · rms(k)·gk · scale)·v under any option', () => {
    againstLoops(qknorm, (d, x, o) => refQknorm(d, x, o, x));
  });
  test('sigmoid: Σ sigmoid(x − ln T)·keep·v, no normaliser, under any option but sinks', () => {
    againstLoops(
      (o) => sigmoidAttention(noSink(o)),
      (d, x, o) => refSigmoid(d, x, noSink(o), x),
    );
    againstLoops(
      (o) => sigmoidAttention({ ...noSink(o), bias: 0.5 }),
      (d, x, o) => refSigmoid(d, x, { ...noSink(o), bias: 0.5 }, x),
    );
  });
  test('linear: φ(q)·φ(k)·v over the row sum, φ = elu + 1, under any mask', () => {
    againstLoops(linearAttention, (d, x, o) => refLinear(d, x, o, x));
  });
  test('relbias: the clipped relative bias table, odd and even r', () => {
    againstLoops(relbias, (d, x, o) => refRelbias(d, x, o, x), fc.record({ r: fc.integer({ min: 1, max: 7 }) }));
  });
  test('fox: the cumulative log forget gates, always causal', () => {
    const logF = (d: HeadDims) => ({ log_f: Float64Array.from({ length: d.b * d.h * d.t }, (_, i) => -Math.abs(Math.sin(i * 1.7)) * 0.8) });
    againstLoops(fox, (d, x, o) => refFox(d, x, o, x), undefined, logF);
  });
  test('moba: own block plus the top earlier blocks by gate, any block size and topk', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), (topk) => {
        againstLoops(
          (o) => moba({ ...o, topk }),
          (d, x, o) => refMoba(d, x, { ...o, topk }, x),
          fc.record({ blk: fc.integer({ min: 1, max: 4 }) }),
        );
      }),
      { numRuns: 4 },
    );
  });
});

describe('metamorphic relations', () => {
  const dims = { b: 2, h: 3, s: 5, t: 9, d: 6, dv: 4 };
  /** The rows of x [b h n w] at positions `keep` of n, as a [b h keep.length w] array. */
  const rows = (x: ArrayLike<number>, n: number, w: number, keep: number[]) =>
    Float64Array.from({ length: dims.b * dims.h * keep.length * w }, (_, i) => {
      const c = i % w;
      const j = Math.floor(i / w) % keep.length;
      const bh = Math.floor(i / (w * keep.length));
      return x[(bh * n + keep[j]!) * w + c]!;
    });
  test('sigmoid has no normaliser: the output over all keys is the sum over two halves of them (fixed bias)', () => {
    const g = sigmoidAttention({ bias: -1 });
    const x = inputsFor(g, dims, 3);
    const halves = [
      [0, 1, 2, 3],
      [4, 5, 6, 7, 8],
    ].map((keep) => interpret(g, { q: x.q!, k: rows(x.k!, dims.t, dims.d, keep), v: rows(x.v!, dims.t, dims.dv, keep) }, { ...dims, t: keep.length }).o!.data);
    expectClose(
      interpret(g, x, dims).o!.data,
      halves[0]!.map((y, i) => y + halves[1]![i]!),
      1e-12,
    );
  });
  test('linear attention without a mask ignores the order of the keys', () => {
    const g = linearAttention();
    const x = inputsFor(g, dims, 4);
    const order = [3, 8, 0, 5, 1, 7, 2, 6, 4];
    const shuffled = { q: x.q!, k: rows(x.k!, dims.t, dims.d, order), v: rows(x.v!, dims.t, dims.dv, order) };
    expectClose(interpret(g, shuffled, dims).o!.data, interpret(g, x, dims).o!.data, 1e-12);
  });
  test('relbias with a zero table is MHA; with table[h, R + δ] = −slope[h]·|δ| and R ≥ every distance it is ALiBi', () => {
    const opts = { causal: true };
    const x = inputsFor(relbias(opts), { ...dims, r: 21 }, 5);
    const base = { q: x.q!, k: x.k!, v: x.v! };
    expectClose(
      interpret(relbias(opts), { ...base, rel_bias: new Float64Array(dims.h * 21) }, { ...dims, r: 21 }).o!.data,
      interpret(mha(opts), base, dims).o!.data,
      1e-12,
    );
    const slopes = [0.5, 0.25, 0.125];
    const table = Float64Array.from({ length: dims.h * 21 }, (_, i) => -slopes[Math.floor(i / 21)]! * Math.abs((i % 21) - 10));
    const alibi = interpret(mha({ ...opts, alibi: true }), { ...base, slopes }, dims).o!.data;
    expectClose(interpret(relbias(opts), { ...base, rel_bias: table }, { ...dims, r: 21 }).o!.data, alibi, 1e-12);
  });
  test('fox with no forgetting (log_f = 0) is causal MHA; with a constant gate −a it is causal ALiBi of slope a', () => {
    const x = inputsFor(fox(), dims, 6);
    const base = { q: x.q!, k: x.k!, v: x.v! };
    const zero = new Float64Array(dims.b * dims.h * dims.t);
    expectClose(interpret(fox(), { ...base, log_f: zero }, dims).o!.data, interpret(mha({ causal: true }), base, dims).o!.data, 1e-12);
    const alibi = interpret(mha({ causal: true, alibi: true }), { ...base, slopes: [0.3, 0.3, 0.3] }, dims).o!.data;
    expectClose(interpret(fox(), { ...base, log_f: zero.map(() => -0.3) }, dims).o!.data, alibi, 1e-12);
  });
  test('moba reading at least as many blocks as there are is causal MHA', () => {
    const x = inputsFor(moba(), { ...dims, blk: 2 }, 7);
    const base = { q: x.q!, k: x.k!, v: x.v! };
    expectClose(interpret(moba({ topk: 5 }), base, { ...dims, blk: 2 }).o!.data, interpret(mha({ causal: true }), base, dims).o!.data, 1e-12);
  });
  test('diff with lam = 0 is MHA on (q1, k1, v); with q2 = q1, k2 = k1 it is (1 − lam)·MHA', () => {
    const x = inputsFor(diff({ causal: true }), dims, 1);
    const base = interpret(mha({ causal: true }), { q: x.q1!, k: x.k1!, v: x.v! }, dims).o!.data;
    const zero = interpret(diff({ causal: true }), { ...x, lam: [0, 0, 0] }, dims).o!.data;
    expectClose(zero, base, 1e-12);
    const lam = [0.25, 0.5, -1];
    const same = interpret(diff({ causal: true }), { ...x, q2: x.q1!, k2: x.k1!, lam }, dims).o!.data;
    expectClose(
      same,
      base.map((y, i) => y * (1 - lam[Math.floor(i / (dims.s * dims.dv)) % dims.h]!)),
      1e-12,
    );
  });
  test('qknorm ignores the scale of each query and key row', () => {
    const g = qknorm({ causal: true });
    const x = inputsFor(g, dims, 2);
    // each query row by its own factor, every key by 3 (only the eps of 1e-6 notices)
    const q = Float64Array.from(x.q!, (y, i) => y * (1 + (Math.floor(i / dims.d) % 5)));
    const k = Float64Array.from(x.k!, (y) => y * 3);
    expectClose(interpret(g, { ...x, q, k }, dims).o!.data, interpret(g, x, dims).o!.data, 1e-5);
  });
});

describe('the zoo on the GPU', () => {
  const dims = { b: 2, h: 3, s: 6, t: 11, d: 8, dv: 5, r: 5, blk: 3 };
  for (const name of ZOO) {
    test(`${name}: default and causal, against the interpreter`, async () => {
      const v = findVariant(name);
      if (!v) throw new Error(`'${name}' is not a built-in variant yet`);
      for (const [i, opts] of [{}, { causal: true }].entries() as Iterable<[number, Record<string, boolean>]>) {
        const g = v.build(opts);
        await expectGpuMatch(g, inputsFor(g, dims, i), dims);
      }
    });
  }
});

describe('moba skips the blocks a query did not choose', () => {
  test('with one query per row tile and one block per KV tile, each query loads exactly its chosen blocks', async () => {
    const g = moba({ topk: 3 });
    const dims = { b: 1, h: 2, s: 32, t: 32, blk: 4, d: 8, dv: 4 };
    const c = compile(g, { flashSchedule: { rows: 1, workgroup: 1, kvTile: 4, kvLanes: 1, split: 1 }, debugTiles: true });
    const r = await c.run(inputsFor(g, dims, 8), dims);
    // query i's own block is floor(i / 4); it reads that one and the 2 best before it (fewer at the start)
    const chosen = Array.from({ length: dims.s }, (_, i) => Math.min(3, Math.floor(i / 4) + 1));
    const perHead = chosen.reduce((a, b) => a + b, 0);
    expect(Array.from(r.outputs._flash_tiles!.data).reduce((a, b) => a + b, 0)).toBe(dims.h * perHead);
    expect(perHead).toBeLessThan((dims.s * (dims.t / 4 + 1)) / 2); // fewer than causal's tiles
  });
});

/** Buffers of `g`'s plan that are neither inputs nor outputs and hold both s and t. */
function stTemporaries(g: Graph, dims: Record<string, number>): string[] {
  const plan = lower(g, { dims: dimsOf(g, dims) });
  return plan.buffers
    .filter((b: PlanBuffer) => b.role === 'temp' && b.axes.includes('s') && b.axes.includes('t'))
    .map((b: PlanBuffer) => `${b.name}[${b.axes.join(' ')}]`);
}

describe('fused at realistic sizes', () => {
  const dims = { b: 1, h: 8, s: 2048, t: 2048, d: 64, dv: 64, r: 65, blk: 64 };
  for (const name of ZOO) {
    test(`${name} at s = t = 2048 has no temporary with both s and t`, () => {
      const v = findVariant(name);
      if (!v) throw new Error(`'${name}' is not a built-in variant yet`);
      for (const opts of [{}, { causal: true }] as Record<string, boolean>[])
        expect(stTemporaries(v.build(opts), dims), `${name} ${JSON.stringify(opts)}`).toEqual([]);
    });
  }
});
