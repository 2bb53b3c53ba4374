/**
 * KV caches on the device: append writes in place exactly where a host model says, the
 * lengths advance on the device, int8 append quantises as the interpreter does, the paged
 * cache writes through its block table, and a decode step (append + attention) recorded
 * into one session matches the interpreter on the same cache.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { compile, gqa, interpret, KV_LAYOUTS, kvAppendInt8, paged } from '../../src/index.ts';
import {
  CACHE_LAYOUTS,
  closeRuntime,
  FreeListAllocator,
  getRuntime,
  KvCache,
  PagedKvCache,
  runtimeStats,
  Session,
  upload,
  type Runtime,
} from '../../src/runtime/index.ts';
import { maxDiff, randn, rng } from '../variants/reference.ts';
import { rejects } from '../rejects.ts';

let rt: Runtime;
beforeAll(async () => {
  rt = await getRuntime(); // no adapter → the suite fails here with the reason
});
afterAll(closeRuntime);

/** rows [b g s d] written into a host cache [b g t d] at lengths, `counts[b]` rows each */
function hostAppend(cache: Float32Array, rows: Float32Array, lens: Int32Array, counts: number[], g: number, t: number, s: number, d: number) {
  for (let b = 0; b < lens.length; b++)
    for (let h = 0; h < g; h++)
      for (let i = 0; i < counts[b]!; i++) for (let c = 0; c < d; c++) cache[((b * g + h) * t + lens[b]! + i) * d + c] = rows[((b * g + h) * s + i) * d + c]!;
}

