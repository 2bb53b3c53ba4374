/**
 * The schedules compile() picks from the sizes and the device: for decoding, lanes for a few rows
 * and shared K/V tiles for many rows per KV head; for long prefill on a CPU rasteriser, wide row tiles.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { compile, interpret } from '../../src/index.ts';
import { findFlash, specializeFor, wideRowsSchedule } from '../../src/lower/flash/index.ts';
import { closeRuntime, getRuntime } from '../../src/runtime/index.ts';
import { gqa, mha, mla, mqa } from '../../src/variants/index.ts';

beforeAll(async () => {
  await getRuntime();
});
afterAll(closeRuntime);

const wave = (n: number, phase: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + phase) * 0.5);

describe('decode schedules', () => {
  test('GQA with 4 query heads per KV head: lanes share a row tile', () => {
    const s = specializeFor(gqa(), {}, { b: 1, h: 32, g: 8, s: 1, t: 4096, d: 128, dv: 128 })!.opts.flashSchedule!;
    expect(s).toMatchObject({ kvLanes: 8, workgroup: 8, rows: 4 });
  });

  test('MQA with 32 query heads on one KV head: 8 invocations × 4 rows read each K/V tile once', () => {
    const s = specializeFor(mqa(), {}, { b: 1, h: 32, s: 1, t: 8192, d: 128, dv: 128 })!.opts.flashSchedule!;
    expect(s).toMatchObject({ kvLanes: 1, workgroup: 8, rows: 4 });
    const small = specializeFor(mqa(), {}, { b: 1, h: 16, s: 1, t: 8192, d: 128, dv: 128 })!.opts.flashSchedule!;
    expect(small).toMatchObject({ kvLanes: 1, workgroup: 4, rows: 4 });
  });

  test('on a CPU rasteriser with subgroups, MQA rows take tiles of 16 whose 8 lanes stream keys of their own', () => {
    const dims = { b: 1, h: 32, s: 1, t: 8192, d: 128, dv: 128 };
    expect(specializeFor(mqa(), {}, dims, true, { cpu: true, subgroupSize: 8 })!.opts.flashSchedule).toMatchObject({
      kvLanes: 8,
      workgroup: 8,
      rows: 16,
      subgroups: true,
    });
    // without shuffles the lanes would merge 16 rows through workgroup memory: the GPU layout instead
    expect(specializeFor(mqa(), {}, dims, true, { cpu: true })!.opts.flashSchedule).toMatchObject({ kvLanes: 1, workgroup: 8, rows: 4 });
  });

  test('a schedule the caller gives wins over the shared-rows defaults', () => {
    const s = specializeFor(mqa(), { flashSchedule: { rows: 2, workgroup: 2 } }, { b: 1, h: 32, s: 1, t: 8192, d: 64, dv: 64 })!.opts.flashSchedule!;
    expect(s).toMatchObject({ kvLanes: 1, workgroup: 2, rows: 2 });
  });

  test('MQA decode on the shared-rows schedule of this adapter (with split-KV, a causal cache and ragged rows) = interpreter', async () => {
    const g = mqa({ causal: true, cache: true });
    const dims = { b: 2, h: 20, s: 1, t: 700, d: 12, dv: 7 };
    const inputs = {
      q: wave(2 * 20 * 12, 0),
      k: wave(2 * 700 * 12, 1),
      v: wave(2 * 700 * 7, 2),
      kv_len: Int32Array.from([700, 333]),
    };
    const got = (await compile(g).run(inputs, dims)).outputs.o!.data;
    const want = interpret(g, inputs, dims).o!.data;
    expect(Math.max(...want.map((w, i) => Math.abs(w - got[i]!)))).toBeLessThan(1e-5);
    expect(
      compile(g)
        .planFor(dims)
        .kernels.map((k) => k.name.replace(/^.*_0_/, '')),
    ).toContain('flash_merge');
  });
});

describe('prefill on a CPU rasteriser: 16 query rows per invocation from q × t ≥ 2^18', () => {
  const matches = findFlash(mha()).matches;
  const at = (s: number, t: number) => ({ b: 1, h: 8, s, t, d: 64, dv: 64 });

  test('the policy: long prefill on a CPU gets 16 rows; short prefill, decoding, hardware and a given schedule do not', () => {
    expect(wideRowsSchedule(matches, at(1024, 1024), {}, { cpu: true })).toEqual({ rows: 16 });
    expect(wideRowsSchedule(matches, at(256, 1024), {}, { cpu: true })).toEqual({ rows: 16 });
    expect(wideRowsSchedule(matches, at(256, 256), {}, { cpu: true })).toEqual({});
    expect(wideRowsSchedule(matches, at(1, 8192), {}, { cpu: true })).toEqual({});
    expect(wideRowsSchedule(matches, at(1024, 1024), {}, {})).toEqual({});
    expect(wideRowsSchedule(matches, at(1024, 1024), { rows: 2 }, { cpu: true })).toEqual({});
    expect(wideRowsSchedule(matches, { ...at(1024, 1024), dv: 512 }, {}, { cpu: true })).toEqual({});
    expect(specializeFor(mha(), {}, at(1024, 1024), true, { cpu: true })!.opts.flashSchedule!.rows).toBe(16);
    expect(specializeFor(mha(), { flashSchedule: { rows: 4 } }, at(1024, 1024), true, { cpu: true })!.opts.flashSchedule!.rows).toBe(4);
  });

  test('on lavapipe a long causal prefill runs the 16-row kernel and matches the interpreter, ragged row tiles included', async () => {
    const rt = await getRuntime();
    const g = mha({ causal: true });
    const dims = { b: 1, h: 2, s: 600, t: 600, d: 8, dv: 8 };
    const plan = await compile(g).planOn(dims, rt);
    if (rt.kind === 'software')
      expect(plan.kernels.find((k) => /_flash(_partial)?$/.test(k.name))!.about!.schedule).toMatch(/^schedule: 16 rows x 8 invocations/);
    const inputs = { q: wave(2 * 600 * 8, 0), k: wave(2 * 600 * 8, 1), v: wave(2 * 600 * 8, 2) };
    const got = (await compile(g).run(inputs, dims, { runtime: rt })).outputs.o!.data;
    const want = interpret(g, inputs, dims).o!.data;
    expect(Math.max(...want.map((w, i) => Math.abs(w - got[i]!)))).toBeLessThan(1e-5);
  });
});

describe('contraction tiles at decode sizes: no register rows on an axis of size 1', () => {
  const absorbed = () => mla({ absorbed: true, causal: true, cache: true });
  const decode = { b: 1, h: 6, s: 1, t: 40, dn: 8, dr: 4, dc: 24, dv: 8 };
  const tiles = (kernels: { about?: { schedule: string } }[]) =>
    kernels.map((k) => k.about?.schedule ?? '').filter((s) => s.includes('register tile') || s.includes('workgroup memory, '));

  test("MLA's absorption and output projection tile over heads at s = 1, over s otherwise", () => {
    const c = compile(absorbed());
    expect(tiles(c.planFor(decode).kernels).map((s) => s.match(/over \(([^)]*)\)/)![1])).toEqual(['h, dc', 'h, dv']);
    expect(tiles(c.planFor({ ...decode, s: 4 }).kernels).map((s) => s.match(/over \(([^)]*)\)/)![1])).toEqual(['s, dc', 's, dv']);
    // the choice is part of the plan's key: the s = 1 plan is not reused for s = 4
    expect(c.planFor(decode)).not.toBe(c.planFor({ ...decode, s: 4 }));
  });

  test('with workgroup-memory staging (GPUs), heads whose weights differ per head take register tiles', () => {
    // w_uk [dc h dn] holds both tile axes, so no operand tile can be shared: register tiles, no 4×8 wasted rows of s
    const c = compile(absorbed(), { shared: true });
    expect(tiles(c.planFor(decode).kernels).every((s) => s.startsWith('schedule: register tile 4x4 over (h, '))).toBe(true);
    expect(tiles(c.planFor({ ...decode, s: 4 }).kernels).every((s) => s.startsWith('schedule: workgroup memory'))).toBe(true);
  });

  test('an MLA decode step with the head-tiled projections matches the interpreter (6 heads: a ragged tile)', async () => {
    const g = absorbed();
    const inputs: Record<string, Float32Array | Int32Array> = {};
    for (const [i, x] of g.inputs.entries()) {
      const n = x.axes.reduce((p, a) => p * (decode as Record<string, number>)[a]!, 1);
      inputs[x.name] = x.dtype === 'i32' ? Int32Array.of(33) : wave(n, i);
    }
    const want = interpret(g, inputs, decode).o!.data;
    const got = (await compile(g).run(inputs, decode)).outputs.o!.data as Float32Array;
    let err = 0;
    for (let i = 0; i < want.length; i++) err = Math.max(err, Math.abs(got[i]! - want[i]!));
    expect(err).toBeLessThan(1e-5);
  });
});
