/**
 * A paged KV cache (vLLM's PagedAttention): K and V live in a pool of fixed-size blocks,
 * each sequence's block table lists its blocks in order, and a host-side allocator (which
 * the user may replace) hands out blocks as sequences grow. The unused tail of a table
 * holds -1; the attention kernel never reads past a sequence's length.
 */
import { fail } from '../../errors.ts';
import type { Runtime } from '../device.ts';
import { runPlan, type RunValue } from '../execute.ts';
import type { ExecPlan } from '../plan.ts';
import { type DeviceTensor, upload, writeWords, zeros } from '../tensor.ts';
import { rowsCount, type AppendOptions } from './cache.ts';
import { appendPagedPlan, sizesFor } from './kernels.ts';
import { SequenceLengths } from './lengths.ts';

/** Hands out pool blocks to sequences. Replace it to share a pool across caches, prefer blocks, or evict. */
export interface BlockAllocator {
  /** `count` free blocks for sequence `seq`; throws when the pool has too few */
  allocate(seq: number, count: number): number[];
  /** returns blocks to the pool */
  release(blocks: readonly number[]): void;
}

/**
 * The default allocator: a free list over blocks 0..n-1, lowest first.
 * @example const a = new FreeListAllocator(1024); a.allocate(0, 2) // [0, 1]
 */
export class FreeListAllocator implements BlockAllocator {
  private readonly free: number[];
  constructor(readonly blocks: number) {
    this.free = Array.from({ length: blocks }, (_, i) => blocks - 1 - i);
  }
  /** blocks not handed out */
  get available(): number {
    return this.free.length;
  }
  allocate(seq: number, count: number): number[] {
    if (count > this.free.length)
      fail(
        'LIMIT',
        `paged KV cache: sequence ${seq} needs ${count} more blocks but only ${this.free.length} of the pool's ${this.blocks} (n) are free; free finished sequences or grow n`,
      );
    return Array.from({ length: count }, () => this.free.pop()!);
  }
  release(blocks: readonly number[]): void {
    this.free.push(...[...blocks].reverse());
  }
}

/** Options of {@link PagedKvCache}. */
export interface PagedKvCacheOptions {
  /** b sequences, g KV heads, n pool blocks of blk tokens, m table entries per sequence, head dims d and dv */
  dims: { b: number; g: number; n: number; blk: number; m: number; d: number; dv: number };
  /** f32 (default) or f16 (d and dv even) */
  dtype?: 'f32' | 'f16';
  /** default: a {@link FreeListAllocator} over the n blocks */
  allocator?: BlockAllocator;
}

const POOLS = [
  ['k_cache', 'k', 'd'],
  ['v_cache', 'v', 'dv'],
] as const;

/**
 * A paged GQA cache: pools k_cache [n g blk d], v_cache [n g blk dv], block_table [b m] and
 * kv_len [b] on the device, as the `paged` variant reads them (pass `cache.inputs`).
 * @example const cache = new PagedKvCache(rt, { dims: { b: 4, g: 8, n: 1024, blk: 16, m: 64, d: 128, dv: 128 } })
 */
export class PagedKvCache {
  readonly runtime: Runtime;
  readonly pools: Readonly<{ k_cache: DeviceTensor; v_cache: DeviceTensor }>;
  readonly blockTable: DeviceTensor;
  readonly kvLen: DeviceTensor;
  /** host mirrors: lengths, and the block table (-1 where unused) */
  readonly lengths: Int32Array;
  private readonly seq: SequenceLengths;
  readonly table: Int32Array;
  readonly allocator: BlockAllocator;
  readonly dims: PagedKvCacheOptions['dims'];
  private readonly plans: Record<'k' | 'v', ExecPlan>;

  constructor(runtime: Runtime, opts: PagedKvCacheOptions) {
    this.runtime = runtime;
    const dims = { ...opts.dims };
    for (const a of ['b', 'g', 'n', 'blk', 'm', 'd', 'dv'] as const) {
      const v = dims[a];
      if (!Number.isSafeInteger(v) || v < 1) fail('BAD_SIZE', `PagedKvCache: dims.${a} must be a positive integer, got ${v}`);
    }
    const dtype = opts.dtype ?? 'f32';
    if (dtype !== 'f32' && dtype !== 'f16') fail('DTYPE', `PagedKvCache: dtype must be 'f32' or 'f16', got ${JSON.stringify(dtype)}`);
    if (dtype === 'f16' && (dims.d % 2 || dims.dv % 2))
      fail('BAD_SIZE', `PagedKvCache: f16 rows are written in whole words, so d (${dims.d}) and dv (${dims.dv}) must be even`);
    this.dims = dims;
    this.allocator = opts.allocator ?? new FreeListAllocator(dims.n);
    const make = (name: string, dim: string) => zeros(runtime, dtype, ['n', 'g', 'blk', dim], dims, name);
    this.pools = { k_cache: make('k_cache', 'd'), v_cache: make('v_cache', 'dv') };
    this.plans = {
      k: appendPagedPlan({ name: 'k_cache', axes: ['n', 'g', 'blk', 'd'], dtype }, 's'),
      v: appendPagedPlan({ name: 'v_cache', axes: ['n', 'g', 'blk', 'dv'], dtype }, 's'),
    };
    this.table = new Int32Array(dims.b * dims.m).fill(-1);
    this.blockTable = upload(runtime, this.table, ['b', 'm'], dims, 'block_table');
    this.seq = new SequenceLengths(runtime, dims.b, dims.m * dims.blk);
    this.kvLen = this.seq.tensor;
    this.lengths = this.seq.host;
  }

