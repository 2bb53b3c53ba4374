/**
 * Nothing past a declared length is read, on the GPU: cache slots at or past kv_len[b] hold
 * NaN, and a paged cache's pool blocks that no used table entry references hold NaN while the
 * table is padded with -1 past ceil(kv_len[b] / blk). The output must equal the interpreter's
 * on the same inputs with those slots zeroed (the interpreter multiplies masked slots by zero,
 * so it gets sanitised inputs), under several schedules, for ragged batches (kv_len 0, partial
 * tiles and full capacity in one batch).
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { compile, EinattnError, einsum, graph, index, input, type Graph } from '../../src/index.ts';
import type { CompileOptions } from '../../src/compile.ts';
import { closeRuntime, getRuntime } from '../../src/runtime/index.ts';
import { findVariant, gqa, mqa, paged } from '../../src/variants/index.ts';
import { count } from './arbitraries.ts';
import { dimsOf, expectGpuMatch } from './gpu.ts';
import { modInputs, randInt, randn, rng } from './reference.ts';

beforeAll(async () => {
  await getRuntime(); // no adapter → the suite fails here with the reason
});
afterAll(closeRuntime);

type Inputs = Record<string, Float32Array | Int32Array | Int8Array>;

/** Schedules that partition the keys differently: each must stop at the length on its own. */
const SCHEDULES: [string, CompileOptions][] = [
  ['default', {}],
  ['split-KV into 3, KV tiles of 4', { flashSchedule: { split: 3, kvTile: 4 } }],
  // lanes merged by subgroup shuffles where the device has them (lavapipe does), else through workgroup memory
  ['4 lanes per row tile, KV tiles of 4', { flashSchedule: { kvLanes: 4, workgroup: 8, rows: 2, kvTile: 4 } }],
  ['no block mask, KV tiles of 8', { flashSchedule: { blockMask: false, kvTile: 8 } }],
  ['literal head dims: cached Q, scores in blocks of 4 keys', { specializeHeadDims: true, flashSchedule: { kvTile: 8, qkBlock: 4 } }],
  ['4 lanes merged through workgroup memory', { flashSchedule: { kvLanes: 4, workgroup: 8, rows: 2, kvTile: 4, subgroups: false } }],
];
/** Some of {@link SCHEDULES} by index (lavapipe compiles each kernel for a while). */
const some = (...i: number[]) => i.map((k) => SCHEDULES[k]!);

/** Random inputs of `g`: f32 in [-1, 1), i8 in -127..127, kv_len as given. */
function inputsOf(g: Graph, dims: Record<string, number>, seed: number, kvLen: number[]): Inputs {
  const r = rng(seed);
  const mods = modInputs(
    r,
    dims as never,
    g.inputs.map((i) => i.name),
    kvLen,
  );
  return Object.fromEntries(
    g.inputs.map((i) => {
      const n = count(i.axes, dims);
      const data = mods[i.name] ?? (i.dtype === 'i8' ? Int8Array.from(randInt(r, n, -127, 127)) : randn(r, n));
      return [i.name, data];
    }),
  );
}

/** A copy of `x` ([... b ... t ...]) with `fill` in every slot whose token t is at or past kv_len[b]. */
function pastLength<T extends Float32Array | Int8Array>(
  x: T,
  axes: readonly string[],
  dims: Record<string, number>,
  kvLen: readonly number[],
  fill: number,
): T {
  const out = x.slice() as T;
  const shape = axes.map((a) => dims[a]!);
  const [bi, ti] = [axes.indexOf('b'), axes.indexOf('t')];
  for (let i = 0; i < out.length; i++) {
    let rest = i;
    const at = shape.map(() => 0);
    for (let d = shape.length - 1; d >= 0; d--) {
      at[d] = rest % shape[d]!;
      rest = Math.floor(rest / shape[d]!);
    }
    if (at[ti]! >= kvLen[at[bi]!]!) out[i] = fill;
  }
  return out;
}

/**
 * The GPU's inputs (NaN past the length; i8 caches hold -128 there, their scales NaN) and the
 * interpreter's (zeros there), for a graph whose cache inputs have axes b and t.
 */
function poisoned(g: Graph, dims: Record<string, number>, seed: number, kvLen: number[]): { gpu: Inputs; oracle: Inputs } {
  const x = inputsOf(g, dims, seed, kvLen);
  const gpu: Inputs = { ...x };
  const oracle: Inputs = { ...x };
  for (const i of g.inputs) {
    if (!i.axes.includes('t') || !i.axes.includes('b') || i.dtype === 'i32') continue;
    const data = x[i.name] as Float32Array | Int8Array;
    gpu[i.name] = pastLength(data, i.axes, dims, kvLen, i.dtype === 'i8' ? -128 : NaN);
    oracle[i.name] = pastLength(data, i.axes, dims, kvLen, 0);
  }
  return { gpu, oracle };
}

