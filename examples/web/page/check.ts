/**
 * What the pages need besides einattn: deterministic inputs for any graph and the CLI's rule
 * for comparing GPU results with the interpreter (allowed error 1e-5·√L·max(1, |ref|max) + 1e-6,
 * L the longest reduction of the graph; `einattn run` holds results to the same rule).
 */
import { resolveSizes, type Graph, type Node } from 'einattn';

/** A small seeded generator (mulberry32), so a page shows the same numbers on every load. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function stripViews(n: Node): Node {
  while (n.op === 'view' || n.op === 'cast') n = n.x;
  return n;
}

/** Inputs gathered through: their valid values are 0 .. size of the gathered axis - 1. */
function gatherRanges(graph: Graph, sizes: Record<string, number>): Record<string, number> {
  const ranges: Record<string, number> = {};
  for (const n of graph.nodes) {
    if (n.op !== 'gather') continue;
    const idx = stripViews(n.index);
    if (idx.op === 'input' && sizes[n.axis] !== undefined) ranges[idx.name] = Math.min(ranges[idx.name] ?? Infinity, sizes[n.axis]!);
  }
  return ranges;
}

/** One host array per input of `graph`. */
export type Inputs = Record<string, Float32Array | Int32Array | Int8Array>;

/**
 * Inputs for `graph` at `dims`: floats uniform in [-1, 1), int8 in -127..127, gather indices
 * in their range, and lengths (`kv_len`, bounded by a size) between half and all of it.
 * @example makeInputs(mha(), { b: 1, h: 2, s: 4, t: 4, d: 8, dv: 8 }, 1).q.length // 64
 */
export function makeInputs(graph: Graph, dims: Record<string, number>, seed: number): Inputs {
  const sizes = resolveSizes(graph, dims);
  const ranges = gatherRanges(graph, sizes);
  const rnd = seeded(seed);
  const out: Inputs = {};
  for (const decl of graph.inputs) {
    const n = decl.axes.reduce((p, a) => p * sizes[a]!, 1);
    if (decl.dtype === 'i8') out[decl.name] = Int8Array.from({ length: n }, () => Math.floor(rnd() * 255) - 127);
    else if (decl.dtype !== 'i32') out[decl.name] = Float32Array.from({ length: n }, () => rnd() * 2 - 1);
    else if (decl.max !== undefined) {
      const cap = sizes[decl.max]!;
      out[decl.name] = Int32Array.from({ length: n }, () => Math.min(cap, Math.ceil(cap / 2 + (rnd() * cap) / 2)));
    } else out[decl.name] = Int32Array.from({ length: n }, () => Math.floor(rnd() * (ranges[decl.name] ?? 4)));
  }
  return out;
}

/** The longest sum in the graph: an einsum's contracted extent, a reduction, a softmax row. */
export function longestReduction(graph: Graph, dims: Record<string, number>): number {
  const sizes = resolveSizes(graph, dims);
  const extent = (axes: Iterable<string>) => [...axes].reduce((p, a) => p * (sizes[a] ?? 1), 1);
  let longest = 1;
  for (const n of graph.nodes) {
    if (n.op === 'einsum') {
      const kept = new Set(n.axes);
      longest = Math.max(longest, extent(new Set(n.operands.flatMap((o) => o.axes.filter((a) => !kept.has(a))))));
    } else if (n.op === 'reduce') longest = Math.max(longest, extent(n.over));
    else if (n.op === 'softmax') longest = Math.max(longest, sizes[n.axis] ?? 1);
  }
  return longest;
}

/** How a GPU result compares with the interpreter's. */
export interface Check {
  maxErr: number;
  allowed: number;
  refAbsMax: number;
  count: number;
  pass: boolean;
}

/**
 * Compares `got` with `ref` under the CLI's rule (`reduced`: f16 storage or compute); a NaN,
 * an infinity or a length mismatch fails.
 * @example compare(gpu.outputs.o.data, interpret(g, inputs, dims).o.data, g, dims).pass
 */
export function compare(got: ArrayLike<number>, ref: ArrayLike<number>, graph: Graph, dims: Record<string, number>, reduced = false): Check {
  let maxErr = got.length === ref.length ? 0 : Infinity;
  let refAbsMax = 0;
  for (let i = 0; i < Math.min(got.length, ref.length); i++) {
    const e = Math.abs(got[i]! - ref[i]!);
    maxErr = Number.isNaN(e) ? Infinity : Math.max(maxErr, e);
    refAbsMax = Math.max(refAbsMax, Math.abs(ref[i]!));
  }
  // f16 storage or products: about 4 f16 ulps per √L instead of about 100 f32 ulps
  const allowed = (reduced ? 2e-3 : 1e-5) * Math.sqrt(longestReduction(graph, dims)) * Math.max(1, refAbsMax) + 1e-6;
  return { maxErr, allowed, refAbsMax, count: got.length, pass: maxErr <= allowed };
}
