/** Deterministic inputs for timing a graph (autotuner, bench): smooth values in (-1, 1), full-length caches. */
import { resolveSizes, type Graph } from '../ir/index.ts';

/** One input array with its axes and shape. */
export interface SampleInput {
  name: string;
  axes: string[];
  shape: number[];
  data: Float32Array | Int32Array | Int8Array;
}

/**
 * Inputs of `graph` at `dims`: f32 values `0.9·sin(1.618·i + k)` (k per input), i8
 * values `round(127·sin(1.618·i + k))` (quantised caches), and
 * bounded i32 inputs (lengths such as `kv_len`) at their maximum, so a decode problem
 * attends over the whole cache.
 * @example sampleInputs(mha(), { b: 1, h: 8, s: 256, t: 256, d: 64, dv: 64 }).q.shape // [1, 8, 256, 64]
 */
export function sampleInputs(graph: Graph, dims: Record<string, number>): Record<string, SampleInput> {
  const sizes = resolveSizes(graph, dims);
  const out: Record<string, SampleInput> = {};
  graph.inputs.forEach((decl, k) => {
    const shape = decl.axes.map((a) => sizes[a]!);
    const n = shape.reduce((p, x) => p * x, 1);
    let data: Float32Array | Int32Array | Int8Array;
    if (decl.dtype === 'i8') {
      data = Int8Array.from({ length: n }, (_, i) => Math.round(127 * Math.sin(1.618 * i + k + 1)));
    } else if (decl.dtype === 'i32') {
      if (decl.max === undefined) throw new Error(`input '${decl.name}' is an i32 index array; no sample generator exists for it`);
      data = new Int32Array(n).fill(sizes[decl.max]!);
    } else {
      data = Float32Array.from({ length: n }, (_, i) => Math.fround(0.9 * Math.sin(1.618 * i + k + 1)));
    }
    out[decl.name] = { name: decl.name, axes: [...decl.axes], shape, data };
  });
  return out;
}

/**
 * A small, fast, seedable generator (mulberry32) returning uniform numbers in [0, 1).
 * @example seededRandom(42)() // 0.6011037519201636
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
