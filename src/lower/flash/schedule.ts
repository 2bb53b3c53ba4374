/**
 * The flash kernel's schedule: every knob an autotuner may search, with defaults
 * measured on lavapipe (`npm run bench`, `einattn tune`) and range checks that name the knob.
 */
import { fail } from '../../errors.ts';

/** How the fused attention kernel tiles its work. */
export interface FlashSchedule {
  /** query rows per invocation (a register tile of rows): 1..16 */
  rows: number;
  /** keys per streamed KV tile (also the block-mask column granularity): 1..64 */
  kvTile: number;
  /** invocations per workgroup; a workgroup owns `rows * workgroup / kvLanes` query rows of one batch index */
  workgroup: number;
  /**
   * invocations that share one register tile of query rows ("threads per row"): each
   * streams every kvLanes-th KV tile, and their running max, sum and accumulator are
   * merged through workgroup memory once at the end (one barrier). 1 = no workgroup
   * memory. Pays when there are few query rows (decoding); must divide `workgroup`.
   */
  kvLanes: number;
  /**
   * merge the lanes of a row tile with subgroup shuffles (a butterfly of
   * `subgroupShuffleXor`) instead of workgroup memory and a barrier. Needs the
   * 'subgroups' feature, kvLanes a power of two and at most the adapter's smallest
   * subgroup size (checked at dispatch, never assumed); no effect with kvLanes 1.
   */
  subgroups: boolean;
  /**
   * value columns per invocation when the value head dim is not known at lowering
   * time (a run at known sizes sets it to the whole value head dim, up to `maxDvChunk`);
   * a static value head dim up to `maxDvChunk` is taken whole. Every chunk recomputes
   * the scores, so fewer chunks pay even with large accumulators (MLA's 512 latent columns)
   */
  dvChunk: number;
  /** the largest value head dim one invocation keeps in registers (larger ones are chunked) */
  maxDvChunk: number;
  /** the largest static QK head dim whose query rows are cached in registers (else Q is re-read per tile) */
  maxQCache: number;
  /**
   * keys per register block of the cached-Q score product: each qk element's R query and
   * `qkBlock` key values are loaded once for R × qkBlock multiply-adds; must divide kvTile.
   * 1 = one key at a time; 'auto' = the largest divisor of kvTile up to 16 (up to 8 with lanes
   * where K is i8 read four values per word or rows exceed 8) for qk extents of at least 64, else 1.
   * Only where Q is cached (static qk dims up to `maxQCache`)
   */
  qkBlock: number | 'auto';
  /**
   * split-KV ("flash-decoding"): 1 = never, n > 1 = always n splits, 'auto' = split
   * when the unsplit kernel would have fewer than `targetWorkgroups` workgroups
   */
  split: number | 'auto';
  /** the workgroup count split-KV aims for (auto split) */
  targetWorkgroups: number;
  /** fewest KV tiles one split handles (auto split) */
  minTilesPerSplit: number;
  /** precompute a per-block code (empty / partial / full) so empty tiles are skipped and full ones skip the mask */
  blockMask: boolean;
}

/** The default schedule: barrier-free register tiles (what wins on a CPU rasteriser). */
export const DEFAULT_FLASH_SCHEDULE: Readonly<FlashSchedule> = Object.freeze({
  rows: 8,
  kvTile: 16,
  workgroup: 8,
  kvLanes: 1,
  subgroups: false,
  dvChunk: 64,
  maxDvChunk: 512,
  maxQCache: 1024,
  qkBlock: 'auto',
  split: 'auto',
  targetWorkgroups: 32,
  minTilesPerSplit: 4,
  blockMask: true,
});

const RANGES: Record<string, [number, number]> = {
  rows: [1, 16],
  kvTile: [1, 64],
  workgroup: [1, 256],
  kvLanes: [1, 64],
  dvChunk: [1, 512],
  maxDvChunk: [1, 1024],
  maxQCache: [0, 4096],
  targetWorkgroups: [1, 1 << 20],
  minTilesPerSplit: [1, 1 << 20],
};

/**
 * Fills in defaults and checks ranges (USAGE error naming the knob).
 * @example flashSchedule({ rows: 2, kvTile: 32 }).workgroup // 8
 */
