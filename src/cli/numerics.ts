/**
 * The numbers the CLI reports: GPU-vs-interpreter errors, the tolerance they are held
 * to, summary statistics, medians, and a cost estimate used to cap timing shapes.
 */
import { resolveSizes, type Graph, type Node } from '../index.ts';

const product = (axes: Iterable<string>, sizes: Record<string, number>) => {
  let p = 1;
  for (const a of axes) p *= sizes[a] ?? 1;
  return p;
};

function reductionOf(n: Node, sizes: Record<string, number>): number {
  if (n.op === 'einsum') {
    const out = new Set(n.axes);
    const summed = new Set<string>();
    for (const o of n.operands) for (const a of o.axes) if (!out.has(a)) summed.add(a);
    return product(summed, sizes);
  }
  if (n.op === 'reduce') return product(n.over, sizes);
  if (n.op === 'softmax') return sizes[n.axis] ?? 1;
  return 1;
}

/**
 * The longest sum any node of the graph computes (einsum contraction, reduce or softmax
 * row): f32 rounding error grows like its square root, so tolerances scale with it.
 * @example longestReduction(mha(), { b: 1, h: 2, s: 7, t: 9, d: 8 }) // 9
 */
export function longestReduction(graph: Graph, sizes: Record<string, number>): number {
  let longest = 1;
  for (const n of graph.nodes) longest = Math.max(longest, reductionOf(n, sizes));
  return longest;
}

/**
 * Roughly how many multiply-adds one run costs: each node's full iteration space.
 * @example workEstimate(mha(), { b: 1, h: 8, s: 256, t: 256, d: 64 }) // 36175874
 */
export function workEstimate(graph: Graph, sizes: Record<string, number>): number {
  let total = 0;
  for (const n of graph.nodes) {
    if (n.op === 'input' || n.op === 'const' || n.op === 'index' || n.op === 'size' || n.op === 'view') continue;
    // A softmax row costs a few passes over the row, not the row's length per element.
    total += product(n.axes, sizes) * (n.op === 'softmax' ? 3 : reductionOf(n, sizes));
  }
  return total;
}

/** How GPU results are held against the interpreter, stated so reports can print it. */
export interface Tolerance {
  /** error per √(reduction length), relative to max(1, |reference| abs-max) */
  base: number;
  /** the longest reduction in the graph */
  length: number;
  /** the dtype class that set `base` */
  dtype: 'f32' | 'f16' | 'i32';
  /** one line describing the rule */
  rule: string;
}

/**
 * The tolerance rule for a graph at given sizes: base · √L · max(1, |ref|max) + 1e-6,
 * base 1e-5 for f32 (≈ 100 f32 ulps) and 2e-3 when any tensor is f16 or the run uses f16
 * storage or f16 compute (≈ 4 f16 ulps); i32 outputs must match exactly, i8 within 1.
 * @example toleranceFor(mha(), sizes).rule
 */
export function toleranceFor(graph: Graph, sizes: Record<string, number>, reducedPrecision = false): Tolerance {
  const length = longestReduction(graph, sizes);
  // f16 tensors in the graph, or f16 storage / f16 products asked of the compiler
  const f16 = reducedPrecision || graph.nodes.some((n) => n.dtype === 'f16');
  const base = f16 ? 2e-3 : 1e-5;
  const dtype = f16 ? 'f16' : 'f32';
  return {
    base,
    length,
    dtype,
    rule: `tolerance = ${base.toExponential(0)}·√L·max(1, |ref|max) + 1e-6 with L = ${length} (longest reduction), ${dtype}; i32 outputs exact, i8 within 1`,
  };
}

/**
 * The allowed max abs error of one output under a tolerance rule.
 * @example allowedError(toleranceFor(mha(), { b: 1, h: 2, s: 7, t: 9, d: 8, dv: 8 }), 0.9, 'f32') // 1e-5 * 3 * 1 + 1e-6
 */
