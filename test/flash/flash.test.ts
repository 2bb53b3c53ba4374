/**
 * The fused flash kernel on the GPU: random variants, shapes and schedules against
 * the interpreter and the unfused lowering; tiling and split invariance; block
 * skipping counts; numerics corners. Replay with EINATTN_SEED=<seed>.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { compile } from '../../src/compile.ts';
import { interpret } from '../../src/index.ts';
import { closeRuntime, getRuntime } from '../../src/runtime/index.ts';
import { mha } from '../../src/variants/index.ts';
import type { CompileOptions } from '../../src/compile.ts';
import type { Graph } from '../../src/index.ts';
import { build, dimsOf, inputsOf, maxDiff, scheduleArb, variantArb, type Variant } from './attention.ts';

beforeAll(async () => {
  await getRuntime(); // no adapter → the suite fails here with the reason
});
afterAll(closeRuntime);

/** Runs `g` fused under `opts` and checks every output against the interpreter and against the unfused lowering. */
async function expectFlashMatches(g: Graph, dims: Record<string, number>, opts: CompileOptions, inputs = inputsOf(g, dims), tol = 1e-5) {
  const want = interpret(g, inputs, dims);
  const fused = compile(g, opts);
  const got = await fused.run(inputs, dims);
  expect(
    fused.plan.kernels.some((k) => k.name.includes('flash')),
    'the fused kernel was used',
  ).toBe(true);
  const unfused = await compile(g, { flash: false }).run(inputs, dims);
  for (const [name, w] of Object.entries(want)) {
    const o = got.outputs[name]!;
    expect(o.shape).toEqual(w.shape);
    const scale = 1 + w.data.reduce((m, x) => Math.max(m, Number.isFinite(x) ? Math.abs(x) : 0), 0);
    const e1 = maxDiff(w.data, o.data);
    expect(e1, `${name} vs interpreter\n${fused.explain()}`).toBeLessThanOrEqual(tol * scale);
    const e2 = maxDiff(unfused.outputs[name]!.data, o.data);
    expect(e2, `${name} vs unfused lowering`).toBeLessThanOrEqual(tol * scale);
    for (let i = 0; i < o.data.length; i++) if (Number.isNaN(o.data[i]!)) throw new Error(`${name}[${i}] is NaN`);
  }
  return got;
}

const seed = process.env.EINATTN_SEED ? Number(process.env.EINATTN_SEED) : undefined;
const shapeArb = fc.record({
  b: fc.integer({ min: 1, max: 2 }),
  h: fc.integer({ min: 1, max: 2 }),
  s: fc.integer({ min: 1, max: 19 }),
  t: fc.integer({ min: 1, max: 37 }),
  d: fc.constantFrom(1, 3, 8, 13),
  dv: fc.constantFrom(1, 5, 8, 11),
});

test('random variants, shapes and schedules: fused = interpreter = unfused', async () => {
  await fc.assert(
    fc.asyncProperty(variantArb, shapeArb, scheduleArb, fc.boolean(), async (v, shape, sched, spec) => {
      const g = build(v);
      const dims = dimsOf(v, shape);
      await expectFlashMatches(g, dims, { flashSchedule: sched, specializeHeadDims: spec }, undefined, 2e-6 * Math.sqrt(shape.t * shape.d) + 2e-6);
    }),
    { numRuns: Number(process.env.EINATTN_FLASH_RUNS ?? 8), seed, endOnFailure: true },
  );
});

