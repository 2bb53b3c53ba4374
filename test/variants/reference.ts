/**
 * Independent loop implementations of the attention variants, written from the math
 * (not from the DSL graphs), plus small data helpers. The tests compare the variants'
 * graphs, run by the interpreter and on the GPU, against these.
 */
import { expect } from 'vitest';
import type { AttentionOptions } from '../../src/variants/index.ts';

/** mulberry32: deterministic uniform numbers in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` float32 values uniform in [-amp, amp). */
export function randn(r: () => number, n: number, amp = 1): Float32Array {
  return Float32Array.from({ length: n }, () => Math.fround((r() * 2 - 1) * amp));
}

/** `n` i32 values uniform in [lo, hi]. */
export function randInt(r: () => number, n: number, lo: number, hi: number): Int32Array {
  return Int32Array.from({ length: n }, () => lo + Math.floor(r() * (hi - lo + 1)));
}

/** Max |a - b| over two arrays of equal length (NaN anywhere gives Infinity). */
export function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    m = Number.isNaN(d) ? Infinity : Math.max(m, d);
  }
  return m;
}

export function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what = 'values'): void {
  expect(maxDiff(got, want), what).toBeLessThanOrEqual(tol);
}

/** The per-run inputs of the options: slopes, sinks, prefix_len, segments, kv_len. */
export interface ModInputs {
  slopes?: ArrayLike<number>; // [h]
  sinks?: ArrayLike<number>; // [h]
  prefix_len?: ArrayLike<number>; // [b]
  q_seg?: ArrayLike<number>; // [b s]
  kv_seg?: ArrayLike<number>; // [b t]
  kv_len?: ArrayLike<number>; // [b]
}

/**
 * Softmax attention by loops: `score(b, h, s, t)` is the raw dot product (before the
 * scale), `value(b, h, t, e)` the value. Returns o [b h s dv] in float64.
 */
export function loopAttention(
  dims: { b: number; h: number; s: number; t: number; dv: number },
  scale: number,
  score: (b: number, h: number, s: number, t: number) => number,
  value: (b: number, h: number, t: number, e: number) => number,
  o: AttentionOptions,
  m: ModInputs,
): Float64Array {
  const { b: B, h: H, s: S, t: T, dv: DV } = dims;
  const out = new Float64Array(B * H * S * DV);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let i = 0; i < S; i++) {
        const { xs, ok } = maskedLogits(dims, (j) => score(b, h, i, j) * scale, o, m, b, h, i);
        if (!ok.some(Boolean)) continue; // a fully masked row is zeros
        const w = softmaxWeights(xs, ok, sinkOf(o, m, h));
        for (let e = 0; e < DV; e++) {
          let acc = 0;
          for (let j = 0; j < T; j++) if (ok[j]) acc += w[j]! * value(b, h, j, e);
          out[((b * H + h) * S + i) * DV + e] = acc;
        }
      }
  return out;
}

/** The sink logit of head h, if the options ask for one. */
export const sinkOf = (o: AttentionOptions, m: ModInputs, h: number): number => (o.sink ? m.sinks![h]! : -Infinity);

/** Softmax weights of one row: 0 where masked, all zeros when nothing is kept; `sink` joins the denominator only. */
export function softmaxWeights(xs: readonly number[], ok: readonly boolean[], sink = -Infinity): number[] {
  if (!ok.some(Boolean)) return xs.map(() => 0);
  const mx = Math.max(sink, ...xs.filter((_, j) => ok[j]));
  const e = xs.map((x, j) => (ok[j] ? Math.exp(x - mx) : 0));
  const den = e.reduce((a, b) => a + b, Math.exp(sink - mx));
  return e.map((x) => x / den);
}

/**
 * One query row's logits after the score mods of `o` (softcap, ALiBi), and which keys the masks
 * keep; `logit(j)` is the scaled score of key j, and `p` the query's position among the keys.
 */
