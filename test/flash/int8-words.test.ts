/**
 * int8 K/V read four values per 32-bit word: with a static head dim that is a multiple of 4, the
 * flash kernel steps its qk loop (and its value-column loop) by 4, loads each i8 word once and
 * takes its four bytes in registers; the per-token scale multiplies each key's dot product (and
 * each key's weight) once. The kernels must use that path where it applies, fall back to
 * element loads where it does not, and equal the interpreter either way, with garbage (never
 * read) past kv_len.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { compile, type CompileOptions } from '../../src/compile.ts';
import { interpret, type Graph } from '../../src/index.ts';
import type { ExecPlan } from '../../src/runtime/plan.ts';
import { closeRuntime, getRuntime } from '../../src/runtime/index.ts';
import { gqa, mla, mqa } from '../../src/variants/index.ts';
import { expectWithin } from '../precision/check.ts';
import { randInt, randn, rng } from '../variants/reference.ts';

beforeAll(async () => {
  await getRuntime(); // no adapter → the suite fails here with the reason
});
afterAll(closeRuntime);

const count = (axes: string, d: Record<string, number>) => axes.split(' ').reduce((p, a) => p * d[a]!, 1);

/**
 * Inputs of an int8 graph: random q (f32), i8 caches over the whole capacity, scales in (0.01, 1)
 * below kv_len and 1e30 past it (garbage that any read past the length would make visible).
 */
function int8Inputs(g: Graph, dims: Record<string, number>, kvLen: number[], seed: number) {
  const r = rng(seed);
  const x: Record<string, Float32Array | Int8Array | Int32Array> = {};
  for (const decl of g.inputs) {
    const n = count(decl.axes.join(' '), dims);
    if (decl.dtype === 'i8') x[decl.name] = Int8Array.from(randInt(r, n, -128, 127));
    else if (decl.name === 'kv_len') x[decl.name] = Int32Array.from(kvLen);
    else if (decl.name.endsWith('_scale')) {
      // [b (g) t]: the token axis is last
      const t = dims.t!;
      x[decl.name] = Float32Array.from({ length: n }, (_, i) => (i % t < kvLen[Math.floor(i / (n / dims.b!))]! ? 0.01 + r() : 1e30));
    } else x[decl.name] = randn(r, n, 0.5);
  }
  return x;
}

/** The flash kernel that streams K and V (the split-KV partial kernel, or the one flash kernel). */
const flashWgsl = (plan: ExecPlan) => plan.kernels.find((k) => /flash(_partial)?$/.test(k.name))!.wgsl;

/** How the kernel reads an i8 buffer: element loads (`extractBits(x[o / 4u], …)`), word loads, and the bytes taken from words. */
function i8Reads(wgsl: string, name: string) {
  const n = (re: RegExp) => (wgsl.match(re) ?? []).length;
  return {
    elements: n(new RegExp(`extractBits\\(${name}\\[`, 'g')),
    words: n(new RegExp(`= ${name}\\[`, 'g')),
    bytes: n(new RegExp(`extractBits\\(_${name}_word\\d+_*, \\d+u, 8u\\)`, 'g')),
  };
}

/**
 * Runs `g` with its head dims specialized under `opts` and checks it against the interpreter
 * (f32 compute) or, under f16 products, against the same products on dynamic head dims (element
 * loads); returns the flash kernel's WGSL.
 */
async function expectInterpreter(g: Graph, dims: Record<string, number>, x: Record<string, ArrayLike<number>>, opts: CompileOptions, what: string) {
  const c = compile(g, { specializeHeadDims: true, ...opts });
  const got = (await c.run(x as never, dims)).outputs.o!.data;
  for (let i = 0; i < got.length; i++) expect(Number.isFinite(got[i]!), `${what}: o[${i}] = ${got[i]}`).toBe(true);
  const want =
    opts.compute === 'f16' ? (await compile(g, { ...opts, specializeHeadDims: false }).run(x as never, dims)).outputs.o!.data : interpret(g, x, dims).o!.data;
  expectWithin(got, want, new Float64Array(got.length), 2 * dims.t!, what);
  return flashWgsl(c.planFor(dims));
}

const SCHEDULES: Record<string, CompileOptions> = {
  'the decode schedule (lanes)': {},
  'one key at a time, no lanes': { flashSchedule: { kvLanes: 1, rows: 2, workgroup: 8, qkBlock: 1 } },
  '4-key register blocks, dv in chunks of 4': { flashSchedule: { kvLanes: 1, rows: 2, workgroup: 8, qkBlock: 4, maxDvChunk: 4 } },
  'f16 products (no scale factored out; against the element loads)': { compute: 'f16' },
};