describe('contiguous KV cache', () => {
  test('append writes rows in place at each length, uneven counts, and advances the lengths on the device', async () => {
    const dims = { b: 2, g: 2, t: 9, d: 4, dv: 6 };
    const cache = new KvCache(rt, { layout: 'gqa', dims });
    const r = rng(1);
    const hk = new Float32Array(2 * 2 * 9 * 4);
    const hv = new Float32Array(2 * 2 * 9 * 6);
    const lens = new Int32Array(2);
    for (const [s, counts] of [
      [3, [3, 1]],
      [1, [1, 1]],
      [2, [0, 2]],
    ] as [number, number[]][]) {
      const k = randn(r, 2 * 2 * s * 4);
      const v = randn(r, 2 * 2 * s * 6);
      const uniform = counts.every((c) => c === s);
      await cache.append({ k, v: upload(rt, v, 'b g s dv', { ...dims, s }) }, uniform ? {} : { counts });
      hostAppend(hk, k, lens, counts, 2, 9, s, 4);
      hostAppend(hv, v, lens, counts, 2, 9, s, 6);
      counts.forEach((c, b) => (lens[b]! += c));
    }
    expect(Array.from(cache.lengths)).toEqual([4, 4]);
    expect(Array.from(await cache.kvLen.read())).toEqual([4, 4]);
    expect(maxDiff(await cache.tensors.k!.read(), hk)).toBe(0);
    expect(maxDiff(await cache.tensors.v!.read(), hv)).toBe(0);
    cache.reset([0, 9]);
    expect(Array.from(await cache.kvLen.read())).toEqual([0, 9]);
    cache.destroy();
  });

  test('a decode step (append + attention) is one submission with no host copies, and matches the interpreter', async () => {
    const dims = { b: 2, h: 4, g: 2, s: 1, t: 11, d: 8, dv: 8 };
    const cache = new KvCache(rt, { layout: 'gqa', dims });
    const r = rng(2);
    const hk = new Float32Array(2 * 2 * 11 * 8);
    const hv = new Float32Array(2 * 2 * 11 * 8);
    const lens = new Int32Array(2);
    // prefill 5 and 2 tokens
    const pk = randn(r, 2 * 2 * 5 * 8);
    const pv = randn(r, 2 * 2 * 5 * 8);
    await cache.append({ k: pk, v: pv }, { counts: [5, 2] });
    hostAppend(hk, pk, lens, [5, 2], 2, 11, 5, 8);
    hostAppend(hv, pv, lens, [5, 2], 2, 11, 5, 8);
    lens.set([5, 2]);
    const step = compile(gqa({ causal: true, cache: true }));
    for (let i = 0; i < 3; i++) {
      const k = upload(rt, randn(r, 2 * 2 * 8), 'b g s d', dims);
      const v = upload(rt, randn(r, 2 * 2 * 8), 'b g s dv', dims);
      const qHost = randn(r, 2 * 4 * 8);
      const q = upload(rt, qHost, 'b h s d', dims);
      const o = upload(rt, new Float32Array(2 * 4 * 8), 'b h s dv', dims);
      const before = runtimeStats(rt).transfers;
      const session = new Session(rt, { timing: true, label: 'decode step' });
      await cache.append({ k, v }, { session });
      await step.run({ q, ...cache.inputs }, dims, { session, into: { o } });
      const res = await session.submit();
      const after = runtimeStats(rt).transfers;
      // the first one-row append uploads its counts tensor (b values), once per cache
      expect(after.bytesUploaded - before.bytesUploaded).toBe(i === 0 ? 8 : 0);
      expect(after.bytesReadBack - before.bytesReadBack).toBe(0);
      expect(res.passes.slice(0, 3)).toEqual(['kv_append_words', 'kv_append_words', 'kv_advance']);
      expect(res.kernelMs!.length).toBe(res.passes.length);
      hostAppend(hk, (await k.read()) as Float32Array, lens, [1, 1], 2, 11, 1, 8);
      hostAppend(hv, (await v.read()) as Float32Array, lens, [1, 1], 2, 11, 1, 8);
      lens[0]!++;
      lens[1]!++;
      const want = interpret(gqa({ causal: true, cache: true }), { q: qHost, k: hk, v: hv, kv_len: lens }, dims).o!.data;
      expect(maxDiff(await o.read(), want)).toBeLessThan(1e-5);
    }
    cache.destroy();
  });

  test("the runtime's cache layouts and the int8 append graphs' layouts name the same tensors", () => {
    // two tables by the layering (the runtime imports no variant, variants are DSL only); this keeps them one fact
    const { mha: _contiguousOnly, ...shared } = CACHE_LAYOUTS;
    expect(shared).toEqual(KV_LAYOUTS);
  });

  test('int8 append quantises each row as kvAppendInt8 does in the interpreter', async () => {
    const dims = { b: 2, g: 2, t: 7, d: 8, dv: 4, s: 2 };
    const cache = new KvCache(rt, { layout: 'gqa', dims, dtype: 'int8' });
    const r = rng(3);
    const k = randn(r, 2 * 2 * 2 * 8, 3);
    const v = randn(r, 2 * 2 * 2 * 4, 3);
    k.fill(0, 0, 8); // an all-zero row: scale 0, q 0
    await cache.append({ k, v }, { counts: [2, 1] });

    // the interpreter's append, step by step from an empty cache
    const empty = {
      k_q: new Int8Array(2 * 2 * 7 * 8),
      k_scale: new Float32Array(2 * 2 * 7),
      v_q: new Int8Array(2 * 2 * 7 * 4),
      v_scale: new Float32Array(2 * 2 * 7),
    };
    const g = kvAppendInt8('gqa');
    // counts [2, 1]: sequence 1's second row is not appended; emulate with two single-row appends
    const one = (x: Float32Array, d: number, i: number, seqs: number[]) =>
      Float32Array.from({ length: 2 * 2 * d }, (_, j) => {
        const [b, h, c] = [Math.floor(j / (2 * d)), Math.floor(j / d) % 2, j % d];
        return seqs.includes(b) ? x[((b * 2 + h) * 2 + i) * d + c]! : 0;
      });
    let state: { k_q: Int8Array; k_scale: Float32Array; v_q: Int8Array; v_scale: Float32Array } = { ...empty };
    const apply = (kRows: Float32Array, vRows: Float32Array, lens: number[], only: number[]) => {
      const out = interpret(g, { ...state, k_new: kRows, v_new: vRows, kv_len: Int32Array.from(lens) }, { b: 2, g: 2, t: 7, d: 8, dv: 4, s: 1 });
      // sequences outside `only` keep their old rows
      const keep = (name: 'k_q' | 'k_scale' | 'v_q' | 'v_scale', next: ArrayLike<number>) => {
        const old = state[name];
        const per = old.length / 2;
        const res = old.slice() as typeof old;
        for (const b of only) for (let j = 0; j < per; j++) res[b * per + j] = next[b * per + j]!;
        return res;
      };
      state = {
        k_q: keep('k_q', out.k_q_next!.data) as Int8Array,
        k_scale: keep('k_scale', out.k_scale_next!.data) as Float32Array,
        v_q: keep('v_q', out.v_q_next!.data) as Int8Array,
        v_scale: keep('v_scale', out.v_scale_next!.data) as Float32Array,
      };
    };
    apply(one(k, 8, 0, [0, 1]), one(v, 4, 0, [0, 1]), [0, 0], [0, 1]);
    apply(one(k, 8, 1, [0]), one(v, 4, 1, [0]), [1, 1], [0]);
    // a third one-row append for sequence 0 only
    const kThird = one(k, 8, 1, [0, 1]).map((x) => -x);
    const vThird = one(v, 4, 0, [0, 1]);
    await cache.append({ k: kThird, v: vThird }, { counts: [1, 0] });
    apply(kThird, vThird, [2, 1], [0]);
    expect(Array.from(cache.lengths)).toEqual([3, 1]);
    expect(Array.from(await cache.tensors.k_q!.read())).toEqual(Array.from(state.k_q));
    expect(Array.from(await cache.tensors.v_q!.read())).toEqual(Array.from(state.v_q));
    expect(maxDiff(await cache.tensors.k_scale!.read(), state.k_scale)).toBeLessThan(1e-7);
    expect(maxDiff(await cache.tensors.v_scale!.read(), state.v_scale)).toBeLessThan(1e-7);
    cache.destroy();
  });

  test('MLA latent cache and f16 storage', async () => {
    const dims = { b: 1, t: 5, dc: 4, dr: 2 };
    const mla = new KvCache(rt, { layout: 'mla', dims });
    await mla.append({ c_kv: Float32Array.from([1, 2, 3, 4]), k_rope: Float32Array.from([5, 6]) });
    expect(Array.from(await mla.tensors.c_kv!.read()).slice(0, 8)).toEqual([1, 2, 3, 4, 0, 0, 0, 0]);
    expect(Array.from(await mla.tensors.k_rope!.read()).slice(0, 4)).toEqual([5, 6, 0, 0]);
    const half = new KvCache(rt, { layout: 'mqa', dims: { b: 1, t: 3, d: 2, dv: 2 }, dtype: 'f16' });
    await half.append({ k: Uint16Array.from([0x3c00, 0x4000]), v: Uint16Array.from([0x4200, 0x4400]) });
    await half.append({ k: Uint16Array.from([0x4500, 0x4600]), v: Uint16Array.from([0x4700, 0x4800]) });
    expect(Array.from(await half.tensors.k!.read())).toEqual([0x3c00, 0x4000, 0x4500, 0x4600, 0, 0]);
    mla.destroy();
    half.destroy();
  });

  test('bad appends and layouts get one clear error each', async () => {
    const dims = { b: 2, g: 1, t: 4, d: 4, dv: 4 };
    const cache = new KvCache(rt, { layout: 'gqa', dims });
    const rows = (s: number) => ({ k: new Float32Array(2 * s * 4), v: new Float32Array(2 * s * 4) });
    await cache.append(rows(3));
    expect((await rejects(cache.append(rows(2)))).message).toMatch(/sequence 0 holds 3 tokens; appending 2 more would exceed its capacity of 4/);
    expect((await rejects(cache.append({ k: new Float32Array(8) } as never))).message).toMatch(/missing new rows 'v' \[b g s dv\]/);
    expect((await rejects(cache.append({ ...rows(1), w: new Float32Array(8) }))).message).toMatch(/unknown tensor 'w'/);
    expect((await rejects(cache.append({ k: new Float32Array(7), v: new Float32Array(8) }))).message).toMatch(/must hold s × 8 values \(\[b g s d\]\), got 7/);
    expect((await rejects(cache.append({ k: new Float32Array(8), v: new Float32Array(16) }))).message).toMatch(/'k' has 1, 'v' has 2/);
    expect((await rejects(cache.append(rows(1), { counts: [2, 0] }))).message).toMatch(/counts\[0\] = 2; each sequence appends 0..1/);
    expect((await rejects(() => new KvCache(rt, { layout: 'nope' as never, dims }))).message).toMatch(/unknown layout 'nope'/);
    expect((await rejects(() => new KvCache(rt, { layout: 'gqa', dims: { ...dims, d: 0 } }))).message).toMatch(/axis 'd' needs a positive integer size/);
    expect((await rejects(() => new KvCache(rt, { layout: 'gqa', dims: { ...dims, d: 3 }, dtype: 'f16' }))).message).toMatch(/must be even/);
    expect((await rejects(() => new KvCache(rt, { layout: 'gqa', dims: { ...dims, d: 6 }, dtype: 'int8' }))).message).toMatch(/multiple of 4/);
    expect((await rejects(() => new KvCache(rt, { layout: [['k;x', 'b t d']], dims }))).message).toMatch(/names are letters/);
    expect((await rejects(() => new KvCache(rt, { layout: [['k', 'g t d']], dims }))).message).toMatch(/first axis must be the batch axis 'b'/);
    expect(Array.from(await cache.kvLen.read())).toEqual([3, 3]); // nothing ran for the failed appends
    cache.destroy();
  });
});