export function maskedLogits(
  dims: { s: number; t: number },
  logit: (j: number, p: number) => number,
  o: AttentionOptions,
  m: ModInputs,
  b: number,
  h: number,
  i: number,
): { xs: number[]; ok: boolean[]; p: number } {
  const { s: S, t: T } = dims;
  const L = o.cache ? m.kv_len![b]! : T;
  const p = i + L - S; // the query's position among the keys
  const xs: number[] = [];
  const ok: boolean[] = [];
  for (let j = 0; j < T; j++) {
    let x = logit(j, p);
    if (o.softcap) x = o.softcap * Math.tanh(x / o.softcap);
    if (o.alibi) x -= m.slopes![h]! * Math.abs(j - p);
    let allowed = true;
    if (o.causal || o.prefix) allowed &&= j <= p || (!!o.prefix && j < m.prefix_len![b]!);
    if (o.window) allowed &&= Math.abs(j - p) < o.window;
    if (o.stride) allowed &&= Math.abs(p - j) < o.stride || (p - j) % o.stride === 0;
    if (o.segments) allowed &&= m.q_seg![b * S + i] === m.kv_seg![b * T + j];
    if (o.cache) allowed &&= j < L;
    xs.push(x);
    ok.push(allowed);
  }
  return { xs, ok, p };
}

/** Dims of the GQA family; `kvh` K/V heads (h for MHA, g for GQA, 1 for MQA). */
export interface HeadDims {
  b: number;
  h: number;
  s: number;
  t: number;
  d: number;
  dv: number;
}

/** MHA / GQA / MQA by loops: k [b kvh t d], v [b kvh t dv]; query head i reads KV head floor(i / (h / kvh)). */
export function refGrouped(
  dims: HeadDims,
  kvh: number,
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  o: AttentionOptions,
  m: ModInputs,
): Float64Array {
  const { h: H, s: S, t: T, d: D, dv: DV } = dims;
  const kvOf = (h: number) => Math.floor(h / (H / kvh));
  const score = (b: number, h: number, i: number, j: number) => {
    let acc = 0;
    for (let c = 0; c < D; c++) acc += q[((b * H + h) * S + i) * D + c]! * k[((b * kvh + kvOf(h)) * T + j) * D + c]!;
    return acc;
  };
  const value = (b: number, h: number, j: number, e: number) => v[((b * kvh + kvOf(h)) * T + j) * DV + e]!;
  return loopAttention(dims, o.scale || 1 / Math.sqrt(D), score, value, o, m);
}

export interface MlaDims {
  b: number;
  h: number;
  s: number;
  t: number;
  dn: number;
  dr: number;
  dc: number;
  dv: number;
}

/** MLA by loops, from the definition: k = c_kv·w_uk, v = c_kv·w_uv per head, plus the RoPE dot product. */
export function refMla(dims: MlaDims, x: Record<string, ArrayLike<number>>, o: AttentionOptions & { rope?: boolean }, m: ModInputs): Float64Array {
  const { b: B, h: H, s: S, t: T, dn: DN, dr: DR, dc: DC, dv: DV } = dims;
  const rope = o.rope ?? true;
  const K = new Float64Array(B * H * T * DN);
  const V = new Float64Array(B * H * T * DV);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let j = 0; j < T; j++) {
        for (let n = 0; n < DN; n++) {
          let acc = 0;
          for (let c = 0; c < DC; c++) acc += x.c_kv![(b * T + j) * DC + c]! * x.w_uk![(c * H + h) * DN + n]!;
          K[((b * H + h) * T + j) * DN + n] = acc;
        }
        for (let e = 0; e < DV; e++) {
          let acc = 0;
          for (let c = 0; c < DC; c++) acc += x.c_kv![(b * T + j) * DC + c]! * x.w_uv![(c * H + h) * DV + e]!;
          V[((b * H + h) * T + j) * DV + e] = acc;
        }
      }
  const score = (b: number, h: number, i: number, j: number) => {
    let acc = 0;
    for (let n = 0; n < DN; n++) acc += x.q_nope![((b * H + h) * S + i) * DN + n]! * K[((b * H + h) * T + j) * DN + n]!;
    if (rope) for (let r = 0; r < DR; r++) acc += x.q_rope![((b * H + h) * S + i) * DR + r]! * x.k_rope![(b * T + j) * DR + r]!;
    return acc;
  };
  const value = (b: number, h: number, j: number, e: number) => V[((b * H + h) * T + j) * DV + e]!;
  return loopAttention({ b: B, h: H, s: S, t: T, dv: DV }, o.scale || 1 / Math.sqrt(DN + (rope ? DR : 0)), score, value, o, m);
}

