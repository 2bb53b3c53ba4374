/**
 * # Flash-style attention lowering
 *
 * **Pattern → template.** `findFlash` (match.ts) looks for
 * `O = einsum(P, V)`, at its simplest with `P = softmax(X, t, mask?, sink?)` and `X` an elementwise
 * expression (the score mod: scale, ALiBi, softcap …) of one or more contractions
 * `Sᵢ = einsum(Qᵢ, Kᵢ…)`, each over all of X's axes: MHA has one, MLA with its
 * decoupled RoPE part two (`X = (q_lat·c_kv + q_rope·k_rope) · scale`, as FlashInfer's
 * MLA kernel fuses it). Names never matter, only structure: `t` is the softmax axis;
 * the axes each `Sᵢ` contracts are its QK head dims (`d`; MLA: `dc` and `dr`); the axes of
 * `O` that `P` lacks are the value head dims; the other axes of `P` are rows, split
 * into *batch* axes (some K/V-side tensor of any `Sᵢ`, or `V`, has them: `b h`, or `b g`
 * for GQA) and *query rows* (none has them: `s`, or `r s` for GQA). The `Sᵢ`, `X`, `P`
 * and optional `logsumexp` outputs of the same (masked) scores are never materialised: no
 * s×t buffer exists. `lower(g, { flash: false })` forces the unfused lowering,
 * `{ flash: true }` requires a match and otherwise fails with LOWERING naming why.
 *
 * **Beyond one softmax** (maps.ts). P may be any linear combination `Σ cᵢ·Mᵢ` of
 * *attention maps* Mᵢ (`+`, `-`, unary `-`, `c·M`, `M / c`) whose coefficients cᵢ have no key
 * axis (constants, or tensors over row axes such as diff's `lam[h]`), so that
 * `O = Σ cᵢ·(Mᵢ·V)`. A map is a softmax as above, or *plain weights* `where(keep, W, 0)` (or
 * `W`) with W an elementwise function of score contractions: sigmoid attention
 * (`where(keep, sigmoid(x + bias), 0)`, no normaliser) and linear attention (`A =
 * where(keep, φq·φk, 0)`, `O = (A·V) / (sum(A, t) + ε)`: the map's own row sum, which the
 * epilogue reads, or a coefficient may: `einsum(A / (sum(A, t) + ε), V)`). So that an MLP (`einsum(gelu(x·W1), W2)`) is not read as attention, plain
 * weights must be masked along the key axis, normalised by their row sum, or a sigmoid of
 * the scores. One kernel streams K and V once for all maps: per map and row it keeps an
 * online-softmax state (m, l, acc) or, for plain weights, only acc (and l = Σ W when a row
 * sum is read: no max, no rescale), and at the end it normalises each map, evaluates the
 * combination with each map replaced by its output (differential attention:
 * `acc₁/l₁ − lam·acc₂/l₂`) and then the epilogue. Masked keys weigh 0 (plain) or get
 * -inf (softmax). When every map has a mask, one block map serves them all (a tile is empty
 * where every mask is false, full where every mask is true; partial tiles evaluate each
 * map's mask) and a declared length they all state bounds the keys; a map without a mask
 * turns both off. Score terms gathered through computed indices (a relative-position
 * table indexed by `clamp(j − p, −R, R) + R`) or read per query and per key (FoX's
 * `c[p] − c[j]` of a cumsum `c`) are elementwise leaves: they are computed inline, never
 * as s×t temporaries.
 * Every miss names the node and what was expected.
 *
 * **The kernel** (kernel.ts) is barrier-free, as lavapipe wants: a workgroup owns one
 * batch index and `rows × workgroup` query rows, so every K/V address depends only on
 * the workgroup id and loop counters (uniform: one load broadcast to all lanes).
 * Each invocation keeps `rows` query rows in registers (the Q side of each product,
 * cached once when its QK dims are static, then met by `qkBlock` keys at a time in
 * named register blocks) and streams the KV axis in tiles of
 * `kvTile` keys: one score tile of rows × keys per contraction, then the score mod with
 * those tiles standing for the `Sᵢ`, bounds and mask, then the online softmax (running
 * max `m`, sum `l`, accumulator rescaled by `exp(m_old - m_new)` once per tile, folded
 * into the P·V loop), and at the end one normalisation, the sink (`l += exp(sink - m)`), the
 * epilogue over `O` and the store. A row with nothing live returns zeros; logits of
 * ±1e4 are fine since exp only sees `x - max ≤ 0`. The value head dim is held whole
 * when known (chunked above `maxDvChunk`), else in chunks of `dvChunk` columns.
 * An int8 K (V) read along a static innermost qk dim (value dim) that is a multiple of 4 is
 * read a 32-bit word at a time: that loop steps by 4, each word is loaded once and its four
 * bytes are sign-extended in registers (`PackedLanes` in wgsl.ts), and under f32 compute the
 * factors without that dim (the per-token scale) multiply each key's dot product (each key's
 * weight) once instead of every element. Score products of a cached query side run in 16-key
 * register blocks (8 with lanes over int8 K or over more than 8 rows): with lanes, GQA decode
 * took 0.77–0.79 of its kernel time with 8 keys and 0.89 of that with 16, and int8 went from
 * about 1.2× to 0.44× the f32 kernel time.
 *
 * **Block mask** (FlexAttention's idea): with a mask, a small kernel evaluates the
 * mask expression exactly, element by element, over each (row block, KV tile) and
 * writes a code: empty, partial or full. The flash kernel skips empty tiles without
 * touching K or V (causal at s = t skips about half; a window of w keeps ~w/t) and
 * evaluates the mask only in partial tiles. The mask is evaluated per element in
 * both kernels, so its meaning never depends on the tiling (tested under several
 * schedules). The block map has only the batch axes the mask uses (one map for all
 * heads of a causal mask). Flash kernels with the same mask (by structure: inputs and
 * materialised tensors by name) and the same tiles share one block map.
 *
 * **Declared length** (length.ts): a mask conjunct `t < L` with `L` over batch axes only
 * (a KV cache's `t < kv_len[b]`) ends the key range at `min(T, L)` per batch index. The
 * kernel loops over the tiles below it only (split-KV and lanes divide those tiles), clamps
 * every key below it, and the block-mask kernel stops there too, so nothing at or past the
 * length is read: no K, V or block-table entry (FlashAttention and FlashInfer bound their
 * loops the same way; a masked multiply by zero would still propagate NaN). A length of 0
 * reads nothing and gives zeros.
 *
 * **Split-KV** (flash-decoding): with `split: n` (or `'auto'` and few rows per KV
 * length) the tiles of each row are divided among `n` workgroups that write, per map, a
 * partial: a softmax its normalised output and log-sum-exp, plain weights their raw
 * accumulator and row sum. A merge kernel combines them per map
 * (`o = Σ exp(lse_i - M) o_i / Σ exp(lse_i - M)`, plus the sink; plain: `o = Σ o_i`), then
 * the weights' combination and the epilogue. The auto split count is a derived size
 * evaluated at dispatch, so a growing KV length reuses the same pipelines.
 *
 * **Lanes** (lanes.ts, `kvLanes > 1`): the invocations sharing one row tile stream
 * interleaved KV tiles and merge each map's (m, l, acc) at the end (plain weights: they
 * add), like split-KV inside a workgroup: through workgroup memory after one barrier, or with `subgroups` by a
 * `subgroupShuffleXor` butterfly (no workgroup memory, no barrier). Subgroup sizes
 * differ per device (8 on lavapipe, 32 on NVIDIA) and WebGPU does not promise how
 * subgroups map onto invocations, so the runtime probes both once per device and
 * refuses a kernel whose lanes do not fit (LIMIT, naming the sizes).
 *
 * **Specialization.** `compile()` lowers lazily per split / no split decision taken
 * from the run's dims and, with `specializeHeadDims` (by default where every head dim is
 * at least 64), per distinct set of head-dim sizes (WGSL literals; another value is a
 * SIZE_CONFLICT at dispatch), caching plans.
 * Sequence lengths and batch sizes stay dynamic (uniforms). At run time it also fills
 * the knobs the caller left unset from the sizes and the device (`specializeFor`):
 * the whole value head dim per invocation (up to `maxDvChunk`: each chunk would
 * recompute the scores), the decode schedule for few query rows over a long KV axis,
 * and subgroup shuffles for lanes that fit one subgroup where the device allows.
 *
 * **Schedule** (schedule.ts): rows per invocation, KV tile, invocations per
 * workgroup, lanes per row tile, subgroups on/off, keys per register block of the score
 * product, value-column chunk, split count and
 * target, block mask on/off: the search space of the autotuner (`src/tune`,
 * `einattn tune`); `npm run bench` measures it.
 */