describe('int8 K/V read four values per 32-bit word', () => {
  const g = gqa({ int8: true, causal: true, cache: true });

  for (const [name, opts] of Object.entries(SCHEDULES))
    test(`GQA, d = 24, dv = 20, ${name}: one word load per four values, equal to the interpreter`, async () => {
      const dims = { b: 2, h: 8, g: 2, s: 1, t: 300, d: 24, dv: 20 };
      const x = int8Inputs(g, dims, [300, 173], 1);
      const wgsl = await expectInterpreter(g, dims, x, opts, name);
      for (const buf of ['k_q', 'v_q']) {
        const reads = i8Reads(wgsl, buf);
        expect(reads.elements, `${buf}: no element loads\n${wgsl}`).toBe(0);
        expect(reads.words, `${buf}: word loads`).toBeGreaterThan(0);
        expect(reads.bytes, `${buf}: four bytes per word`).toBe(4 * reads.words);
      }
      expect(wgsl).toContain('_d += 4u');
      expect(wgsl).toContain('i8 K and V read four values per 32-bit word');
    });

  test('d = dv = 64, the decode schedule (lanes and 8-key register blocks, as in the bench): words, equal to the interpreter', async () => {
    const dims = { b: 1, h: 8, g: 2, s: 1, t: 400, d: 64, dv: 64 };
    const wgsl = await expectInterpreter(g, dims, int8Inputs(g, dims, [389], 8), {}, 'decode schedule, d = 64');
    expect(wgsl).toContain('8 invocations per row tile');
    expect(wgsl).toContain('scores in register blocks of 8 keys');
    for (const buf of ['k_q', 'v_q']) expect(i8Reads(wgsl, buf).elements, buf).toBe(0);
    expect(i8Reads(wgsl, 'k_q').bytes).toBe(4 * i8Reads(wgsl, 'k_q').words);
  });

  test('V in chunks of 10 columns (not a multiple of 4): K by words, V by elements, equal to the interpreter', async () => {
    const dims = { b: 1, h: 4, g: 2, s: 3, t: 40, d: 16, dv: 20 };
    const x = int8Inputs(g, dims, [29], 2);
    const wgsl = await expectInterpreter(g, dims, x, { flashSchedule: { maxDvChunk: 10 } }, 'dv chunks of 10');
    expect(i8Reads(wgsl, 'k_q').elements).toBe(0);
    expect(i8Reads(wgsl, 'v_q').words).toBe(0);
    expect(i8Reads(wgsl, 'v_q').elements).toBeGreaterThan(0);
    expect(wgsl).toContain('i8 K read four values per 32-bit word');
  });

  test('d = 6, dv = 10 (not multiples of 4), and dynamic head dims: element loads, equal to the interpreter', async () => {
    const dims = { b: 2, h: 4, g: 2, s: 1, t: 50, d: 6, dv: 10 };
    const x = int8Inputs(g, dims, [50, 7], 3);
    const wgsl = await expectInterpreter(g, dims, x, {}, 'd = 6, dv = 10');
    for (const buf of ['k_q', 'v_q']) expect(i8Reads(wgsl, buf)).toMatchObject({ words: 0, bytes: 0 });
    expect(i8Reads(wgsl, 'k_q').elements).toBeGreaterThan(0);
    expect(wgsl).not.toContain('per 32-bit word');
    const d4 = { ...dims, d: 8, dv: 8 };
    const dynamic = await expectInterpreter(g, d4, int8Inputs(g, d4, [50, 7], 4), { specializeHeadDims: false }, 'dynamic head dims');
    expect(i8Reads(dynamic, 'k_q').words).toBe(0);
  });

  test('the word path equals the element path (same values; only the f32 order of the scale differs)', async () => {
    const dims = { b: 1, h: 8, g: 2, s: 1, t: 64, d: 32, dv: 32 };
    const x = int8Inputs(g, dims, [61], 5);
    const words = (await compile(g, { specializeHeadDims: true }).run(x as never, dims)).outputs.o!.data;
    const elements = (await compile(g, { specializeHeadDims: false }).run(x as never, dims)).outputs.o!.data;
    expectWithin(words, elements, new Float64Array(words.length), 2 * dims.t, 'words vs elements');
  });

  test('MQA (shared rows: 16-key blocks, no lanes) and MLA (two contractions, latent V in chunks): words, equal to the interpreter', async () => {
    const mq = mqa({ int8: true, causal: true, cache: true });
    const md = { b: 1, h: 32, s: 1, t: 300, d: 64, dv: 64 };
    const mqaWgsl = await expectInterpreter(mq, md, int8Inputs(mq, md, [277], 6), {}, 'mqa int8');
    expect(i8Reads(mqaWgsl, 'k_q')).toMatchObject({ elements: 0 });
    expect(i8Reads(mqaWgsl, 'v_q')).toMatchObject({ elements: 0 });
    const ml = mla({ int8: true, absorbed: true, causal: true, cache: true });
    const lat = { b: 1, h: 4, s: 1, t: 40, dn: 8, dr: 8, dc: 32, dv: 8 };
    const mlaWgsl = await expectInterpreter(ml, lat, int8Inputs(ml, lat, [33], 7), { flashSchedule: { maxDvChunk: 16 } }, 'mla int8');
    for (const buf of ['c_kv_q', 'k_rope_q']) expect(i8Reads(mlaWgsl, buf).elements, buf).toBe(0);
  });
});