describe('contiguous caches: slots at or past kv_len[b] are never read', () => {
  // t = 37: not a multiple of any tile; lengths 0, full, inside a tile, on a tile edge
  const kvLen = [0, 37, 5, 16];
  const cases: [string, Graph, Record<string, number>, [string, CompileOptions][]][] = [
    ['gqa cache (causal)', gqa({ cache: true, causal: true }), { b: 4, h: 4, g: 2, s: 2, t: 37, d: 8, dv: 8 }, SCHEDULES],
    ['mqa cache', mqa({ cache: true }), { b: 4, h: 3, s: 2, t: 37, d: 8, dv: 6 }, some(0, 3)],
    ['mla_decode (c_kv and k_rope caches)', findVariant('mla_decode')!.build(), { b: 4, h: 3, s: 1, t: 37, dn: 8, dr: 4, dc: 16, dv: 8 }, some(0, 1, 2)],
    ['gqa_int8 (k_q, v_q and their scales)', findVariant('gqa_int8')!.build(), { b: 4, h: 4, g: 2, s: 1, t: 37, d: 8, dv: 8 }, some(0, 2, 3)],
  ];
  for (const [name, g, dims, schedules] of cases) {
    test(`${name}: NaN past the length leaves the output unchanged (${schedules.length} schedules)`, async () => {
      const { gpu, oracle } = poisoned(g, dims, 7, kvLen);
      for (const [what, opts] of schedules) {
        try {
          await expectGpuMatch(g, gpu, dims, { oracle, compile: opts });
        } catch (e) {
          throw new Error(`${name}, schedule '${what}': ${(e as Error).message}`);
        }
      }
    });
  }

  test('kv_len = 0 everywhere: nothing is read (all NaN) and every row is exactly zero', async () => {
    const g = gqa({ cache: true, causal: true });
    const dims = { b: 2, h: 4, g: 2, s: 3, t: 20, d: 4, dv: 4 };
    const x = inputsOf(g, dims, 3, [0, 0]);
    x.k = new Float32Array(x.k!.length).fill(NaN);
    x.v = new Float32Array(x.v!.length).fill(NaN);
    for (const [what, opts] of some(0, 1, 2, 3, 5)) {
      const { outputs } = await compile(g, opts).run(x, dims);
      expect(
        [...outputs.o!.data].every((v) => Object.is(v, 0)),
        what,
      ).toBe(true);
    }
  });

  test('an inclusive bound t <= last[b] of a hand-written mask ends the keys at last[b] + 1', async () => {
    const last = input('last', 'b', 'i32', { max: 't' });
    const p = einsum('b s d, b t d -> b s t', input('q', 'b s d'), input('k', 'b t d')).softmax('t', { mask: index('t').le(last) });
    const g = graph('inclusive', { o: einsum('b s t, b t dv -> b s dv', p, input('v', 'b t dv')) });
    const dims = { b: 3, s: 2, t: 21, d: 4, dv: 3 };
    const lasts = [0, 20, 9];
    const x = inputsOf(g, dims, 4, []);
    x.last = Int32Array.from(lasts);
    const live = lasts.map((l) => l + 1);
    const gpu = {
      ...x,
      k: pastLength(x.k as Float32Array, ['b', 't', 'd'], dims, live, NaN),
      v: pastLength(x.v as Float32Array, ['b', 't', 'dv'], dims, live, NaN),
    };
    const oracle = {
      ...x,
      k: pastLength(x.k as Float32Array, ['b', 't', 'd'], dims, live, 0),
      v: pastLength(x.v as Float32Array, ['b', 't', 'dv'], dims, live, 0),
    };
    for (const [, opts] of some(0, 3)) await expectGpuMatch(g, gpu, dims, { oracle, compile: opts });
  });

  test('the flash kernel loads only the tiles below the length (no block mask to skip them)', async () => {
    const g = gqa({ cache: true });
    const dims = { b: 4, h: 2, g: 1, s: 1, t: 37, d: 4, dv: 4 };
    const kvTile = 8;
    const c = compile(g, { debugTiles: true, flashSchedule: { blockMask: false, kvTile, split: 1 } });
    const { outputs } = await c.run(inputsOf(g, dims, 5, kvLen), dims);
    // one workgroup per (b, g) here (one row block, one value chunk)
    const want = kvLen.map((l) => Math.ceil(l / kvTile));
    expect([...outputs._flash_tiles!.data]).toEqual(want);
  });
});

/**
 * A paged cache whose used table entries name distinct pool blocks (shuffled), padded with -1;
 * pool blocks no used entry names, and slots past kv_len in the last used block, hold NaN on
 * the GPU and zeros (with the padding replaced by a valid block) for the interpreter.
 */