import { resolveSizes, staticSize, type Graph } from '../../ir/index.ts';
import type { LowerOptions } from '../lower.ts';
import { loweringKey } from '../key.ts';
import { sharedMergeBytes } from './lanes.ts';
import { findFlash } from './match.ts';
import type { FlashMatch } from './match.ts';
import { flashSchedule, type FlashSchedule } from './schedule.ts';

export { findFlash, type FlashMatch, type FlashMiss, type FlashScore } from './match.ts';
export { DEFAULT_FLASH_SCHEDULE, flashSchedule, scheduleKey, type FlashSchedule } from './schedule.ts';
export { autoSplit, BLOCK_EMPTY, BLOCK_FULL, BLOCK_PARTIAL, flashGeometry } from './kernel.ts';

/** What a schedule may use on the device a plan will run on (nothing, when unknown). */
export interface FlashDevice {
  /**
   * a CPU rasteriser (lavapipe, SwiftShader): each workgroup runs as SIMD rows on a core, and
   * wide register tiles of query rows pay (see {@link wideRowsSchedule})
   */
  cpu?: boolean;
  /**
   * the smallest subgroup size, when subgroups are usable (the feature, laid out along
   * local_invocation_index): lanes up to this many then merge by shuffles by default
   */
  subgroupSize?: number;
}