export function flashSchedule(given: Partial<FlashSchedule> = {}): FlashSchedule {
  const s = { ...DEFAULT_FLASH_SCHEDULE, ...given };
  for (const [k, [lo, hi]] of Object.entries(RANGES)) {
    const v = (s as unknown as Record<string, unknown>)[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi)
      fail('USAGE', `flash schedule: ${k} must be an integer in ${lo}..${hi}, got ${JSON.stringify(v)}`);
  }
  if (s.split !== 'auto' && (typeof s.split !== 'number' || !Number.isInteger(s.split) || s.split < 1 || s.split > 4096))
    fail('USAGE', `flash schedule: split must be 'auto' or an integer in 1..4096, got ${JSON.stringify(s.split)}`);
  if (s.qkBlock !== 'auto' && (typeof s.qkBlock !== 'number' || !Number.isInteger(s.qkBlock) || s.qkBlock < 1 || s.kvTile % s.qkBlock !== 0))
    fail('USAGE', `flash schedule: qkBlock must be 'auto' or a positive integer dividing kvTile (${s.kvTile}), got ${JSON.stringify(s.qkBlock)}`);
  if (s.workgroup % s.kvLanes !== 0) fail('USAGE', `flash schedule: kvLanes (${s.kvLanes}) must divide workgroup (${s.workgroup})`);
  for (const k of ['blockMask', 'subgroups'] as const)
    if (typeof s[k] !== 'boolean') fail('USAGE', `flash schedule: ${k} must be a boolean, got ${JSON.stringify(s[k])}`);
  if (s.subgroups && (s.kvLanes & (s.kvLanes - 1)) !== 0)
    fail('USAGE', `flash schedule: subgroups needs kvLanes to be a power of two (lanes pair up by xor), got kvLanes ${s.kvLanes}`);
  return s;
}

/**
 * A key naming every knob of a schedule, in the order of {@link DEFAULT_FLASH_SCHEDULE}: the
 * default must name every field of `FlashSchedule` (TypeScript requires it), so a new knob is
 * in the key without anyone remembering to add it.
 * @example scheduleKey(flashSchedule({ rows: 4 })).split(',').slice(0, 3).join(',') // 'rows=4,kvTile=16,workgroup=8'
 */
export function scheduleKey(s: FlashSchedule): string {
  return (Object.keys(DEFAULT_FLASH_SCHEDULE) as (keyof FlashSchedule)[]).map((k) => `${k}=${s[k]}`).join(',');
}

/** The smallest cached QK head dim that 'auto' blocks: below it lavapipe unrolls the qk loop and compiles for seconds. */
export const QK_BLOCK_MIN_DIM = 64;

/**
 * Keys per register block of the cached-Q score product for a cached QK extent of `dk`, whose
 * K side is read four i8 values per word when `packed`.
 * 'auto' blocks (the largest divisor of kvTile up to 16; up to 8 with lanes over packed K or over
 * more than 8 rows) only where it pays on lavapipe: with `dk` of at least 64. With lanes
 * (decoding) the block shares the cached query values, most of the remaining loads: GQA decode
 * (b=1 h=32 g=8 d=128) took 0.77–0.79 of its kernel time with 8 keys instead of 1 at t = 1024,
 * 4096 and 8192 in paired runs, and 0.89
 * with 16 keys instead of 8 at t = 8192 (two runs). GQA int8 decode at t = 4096 went from 0.67 to
 * 0.43 of the f32 kernel's time with 8 keys; 16 gained nothing there. MQA decode's lanes over 16
 * rows took 0.82 of the time with 8 keys instead of 16 (and compiled in 0.3 s instead of 4.5 s).
 * @example qkBlockOf(flashSchedule(), 64) // 16
 * @example qkBlockOf(flashSchedule({ kvLanes: 8 }), 128, true) // 8
 */
export function qkBlockOf(s: FlashSchedule, dk: number, packed = false): number {
  if (s.qkBlock !== 'auto') return s.qkBlock;
  if (dk < QK_BLOCK_MIN_DIM) return 1;
  let b = Math.min(s.kvLanes > 1 && (packed || s.rows > 8) ? NARROW_LANES_BLOCK : 16, s.kvTile);
  while (s.kvTile % b !== 0) b--;
  return b;
}

/**
 * Keys per 'auto' register block with lanes over i8 K read four to a word or over more than 8
 * rows (fewer than 16: as fast or faster there, and less code for lavapipe to compile).
 */
export const NARROW_LANES_BLOCK = 8;