describe('head dims', () => {
  const v: Variant = { layout: 'mha', mask: 'causal', mod: 'scale', sink: false, lse: true, epilogue: false };
  test.each([
    [80, 80],
    [96, 96],
    [160, 160],
    [192, 128],
    [576, 512],
  ])('d = %i, dv = %i, ragged s and t', async (d, dv) => {
    const g = build(v);
    const dims = dimsOf(v, { b: 1, h: 2, s: d === 576 ? 1 : 5, t: 23, d, dv });
    await expectFlashMatches(g, dims, { flashSchedule: { rows: 2, kvTile: 4 } }, undefined, 2e-6 * Math.sqrt(23 * d));
  });
  test('specialized head dims: literals in WGSL, Q cached, other sizes rejected', async () => {
    const g = build(v);
    const dims = dimsOf(v, { b: 1, h: 2, s: 5, t: 23, d: 80, dv: 48 });
    const c = compile(g, { specializeHeadDims: true, flashSchedule: { rows: 2, kvTile: 4, maxDvChunk: 32 } });
    await expectFlashMatches(
      g,
      dims,
      { specializeHeadDims: true, flashSchedule: { rows: 2, kvTile: 4, maxDvChunk: 32 } },
      undefined,
      2e-6 * Math.sqrt(23 * 80),
    );
    expect(c.planFor(dims).staticSizes).toEqual({ d: 80, dv: 48 });
    expect(c.planFor(dims).kernels.find((k) => /_flash(_partial)?$/.test(k.name))!.wgsl).toContain('array<f32, 80>');
  });
  test('by default head dims of 64 and more are literals and the cached-Q product runs in blocks of 16 keys; smaller ones stay uniforms', async () => {
    const g = build(v);
    const big = dimsOf(v, { b: 1, h: 2, s: 9, t: 37, d: 64, dv: 64 });
    await expectFlashMatches(g, big, {}, undefined, 2e-6 * Math.sqrt(37 * 64));
    const flash = (dims: Record<string, number>) =>
      compile(g)
        .planFor(dims)
        .kernels.find((k) => /_flash(_partial)?$/.test(k.name))!.wgsl;
    expect(flash(big)).toMatch(/scores in register blocks of 16 keys/);
    expect(flash(big)).toMatch(/_dot7k15_ \+= /);
    const small = dimsOf(v, { b: 1, h: 2, s: 9, t: 37, d: 32, dv: 32 });
    expect(compile(g).planFor(small).staticSizes).toEqual({});
    expect(flash(small)).not.toMatch(/register blocks/);
    expect(() => compile(g, { flashSchedule: { kvTile: 16, qkBlock: 5 } })).toThrow(
      /qkBlock must be 'auto' or a positive integer dividing kvTile \(16\), got 5/,
    );
  });
});

describe('tiling never changes the meaning of the mask', () => {
  const configs = [
    { rows: 1, kvTile: 1, workgroup: 1, split: 1 },
    { rows: 2, kvTile: 3, workgroup: 4, split: 1 },
    { rows: 3, kvTile: 8, workgroup: 2, blockMask: false, split: 1 },
    { rows: 2, kvTile: 5, workgroup: 3, split: 3 },
    { rows: 2, kvTile: 3, workgroup: 4, kvLanes: 4, split: 1 },
    { rows: 1, kvTile: 4, workgroup: 8, kvLanes: 2, split: 2 },
    { rows: 2, kvTile: 3, workgroup: 8, kvLanes: 4, subgroups: true, split: 1 },
    { rows: 1, kvTile: 2, workgroup: 8, kvLanes: 8, subgroups: true, split: 2 },
    { rows: 16, kvTile: 16, workgroup: 2, split: 1 }, // the wide CPU prefill tile: 32 rows, more than s
  ];
  test.each(['causal', 'document', 'blocksparse'] as const)('%s: every tile configuration gives the same output', async (mask) => {
    const v: Variant = { layout: 'named', mask, mod: 'alibi', sink: false, lse: true, epilogue: false };
    const g = build(v);
    const dims = dimsOf(v, { b: 2, h: 2, s: 21, t: 30, d: 8, dv: 6 });
    const inputs = inputsOf(g, dims);
    const outs = [];
    for (const flashSchedule of configs) outs.push((await compile(g, { flashSchedule }).run(inputs, dims)).outputs);
    for (const o of outs.slice(1)) {
      expect(maxDiff(outs[0]!.o!.data, o.o!.data)).toBeLessThanOrEqual(2e-6);
      expect(maxDiff(outs[0]!.lse!.data, o.lse!.data)).toBeLessThanOrEqual(2e-6);
    }
  });
});