  /** The tensors the `paged` attention reads. */
  get inputs(): { k_cache: DeviceTensor; v_cache: DeviceTensor; block_table: DeviceTensor; kv_len: DeviceTensor } {
    return { ...this.pools, block_table: this.blockTable, kv_len: this.kvLen };
  }

  /** blocks sequence `b` holds */
  blocksOf(b: number): number {
    let n = 0;
    while (n < this.dims.m && this.table[b * this.dims.m + n]! >= 0) n++;
    return n;
  }

  /** Gives each sequence the blocks its new length needs, uploading only the table rows that changed. */
  private reserve(counts: Int32Array): void {
    const { m, blk } = this.dims;
    for (let b = 0; b < counts.length; b++) {
      const have = this.blocksOf(b);
      const need = Math.ceil((this.lengths[b]! + counts[b]!) / blk);
      if (need <= have) continue;
      const blocks = this.allocator.allocate(b, need - have);
      blocks.forEach((blockIndex, i) => {
        if (!Number.isInteger(blockIndex) || blockIndex < 0 || blockIndex >= this.dims.n)
          fail('INDEX_RANGE', `paged KV cache: the allocator gave sequence ${b} block ${blockIndex}, outside the pool 0..${this.dims.n - 1}`);
        this.table[b * m + have + i] = blockIndex;
      });
      writeWords(this.runtime, this.blockTable.buffer, this.table.subarray(b * m + have, b * m + need), 4 * (b * m + have));
    }
  }

  /**
   * Writes one step's new rows k [b g s d] and v [b g s dv] through the block table, in place,
   * after giving each sequence the blocks it needs; then advances the lengths on the device.
   * @example await cache.append({ k: kNew, v: vNew }, { session })
   */
  async append(rows: Record<string, RunValue>, opts: AppendOptions = {}): Promise<void> {
    const what = 'PagedKvCache.append';
    const dims: Record<string, number> = { ...this.dims, t: 0 };
    let s: number | undefined;
    for (const [, name, dim] of POOLS) {
      if (!rows || rows[name] === undefined) fail('BAD_INPUT', `${what}: missing new rows '${name}' [b g s ${dim}]`);
      const n = rowsCount(what, name, rows[name]!, ['b', 'g', 't', dim], dims, 't');
      if (s !== undefined && n !== s) fail('BAD_INPUT', `${what}: k has ${s} new rows, v has ${n}`);
      s = n;
    }
    const { counts, value } = this.seq.counts(what, opts.counts, s!);
    this.reserve(counts);
    const run = this.seq.runOptions(opts.session);
    const sizes = { ...this.dims, s: s! };
    for (const [pool, name] of POOLS) {
      await runPlan(
        this.plans[name],
        { rows: rows[name]!, pool: this.pools[pool], block_table: this.blockTable, kv_len: this.kvLen, counts: value },
        sizesFor(this.plans[name], sizes),
        run,
      );
    }
    await this.seq.advanceBy(counts, value, run);
  }

  /**
   * Ends sequence `b`: its blocks go back to the allocator, its table row to -1, its length to 0.
   * @example cache.release(2)
   */
  release(b: number): void {
    if (!Number.isInteger(b) || b < 0 || b >= this.dims.b) fail('BAD_INPUT', `PagedKvCache.release: sequence ${b} is outside 0..${this.dims.b - 1}`);
    const { m } = this.dims;
    const row = this.table.subarray(b * m, (b + 1) * m);
    this.allocator.release([...row].filter((x) => x >= 0));
    row.fill(-1);
    writeWords(this.runtime, this.blockTable.buffer, row, 4 * b * m);
    const next = Int32Array.from(this.lengths);
    next[b] = 0;
    this.seq.set('PagedKvCache.release', next);
  }

  /**
   * Frees the pools and tables on the GPU.
   * @example cache.destroy()
   */
  destroy(): void {
    for (const t of [this.pools.k_cache, this.pools.v_cache, this.blockTable]) t.destroy();
    this.seq.destroy();
  }
}