function pagedCache(g: Graph, dims: Record<string, number>, seed: number, kvLen: number[]): { gpu: Inputs; oracle: Inputs } {
  const { b: B, n: N, m: M, blk: BLK, g: G, d: D, dv: DV } = dims as Record<'b' | 'n' | 'm' | 'blk' | 'g' | 'd' | 'dv', number>;
  const r = rng(seed);
  const x = inputsOf(g, { ...dims, t: M * BLK }, seed, kvLen);
  const pool = Array.from({ length: N }, (_, i) => i).sort(() => r() - 0.5);
  const table = new Int32Array(B * M).fill(-1);
  const owner = new Map<number, [number, number]>(); // pool block → (sequence, its first token)
  for (let b = 0; b < B; b++)
    for (let m = 0; m < Math.ceil(kvLen[b]! / BLK); m++) {
      table[b * M + m] = pool.pop()!;
      owner.set(table[b * M + m]!, [b, m * BLK]);
    }
  // token slot i of pool block nb is live when a used entry names nb and its token is below the length
  const live = (nb: number, i: number) => {
    const o = owner.get(nb);
    return o !== undefined && o[1] + i < kvLen[o[0]]!;
  };
  const poison = (data: Float32Array, dim: number, fill: number) =>
    data.map((v, k) => (live(Math.floor(k / (G * BLK * dim)), Math.floor(k / dim) % BLK) ? v : fill));
  const gpu = { ...x, block_table: table, k_cache: poison(x.k_cache as Float32Array, D, NaN), v_cache: poison(x.v_cache as Float32Array, DV, NaN) };
  const oracle = {
    ...gpu,
    block_table: table.map((v) => Math.max(v, 0)),
    k_cache: poison(x.k_cache as Float32Array, D, 0),
    v_cache: poison(x.v_cache as Float32Array, DV, 0),
  };
  return { gpu, oracle };
}

describe('paged cache: unused table entries and pool blocks are never read', () => {
  // capacity t = m·blk = 20; lengths: empty, full, one block and a bit, exactly two blocks
  const dims = { b: 4, h: 4, g: 2, s: 2, n: 19, blk: 4, m: 5, d: 8, dv: 8 };
  const kvLen = [0, 20, 5, 8];

  for (const [causal, schedules] of [
    [false, SCHEDULES],
    [true, some(0, 1, 3)],
  ] as const) {
    test(`NaN in unused blocks and slots, -1 past ceil(kv_len / blk): unchanged output${causal ? ', causal' : ''} (${schedules.length} schedules)`, async () => {
      const g = paged({ causal });
      const { gpu, oracle } = pagedCache(g, dims, causal ? 2 : 1, kvLen);
      for (const [what, opts] of schedules) {
        try {
          await expectGpuMatch(g, gpu, dims, { oracle, compile: opts });
        } catch (e) {
          throw new Error(`paged, schedule '${what}': ${(e as Error).message}`);
        }
      }
    });
  }

  test('blocks smaller than a KV tile and larger than one, and a ragged batch', async () => {
    for (const [blk, m, lens] of [
      [3, 7, [21, 0, 10, 1]],
      [16, 2, [17, 32, 0, 9]],
    ] as const) {
      const d = { ...dims, blk, m, n: 4 * m + 1 };
      const g = paged({ causal: true });
      const { gpu, oracle } = pagedCache(g, d, blk, [...lens]);
      await expectGpuMatch(g, gpu, d, { oracle, compile: { flashSchedule: { kvTile: 8 } } });
    }
  });

  test('a bad entry in the used part of the table is still INDEX_RANGE, naming input, position and range', async () => {
    const g = paged();
    const { gpu } = pagedCache(g, dims, 3, kvLen);
    // kv_len[3] = 8 uses entries m = 0, 1 of sequence 3: entry [3, 1] is used, [3, 2] is not
    const bad = { ...gpu, block_table: gpu.block_table.slice() };
    bad.block_table[3 * dims.m + 2] = dims.n + 5; // unused: any value
    await compile(g).run(bad, dimsOf(g, dims));
    for (const v of [-1, dims.n]) {
      bad.block_table[3 * dims.m + 1] = v;
      const e = await compile(g)
        .run(bad, dimsOf(g, dims))
        .then(
          () => undefined,
          (err: unknown) => err,
        );
      expect(e).toBeInstanceOf(EinattnError);
      expect((e as EinattnError).code).toBe('INDEX_RANGE');
      expect((e as EinattnError).message).toContain(`input 'block_table' has ${v} at [b=3 m=1], outside 0..${dims.n - 1}`);
    }
  });
});