test('split-KV = one pass, for random splits and decode shapes', async () => {
  await fc.assert(
    fc.asyncProperty(
      variantArb,
      fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 1, max: 90 }),
      fc.integer({ min: 2, max: 7 }),
      fc.constantFrom(1, 4, 8),
      async (v, s, t, split, kvTile) => {
        const g = build(v);
        const dims = dimsOf(v, { b: 1, h: 2, s, t, d: 8, dv: 8 });
        const inputs = inputsOf(g, dims);
        const one = compile(g, { flashSchedule: { split: 1, kvTile } });
        const many = compile(g, { flashSchedule: { split, kvTile } });
        const a = (await one.run(inputs, dims)).outputs;
        const b = (await many.run(inputs, dims)).outputs;
        expect(many.plan.kernels.some((k) => k.name.endsWith('_merge'))).toBe(true);
        // relative to the values: an lse near 8 carries f32 rounding of ~1e-6 through the merge's log/exp
        for (const name of Object.keys(a)) {
          const scale = 1 + Array.from(a[name]!.data).reduce((m, x) => (Number.isFinite(x) ? Math.max(m, Math.abs(x)) : m), 0);
          expect(maxDiff(a[name]!.data, b[name]!.data), name).toBeLessThanOrEqual(2e-6 * scale);
        }
      },
    ),
    { numRuns: 5, seed, endOnFailure: true },
  );
});

test('decode shapes choose split-KV automatically; a long prefill does not', () => {
  const c = compile(mha());
  const decode = c.planFor({ b: 1, h: 2, s: 1, t: 4096, d: 64, dv: 64 });
  expect(decode.kernels.map((k) => k.name)).toEqual(['mha_0_flash_partial', 'mha_0_flash_merge']);
  const prefill = c.planFor({ b: 4, h: 8, s: 1024, t: 1024, d: 64, dv: 64 });
  expect(prefill.kernels.map((k) => k.name)).toEqual(['mha_0_flash']);
  expect(compile(mha(), { flashSchedule: { split: 1 } }).planFor({ b: 1, h: 2, s: 1, t: 4096, d: 64, dv: 64 }).kernels).toHaveLength(1);
});