export interface PagedDims {
  b: number;
  h: number;
  g: number;
  s: number;
  n: number;
  blk: number;
  m: number;
  d: number;
  dv: number;
}

/** Paged GQA by loops: token j of sequence b is k_cache[block_table[b, j / blk], g, j % blk]. */
export function refPaged(dims: PagedDims, x: Record<string, ArrayLike<number>>, o: AttentionOptions, m: ModInputs): Float64Array {
  const { b: B, h: H, g: G, s: S, blk: BLK, m: M, d: D, dv: DV } = dims;
  const T = M * BLK;
  const kvOf = (h: number) => Math.floor(h / (H / G));
  const at = (b: number, g: number, j: number) => (x.block_table![b * M + Math.floor(j / BLK)]! * G + g) * BLK + (j % BLK);
  const score = (b: number, h: number, i: number, j: number) => {
    let acc = 0;
    for (let c = 0; c < D; c++) acc += x.q![((b * H + h) * S + i) * D + c]! * x.k_cache![at(b, kvOf(h), j) * D + c]!;
    return acc;
  };
  const value = (b: number, h: number, j: number, e: number) => x.v_cache![at(b, kvOf(h), j) * DV + e]!;
  return loopAttention({ b: B, h: H, s: S, t: T, dv: DV }, o.scale || 1 / Math.sqrt(D), score, value, { ...o, cache: true }, m);
}

/** Linformer by loops: keys and values projected along the sequence, e·k and f·v. */
export function refLinformer(dims: HeadDims & { p: number }, x: Record<string, ArrayLike<number>>, shared: boolean): Float64Array {
  const { b: B, h: H, s: S, t: T, p: P, d: D, dv: DV } = dims;
  const f = shared ? x.e! : x.f!;
  const proj = (w: ArrayLike<number>, src: ArrayLike<number>, w2: number, b: number, h: number, p: number, c: number) => {
    let acc = 0;
    for (let j = 0; j < T; j++) acc += w[p * T + j]! * src[((b * H + h) * T + j) * w2 + c]!;
    return acc;
  };
  const score = (b: number, h: number, i: number, p: number) => {
    let acc = 0;
    for (let c = 0; c < D; c++) acc += x.q![((b * H + h) * S + i) * D + c]! * proj(x.e!, x.k!, D, b, h, p, c);
    return acc;
  };
  const value = (b: number, h: number, p: number, e: number) => proj(f, x.v!, DV, b, h, p, e);
  return loopAttention({ b: B, h: H, s: S, t: P, dv: DV }, 1 / Math.sqrt(D), score, value, {}, {});
}

/** Random values for the option inputs of a graph (whatever of slopes … kv_len it declares). */
export function modInputs(
  r: () => number,
  dims: { b: number; h: number; s: number; t: number },
  names: readonly string[],
  kvLen?: ArrayLike<number>,
): Record<string, Float32Array | Int32Array> {
  const { b: B, h: H, s: S, t: T } = dims;
  const out: Record<string, Float32Array | Int32Array> = {};
  for (const name of names) {
    if (name === 'slopes') out.slopes = Float32Array.from({ length: H }, () => Math.fround(r() * 0.5));
    if (name === 'sinks') out.sinks = randn(r, H, 2);
    if (name === 'prefix_len') out.prefix_len = randInt(r, B, 0, T);
    if (name === 'q_seg') out.q_seg = randInt(r, B * S, 0, 2);
    if (name === 'kv_seg') out.kv_seg = randInt(r, B * T, 0, 2);
    if (name === 'kv_len') out.kv_len = kvLen ? Int32Array.from(kvLen) : randInt(r, B, 0, T);
  }
  return out;
}