/**
 * The lowering options that specialize `graph` for a run at `dims` on `device`: its flash head
 * dims as static sizes, the split decision, and the decode schedule; `key` names the resulting
 * plan (`loweringKey`: every option and every schedule knob, the dims as the split decision).
 * Undefined when nothing depends on the dims (no flash match, or dims that do not resolve).
 * @example specializeFor(mha(), {}, { b: 1, h: 8, s: 128, t: 128, d: 64, dv: 64 })?.opts.specialize // { d: 64, dv: 64 }
 */
export function specializeFor(
  graph: Graph,
  opts: LowerOptions,
  dims: Record<string, number>,
  headDims: boolean | 'auto' = true,
  device: FlashDevice = {},
): { key: string; opts: LowerOptions } | undefined {
  if (opts.flash === false) return undefined;
  const { matches } = findFlash(graph);
  if (matches.length === 0) return undefined;
  let sizes: Record<string, number>;
  try {
    sizes = resolveSizes(graph, dims);
  } catch {
    return undefined; // the runtime reports bad dims with its own message
  }
  const spec: Record<string, number> = { ...(opts.specialize ?? {}) };
  const heads = matches.flatMap((m) => [...m.scores.flatMap((c) => c.qkDims), ...m.vDims]).filter((a) => staticSize(graph.staticSizes, a) === undefined);
  // 'auto': literal head dims where they pay (large ones: Q cached, scores blocked); small ones
  // would only multiply pipelines, each compiled for seconds on lavapipe
  if (headDims === true || (headDims === 'auto' && heads.every((a) => sizes[a]! >= SPECIALISE_MIN_HEAD_DIM))) for (const a of heads) spec[a] = sizes[a]!;
  const user = opts.flashSchedule ?? {};
  // the value head dim whole (up to maxDvChunk): each chunk of it would recompute the scores
  const dv = Math.max(...matches.map((m) => extent(m.vDims, sizes)));
  const given: Partial<FlashSchedule> = { ...(user.dvChunk === undefined ? { dvChunk: Math.min(flashSchedule(user).maxDvChunk, dv) } : {}), ...user };
  const flashOpts: Partial<FlashSchedule> = { ...decodeSchedule(matches, sizes, given, device), ...wideRowsSchedule(matches, sizes, given, device), ...given };
  const lanes = flashOpts.kvLanes ?? 1;
  // lanes that fit in one subgroup merge by shuffles unless the caller said otherwise
  if (user.subgroups === undefined && lanes > 1 && shufflesFit(lanes, device)) flashOpts.subgroups = true;
  const out: LowerOptions = { ...opts, flashSchedule: flashOpts, specialize: spec, dims };
  return { key: loweringKey(graph, out), opts: out };
}