describe('paged KV cache', () => {
  test('append writes through the block table, blocks come from the allocator, paged attention reads the pool in the same session', async () => {
    const dims = { b: 2, h: 4, g: 2, s: 1, n: 9, blk: 3, m: 4, d: 4, dv: 4 };
    const cache = new PagedKvCache(rt, { dims });
    const r = rng(5);
    // prefill 4 and 7 tokens, then decode steps; reference: a contiguous host cache per sequence
    const T = dims.m * dims.blk;
    const hk = new Float32Array(2 * 2 * T * 4);
    const hv = new Float32Array(2 * 2 * T * 4);
    const lens = new Int32Array(2);
    const pk = randn(r, 2 * 2 * 7 * 4);
    const pv = randn(r, 2 * 2 * 7 * 4);
    await cache.append({ k: pk, v: pv }, { counts: [4, 7] });
    hostAppend(hk, pk, lens, [4, 7], 2, T, 7, 4);
    hostAppend(hv, pv, lens, [4, 7], 2, T, 7, 4);
    lens.set([4, 7]);
    expect(cache.blocksOf(0)).toBe(2);
    expect(cache.blocksOf(1)).toBe(3);
    expect(Array.from(await cache.blockTable.read())).toEqual(Array.from(cache.table));
    const attn = compile(paged({ causal: true }));
    for (let step = 0; step < 3; step++) {
      const k = randn(r, 2 * 2 * 4);
      const v = randn(r, 2 * 2 * 4);
      const qHost = randn(r, 2 * 4 * 4);
      const session = new Session(rt);
      await cache.append({ k, v }, { session });
      const o = (await attn.run({ q: upload(rt, qHost, 'b h s d', dims), ...cache.inputs }, dims, { session })).tensors.o!;
      await session.submit();
      hostAppend(hk, k, lens, [1, 1], 2, T, 1, 4);
      hostAppend(hv, v, lens, [1, 1], 2, T, 1, 4);
      lens[0]!++;
      lens[1]!++;
      const want = interpret(gqa({ causal: true, cache: true }), { q: qHost, k: hk, v: hv, kv_len: lens }, { b: 2, h: 4, g: 2, s: 1, t: T, d: 4, dv: 4 }).o!
        .data;
      expect(maxDiff(await o.read(), want)).toBeLessThan(1e-5);
    }
    // the pool holds exactly the rows at the table's slots
    const pool = await cache.pools.k_cache.read();
    for (let b = 0; b < 2; b++)
      for (let p = 0; p < lens[b]!; p++) {
        const block = cache.table[b * dims.m + Math.floor(p / dims.blk)]!;
        for (let h = 0; h < 2; h++)
          for (let c = 0; c < 4; c++) expect(pool[((block * 2 + h) * dims.blk + (p % dims.blk)) * 4 + c]).toBe(hk[((b * 2 + h) * T + p) * 4 + c]);
      }
    // the unused tail of each table is -1
    expect(cache.table[0 * dims.m + 3]).toBe(-1);
    cache.release(0);
    expect(Array.from(await cache.kvLen.read())).toEqual([0, 10]);
    expect(Array.from((await cache.blockTable.read()).slice(0, 4))).toEqual([-1, -1, -1, -1]);
    cache.destroy();
  });

  test('the allocator can be replaced, and running out of blocks or table entries is an error', async () => {
    const dims = { b: 1, g: 1, n: 4, blk: 2, m: 2, d: 4, dv: 4 };
    const given: number[] = [];
    const allocator = {
      allocate: (_: number, count: number) => Array.from({ length: count }, () => (given.push(3 - given.length), given[given.length - 1]!)),
      release: () => {},
    };
    const cache = new PagedKvCache(rt, { dims, allocator });
    await cache.append({ k: new Float32Array(3 * 4), v: new Float32Array(3 * 4) });
    expect(Array.from(cache.table)).toEqual([3, 2]);
    expect((await rejects(cache.append({ k: new Float32Array(2 * 4), v: new Float32Array(2 * 4) }))).message).toMatch(/capacity of 4/);
    const small = new PagedKvCache(rt, { dims: { ...dims, b: 2, n: 1, m: 4 } });
    expect((await rejects(small.append({ k: new Float32Array(2 * 3 * 4), v: new Float32Array(2 * 3 * 4) }))).message).toMatch(
      /needs 2 more blocks but only 1 of the pool's 1 \(n\) are free/,
    );
    expect(new FreeListAllocator(3).allocate(0, 2)).toEqual([0, 1]);
    cache.destroy();
    small.destroy();
  });
});