describe('block skipping', () => {
  /** KV tiles loaded per workgroup, summed, from the debug counter. */
  async function loadedTiles(
    v: Variant,
    shape: { s: number; t: number },
    sched: { rows: number; workgroup: number; kvTile: number; kvLanes?: number; subgroups?: boolean },
  ) {
    const g = build(v);
    const dims = dimsOf(v, { b: 1, h: 2, s: shape.s, t: shape.t, d: 4, dv: 4 });
    const c = compile(g, { flashSchedule: sched, debugTiles: true });
    const r = await c.run(inputsOf(g, dims), dims);
    return Array.from(r.outputs._flash_tiles!.data).reduce((a, b) => a + b, 0);
  }
  const sched = { rows: 2, workgroup: 8, kvTile: 16 }; // 16 query rows per workgroup, 16 keys per tile

  test('causal at s = t loads only the tiles on or below the diagonal (about half)', async () => {
    const n = 8; // 128 / 16 blocks per side
    const loaded = await loadedTiles({ layout: 'mha', mask: 'causal', mod: 'scale', sink: false, lse: false, epilogue: false }, { s: 128, t: 128 }, sched);
    expect(loaded).toBe(2 * ((n * (n + 1)) / 2)); // two heads
    const none = await loadedTiles({ layout: 'mha', mask: 'none', mod: 'scale', sink: false, lse: false, epilogue: false }, { s: 128, t: 128 }, sched);
    expect(none).toBe(2 * n * n);
    // lanes sharing a row tile (16 rows = 2 rows x 8 row invocations of 4 lanes each) skip the same tiles between them
    const lanes = await loadedTiles(
      { layout: 'mha', mask: 'causal', mod: 'scale', sink: false, lse: false, epilogue: false },
      { s: 128, t: 128 },
      { rows: 2, workgroup: 32, kvLanes: 4, kvTile: 16 },
    );
    expect(lanes).toBe(2 * ((n * (n + 1)) / 2));
    const shuffled = await loadedTiles(
      { layout: 'mha', mask: 'causal', mod: 'scale', sink: false, lse: false, epilogue: false },
      { s: 128, t: 128 },
      { rows: 2, workgroup: 32, kvLanes: 4, kvTile: 16, subgroups: true },
    );
    expect(shuffled).toBe(2 * ((n * (n + 1)) / 2));
  });

  test('a sliding window of 5 keys touches at most two tiles per row block', async () => {
    const loaded = await loadedTiles({ layout: 'mha', mask: 'window', mod: 'scale', sink: false, lse: false, epilogue: false }, { s: 160, t: 160 }, sched);
    // row block i (rows 16i..16i+15) sees keys 16i-4 .. 16i+15: tile i, and tile i-1 for i > 0
    expect(loaded).toBe(2 * (10 + 9));
  });

  test('a block-sparse user mask skips the empty blocks the host predicts', async () => {
    const v: Variant = { layout: 'mha', mask: 'blocksparse', mod: 'scale', sink: false, lse: false, epilogue: false };
    const shape = { s: 32, t: 64 };
    const g = build(v);
    const dims = dimsOf(v, { b: 1, h: 2, ...shape, d: 4, dv: 4 });
    const blk = inputsOf(g, dims).blk as Int32Array;
    // host: a 16×16 tile is empty when every (4 × 8) user block inside it is 0
    let expected = 0;
    for (let i = 0; i < 2; i++)
      for (let j = 0; j < 4; j++) {
        let any = false;
        for (let qb = 4 * i; qb < 4 * i + 4; qb++) for (let kb = 2 * j; kb < 2 * j + 2; kb++) if (blk[qb * dims.kb! + kb] === 1) any = true;
        if (any) expected++;
      }
    expect(await loadedTiles(v, shape, sched)).toBe(2 * expected);
  });
});

describe('numerics corners', () => {
  test('a fully masked row returns zeros (and lse -inf), never NaN', async () => {
    const v: Variant = { layout: 'mha', mask: 'deadrows', mod: 'scale', sink: false, lse: true, epilogue: false };
    const g = build(v);
    const dims = dimsOf(v, { b: 1, h: 1, s: 4, t: 4, d: 3, dv: 2 });
    for (const split of [1, 2]) {
      const r = await expectFlashMatches(g, dims, { flashSchedule: { split, rows: 2, kvTile: 4 } });
      expect(Array.from(r.outputs.o!.data.slice(0, 4))).toEqual([0, 0, 0, 0]);
      expect(r.outputs.lse!.data[0]).toBe(-Infinity);
    }
  });

  test('logits of ±1e4 neither overflow nor lose the softmax', async () => {
    const v: Variant = { layout: 'mha', mask: 'causal', mod: 'scale', sink: true, lse: true, epilogue: false };
    const g = build(v);
    const dims = dimsOf(v, { b: 1, h: 2, s: 9, t: 17, d: 4, dv: 3 });
    const inputs = inputsOf(g, dims, { scale: 1e4 });
    const want = interpret(g, inputs, dims);
    for (const split of [1, 3]) {
      const got = (await compile(g, { flashSchedule: { split, rows: 2, kvTile: 4 } }).run(inputs, dims)).outputs;
      expect(maxDiff(want.o!.data, got.o!.data)).toBeLessThanOrEqual(1e-5);
      expect(maxDiff(want.lse!.data, got.lse!.data) / 1e4).toBeLessThanOrEqual(1e-6);
    }
  });

  test('attention sinks: the sink joins the denominator only', async () => {
    const v: Variant = { layout: 'gqa', mask: 'none', mod: 'scale', sink: true, lse: false, epilogue: true };
    const g = build(v);
    for (const split of [1, 2])
      await expectFlashMatches(g, dimsOf(v, { b: 2, h: 2, s: 3, t: 11, d: 5, dv: 4 }), { flashSchedule: { split, rows: 2, kvTile: 4 } });
  });
});