/** The number of elements `axes` span at `sizes` (1 for none). */
const extent = (axes: readonly string[], sizes: Record<string, number>): number => axes.reduce((p, a) => p * sizes[a]!, 1);

/** Whether `lanes` can merge by subgroup shuffles on `device`: a power of two within its smallest subgroup. */
function shufflesFit(lanes: number, device: FlashDevice): boolean {
  return (lanes & (lanes - 1)) === 0 && lanes <= (device.subgroupSize ?? 0);
}

/** `specializeHeadDims: 'auto'` makes head dims WGSL literals when each is at least this large. */
export const SPECIALISE_MIN_HEAD_DIM = 64;

/** Fewer query rows than this per batch index: the decode schedule (lanes share a row tile). */
export const DECODE_ROWS = 64;
/**
 * At least this many query rows per batch index (MQA's heads sharing one K/V head): a workgroup's
 * invocations each take rows of their own over the same KV tiles, so a K/V load serves them all.
 */
export const SHARED_ROWS = 16;

/**
 * The decode schedule for many query rows sharing K/V (MQA, and GQA with large groups). On a GPU:
 * 4 rows per invocation, up to 8 invocations over one row tile and no lanes, so every K/V element
 * is loaded once per workgroup for up to 32 rows (split-KV spreads the keys over workgroups). On a
 * CPU rasteriser, where a load costs per active lane: tiles of 16 rows whose 8 lanes stream keys of
 * their own, so each K/V element is loaded by one lane and feeds 16 rows (it needs subgroups of
 * at least 8 for the lanes' merge). On lavapipe (MQA h=32 t=8192 d=128, paired kernel times) the
 * GPU layout took 18.6 ms to 10.9 ms (against no shared rows) and the CPU layout a further 0.63×.
 * MLA decode's 128 rows of 512 latent columns stay on the default schedule: the wide tiles gained
 * 0.81–0.85× there but compiled for 10–24 s on lavapipe.
 * @example sharedRowsSchedule(32, {}) // { kvLanes: 1, workgroup: 8, rows: 4 }
 * @example sharedRowsSchedule(32, {}, { cpu: true, subgroupSize: 8 }) // { kvLanes: 8, workgroup: 8, rows: 16 }
 */
export function sharedRowsSchedule(q: number, given: Partial<FlashSchedule>, device: FlashDevice = {}): Partial<FlashSchedule> {
  // the 8 lanes merge by subgroup shuffles: through workgroup memory 16 rows of lanes would not fit
  const wide = device.cpu && shufflesFit(8, device) && !('kvLanes' in given) && !('workgroup' in given) && !('rows' in given);
  if (wide) return { kvLanes: 8, workgroup: 8, rows: WIDE_ROWS };
  const out: Partial<FlashSchedule> = {};
  if (!('kvLanes' in given)) out.kvLanes = 1;
  if (!('rows' in given)) out.rows = 4;
  if (!('workgroup' in given)) out.workgroup = Math.min(8, 2 ** Math.floor(Math.log2(q / (given.rows ?? 4))));
  return out;
}

/** Query rows × keys per batch index from which a CPU rasteriser gets {@link WIDE_ROWS} rows per invocation. */
export const WIDE_ROWS_MIN_WORK = 2 ** 18;
/** Query rows per invocation of the wide prefill schedule on a CPU rasteriser. */
export const WIDE_ROWS = 16;
/** The widest value head dim that gets {@link WIDE_ROWS}: MLA's 512 latent columns × 16 rows compiled for 10–24 s on lavapipe. */
export const WIDE_ROWS_MAX_DV = 128;

