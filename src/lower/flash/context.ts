/**
 * What the flash emitters share: the context the lowering hands them, what they
 * return, the block codes, and the two helpers every flash kernel uses.
 */
import type { Node } from '../../ir/index.ts';
import type { PlanBuffer, PlanKernel, SizeExpr } from '../../runtime/plan.ts';
import type { KernelBuilder } from '../kernels/frame.ts';
import type { BufferRef, ComputeType } from '../wgsl.ts';
import type { FlashMatch } from './match.ts';
import type { FlashSchedule } from './schedule.ts';

/** Block codes written by the block-mask kernel. */
export const BLOCK_EMPTY = 0;
export const BLOCK_PARTIAL = 1;
export const BLOCK_FULL = 2;

/** Everything the emitters need from the surrounding lowering. */
export interface FlashContext {
  /** kernel name prefix, e.g. `mha_0_flash` */
  name: string;
  /** header lines: which graph, what it computes */
  header: string[];
  staticSizes: Readonly<Record<string, number>>;
  buffers: ReadonlyMap<number, BufferRef>;
  axes: ReadonlySet<string>;
  match: FlashMatch;
  /** the epilogue root over the contraction (the contraction itself without one) */
  root: Node;
  out: BufferRef;
  /** buffers of the lse outputs the same kernel writes */
  lse: BufferRef[];
  schedule: FlashSchedule;
  /** 1 = one pass; a number = that many splits; 'dynamic' = the auto split count at dispatch */
  split: number | 'dynamic';
  /** add an output `_flash_tiles` counting the KV tiles each workgroup loaded (tests) */
  debugTiles: boolean;
  /** the arithmetic of the Q·K and P·V products ('f16': operands and products in f16, sums, max, exp in f32) */
  compute: ComputeType;
  /** readable descriptions for the header (`describeMatch`) */
  describe: FlashDescription;
  /**
   * the block maps of the flash kernels emitted so far, by mask structure and tile geometry:
   * kernels with the same mask and tiles share one (shared by every flash group of a lowering)
   */
  blockMaps?: Map<string, BufferRef>;
  /** a fresh internal name that no axis and no other buffer uses */
  internal(word: string): string;
}

/**
 * Readable descriptions of a match for kernel headers: `scores` (map 0's logits or weights),
 * `contractions` (each of `match.scores`), the common mask, map 0's sink, the declared
 * length; with several maps or plain weights, `weights` (P) and each map's expression.
 */
export interface FlashDescription {
  scores: string;
  contractions: string[];
  mask?: string;
  sink?: string;
  length?: string;
  weights?: string;
  maps: { x: string; mask?: string; sink?: string }[];
}

/**
 * The descriptions of `m`, each node written by `d` (the lowering's `describe` with buffer names).
 * @example describeMatch(findFlash(diff()).matches[0], (n) => n.op).maps.map((x) => x.x) // ['binary', 'binary']
 */
export function describeMatch(m: FlashMatch, d: (n: Node) => string): FlashDescription {
  const map0 = m.maps[0]!;
  return {
    scores: d(map0.x),
    contractions: m.scores.map((c) => d(c.einsum)),
    ...(m.mask ? { mask: d(m.mask) } : {}),
    ...(map0.sink ? { sink: d(map0.sink) } : {}),
    ...(m.length ? { length: `${d(m.length.end)}${m.length.inclusive ? ' + 1' : ''}` } : {}),
    ...(isClassic(m) ? {} : { weights: d(m.weights) }),
    maps: m.maps.map((x) => ({ x: d(x.x), ...(x.mask ? { mask: d(x.mask) } : {}), ...(x.sink ? { sink: d(x.sink) } : {}) })),
  };
}

/** One softmax map and nothing else (P is the softmax): the header says `scores = …` as it always did. */
export const isClassic = (m: FlashMatch): boolean => m.maps.length === 1 && m.maps[0]!.kind === 'softmax' && m.weights === m.maps[0]!.node;

/** What the flash lowering adds to the plan. */
export interface FlashEmit {
  kernels: PlanKernel[];
  /** temps and the debug output, in the order to declare them */
  buffers: PlanBuffer[];
  derivedSizes: { name: string; expr: SizeExpr }[];
  /** a one-line schedule summary (also in the kernel header) */
  summary: string;
}

export { planKernel } from '../kernels/frame.ts';

/**
 * An internal name for the kernel's own variables. Names ending in a digit get a
 * trailing '_': the expression builder names its values `_<hint><n>`, so a row
 * variable like `_q0` could otherwise collide with the first load of a buffer `q`.
 */
export function named(kb: KernelBuilder, word: string): string {
  return kb.internal(/\d$/.test(word) ? `${word}_` : word);
}