export function allowedError(tol: Tolerance, refAbsMax: number, dtype: string): number {
  if (dtype === 'i32') return 0;
  // int8 quantisation rounds x / scale: f32 on the GPU and float64 in the interpreter may round a near-tie apart
  if (dtype === 'i8') return 1;
  return tol.base * Math.sqrt(tol.length) * Math.max(1, refAbsMax) + 1e-6;
}

/** The difference between a result and its reference. */
export interface Comparison {
  maxAbs: number;
  /** maxAbs divided by the reference's abs-max (a normwise relative error) */
  maxRel: number;
  refAbsMax: number;
  /** index of the largest difference */
  worst: number;
}

/**
 * Max abs and relative difference; a NaN or infinity where the reference has a finite value counts as infinite error.
 * @example compareArrays(gpu.data, ref.data).maxAbs
 */
export function compareArrays(got: ArrayLike<number>, ref: ArrayLike<number>): Comparison {
  if (got.length !== ref.length) throw new Error(`cannot compare arrays of ${got.length} and ${ref.length} values`);
  let maxAbs = 0;
  let refAbsMax = 0;
  let worst = 0;
  for (let i = 0; i < ref.length; i++) {
    const r = ref[i]!;
    const g = got[i]!;
    if (Number.isFinite(r)) refAbsMax = Math.max(refAbsMax, Math.abs(r));
    let d: number;
    if (Object.is(r, g) || r === g) d = 0;
    else if (!Number.isFinite(r) || !Number.isFinite(g)) d = Infinity;
    else d = Math.abs(g - r);
    if (d > maxAbs) {
      maxAbs = d;
      worst = i;
    }
  }
  const maxRel = maxAbs === 0 ? 0 : refAbsMax === 0 ? Infinity : maxAbs / refAbsMax;
  return { maxAbs, maxRel, refAbsMax, worst };
}

/** Summary statistics of an output array. */
export interface ArrayStats {
  mean: number;
  absMax: number;
  /** count of NaN and infinite values (excluded from mean and absMax) */
  nonFinite: number;
}

/**
 * Mean and abs-max over the finite values, plus how many were not finite.
 * @example arrayStats(new Float32Array([1, -3])) // { mean: -1, absMax: 3, nonFinite: 0 }
 */
export function arrayStats(data: ArrayLike<number>): ArrayStats {
  let sum = 0;
  let absMax = 0;
  let n = 0;
  let nonFinite = 0;
  for (let i = 0; i < data.length; i++) {
    const x = data[i]!;
    if (!Number.isFinite(x)) {
      nonFinite++;
      continue;
    }
    sum += x;
    n++;
    absMax = Math.max(absMax, Math.abs(x));
  }
  return { mean: n ? sum / n : NaN, absMax, nonFinite };
}

/**
 * The median (mean of the middle two for an even count).
 * @example median([3, 1, 2]) // 2
 */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * Shrinks dims until a run costs at most `budget` multiply-adds, halving the largest
 * given size whose halving still satisfies the graph's size rules (so a shape made for
 * a GPU still times in seconds on a CPU rasteriser). Returns the dims unchanged when cheap enough.
 * @example capDims(mha(), { b: 1, h: 8, s: 4096, t: 4096, d: 64, dv: 64 }, 2 ** 27) // { b: 1, h: 8, s: 256, t: 256, d: 64, dv: 64 }
 */
export function capDims(graph: Graph, dims: Record<string, number>, budget: number): Record<string, number> {
  let cur = { ...dims };
  for (;;) {
    if (workEstimate(graph, resolveSizes(graph, cur)) <= budget) return cur;
    const candidates = Object.keys(cur)
      .filter((k) => cur[k]! >= 2 && cur[k]! % 2 === 0)
      .sort((a, b) => cur[b]! - cur[a]!);
    let next: Record<string, number> | undefined;
    for (const k of candidates) {
      const trial = { ...cur, [k]: cur[k]! / 2 };
      try {
        resolveSizes(graph, trial);
        next = trial;
        break;
      } catch {
        // this size is tied to others (e.g. h = g·r); try the next largest
      }
    }
    if (!next) return cur;
    cur = next;
  }
}