/**
 * The prefill schedule on a CPU rasteriser: 16 query rows per invocation instead of 8, so that each
 * K and V element an invocation loads feeds twice the multiply-adds (on lavapipe every storage load
 * costs a per-lane sequence, however uniform its address). From q × t ≥ 2^18 per batch index, where
 * it paid in paired runs on lavapipe (kernel time, b=1 h=8 d=64): 0.57 at s = t = 1024, 0.82 causal,
 * 0.67 at 512, 0.86 at s = 256, t = 1024; at s = t = 256 it was 1.2–1.3 (too few tiles per workgroup
 * for its longer setup), so it stays off there. Differential, sigmoid and MoBA attention at 1024:
 * 0.67–0.76. Value head dims above 128 (MLA's latent 512) keep 8 rows: their kernels compiled for
 * 10–24 s. A GPU's registers would spill: hardware keeps the default. Only fills `rows` when unset.
 * @example wideRowsSchedule(findFlash(mha()).matches, { b: 1, h: 8, s: 1024, t: 1024, d: 64, dv: 64 }, {}, { cpu: true }) // { rows: 16 }
 */
export function wideRowsSchedule(
  matches: readonly FlashMatch[],
  sizes: Record<string, number>,
  given: Partial<FlashSchedule>,
  device: FlashDevice,
): Partial<FlashSchedule> {
  if (!device.cpu || 'rows' in given || 'kvLanes' in given) return {};
  const q = Math.min(...matches.map((m) => extent(m.rows, sizes)));
  const t = Math.min(...matches.map((m) => sizes[m.kv]!));
  const dv = Math.max(...matches.map((m) => extent(m.vDims, sizes)));
  return q >= DECODE_ROWS && q * t >= WIDE_ROWS_MIN_WORK && dv <= WIDE_ROWS_MAX_DV ? { rows: WIDE_ROWS } : {};
}

/** Fewer keys than this: not worth lanes (each lane needs tiles of its own). */
export const DECODE_MIN_KV = 256;
/**
 * Workgroup memory the decode schedule stays within: what lavapipe and desktop GPUs give
 * under Dawn. A device with less (the WebGPU minimum is 16 KiB) gets a LIMIT error that
 * names the kernel; `flashSchedule: { kvLanes: 1 }` needs no workgroup memory.
 */
const DECODE_SHARED_BYTES = 32768;

/**
 * The schedule for few query rows over a long KV axis (decoding): one row tile of up to 4 rows per
 * workgroup, its KV tiles spread over 8 invocations and merged by subgroup shuffles where
 * the device allows (else through workgroup memory).
 * Only knobs the caller left unset are filled in, so a tuned or hand-written schedule always wins.
 * @example decodeSchedule(findFlash(gqa()).matches, { b: 1, h: 32, g: 8, r: 4, s: 1, t: 4096, d: 128, dv: 128 }, {}) // { kvLanes: 8, workgroup: 8, rows: 4 }
 */
export function decodeSchedule(
  matches: readonly FlashMatch[],
  sizes: Record<string, number>,
  given: Partial<FlashSchedule>,
  device: FlashDevice = {},
): Partial<FlashSchedule> {
  const q = Math.max(...matches.map((m) => extent(m.rows, sizes)));
  const t = Math.min(...matches.map((m) => sizes[m.kv]!));
  if (q >= DECODE_ROWS || t < DECODE_MIN_KV) return {};
  if (q >= SHARED_ROWS) return sharedRowsSchedule(q, given, device);
  const out: Partial<FlashSchedule> = {};
  const base = flashSchedule({ ...given, kvLanes: 1, workgroup: given.workgroup ?? 8 });
  if (!('kvLanes' in given) && !('workgroup' in given)) [out.kvLanes, out.workgroup] = [8, 8];
  if (!('rows' in given)) {
    const lanes = given.kvLanes ?? out.kvLanes ?? 1;
    const dvc = base.dvChunk;
    // 4 rows at most: the lanes' merge makes lavapipe's compile time grow with the rows
    let rows = Math.min(4, 2 ** Math.ceil(Math.log2(q)));
    const wg = given.workgroup ?? out.workgroup ?? 8;
    // a workgroup-memory lane merge: (dvc + 2) floats per (invocation, row), plus a max per (row tile, row), per attention map
    const shuffles = given.subgroups ?? shufflesFit(lanes, device);
    const maps = Math.max(...matches.map((m) => m.maps.length));
    while (rows > 1 && lanes > 1 && !shuffles && maps * sharedMergeBytes(rows, wg, lanes, dvc) > DECODE_SHARED_BYTES) rows /= 2;
    out.rows = rows;
  }
  return out;
}
