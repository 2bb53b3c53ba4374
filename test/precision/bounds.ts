/**
 * Error bounds for reduced-precision attention, derived from the dtypes and the reduction
 * lengths, never tuned to the measurements. Notation (Higham, "Accuracy and Stability of
 * Numerical Algorithms", ch. 2–3):
 *
 * - u16 = 2^-11: the unit roundoff of f16 (round to nearest: |fl(x) − x| ≤ u16·|x| for normal x);
 * - η = 2^-25: half the smallest f16 subnormal, the absolute error of a rounding into the
 *   subnormal range (gradual underflow; `f16.test.ts` checks the adapter has it);
 * - γ_n = n·u32 / (1 − n·u32) with u32 = 2^-24: the relative error of an f32 sum of n terms.
 *
 * One product of two operands under k roundings to f16 (each operand, and the product under
 * f16 compute) has |fl(a·b) − a·b| ≤ ((1 + u16)^k − 1)·|a·b| + 1.001·η·(|a| + |b| + 1).
 *
 * Attention row (query q, keys k_j, values v_j, scale c, output column o = Σ_j p_j v_j):
 * - a logit x_j = c·Σ_i q_i k_ji is off by at most
 *   δ_j = |c|·[(R + γ_d(1 + R))·Σ_i |q_i k_ji| + 1.001η(1 + γ_d)(Σ_i (|q_i| + |k_ji|) + d) + Σ_i |q_i|·Δk_j],
 *   with Δk_j the absolute error of a stored key element (int8 quantisation, else 0);
 * - logits off by at most δ = max_j δ_j change each softmax weight by a factor in
 *   [e^-2δ, e^2δ], so Σ_j |p̂_j − p_j|·|v_j| ≤ (e^2δ − 1)·max_j |v_j|;
 * - stored values off by Δv_j add at most max_j Δv_j (the weights sum to 1);
 * - the P·V products add R'·e^2δ·(max_j |v_j| + max_j Δv_j) + 1.001η(1 + Σ_j (|v_j| + Δv_j) + t)
 *   (the weights are ≤ 1 when multiplied, and the sum l ≥ 1 divides the absolute part);
 * - the f32 parts (exp, the online rescaling, the division, the scale multiply) are held to the
 *   project's f32 rule: 1e-5·√L·max(1, |ref|max) + 1e-6 with L the longest reduction.
 * An f16 output adds u16·|o| + η for its own rounding.
 */

export const U16 = 2 ** -11;
export const ETA16 = 2 ** -25;
export const U32 = 2 ** -24;

/** γ_n for f32 sums of n terms. */
export function gamma32(n: number): number {
  return (n * U32) / (1 - n * U32);
}

/** How the operands of a product are rounded: `k` roundings to f16 (0 = none). */
export function productRel(k: number): number {
  return (1 + U16) ** k - 1;
}

/** The absolute-underflow coefficient of a product with `k` f16 roundings. */
export function productEta(k: number): number {
  return k === 0 ? 0 : 1.001 * ETA16;
}

/** The project's f32 rule (test/variants/gpu.ts): allowed f32 error for a longest reduction L. */
export function f32Allowance(L: number, refAbsMax: number): number {
  return 1e-5 * Math.sqrt(L) * Math.max(1, refAbsMax) + 1e-6;
}

/** What one attention row's bound needs. */
export interface RowProblem {
  /** the query row, d values */
  q: ArrayLike<number>;
  /** key j, element i at k[j * d + i] (t keys) */
  k: ArrayLike<number>;
  /** value j, column c at v[j * dv + c] */
  v: ArrayLike<number>;
  d: number;
  dv: number;
  t: number;
  /** the logit scale */
  scale: number;
  /** f16 roundings of each Q·K product (3 under f16 compute of f32 inputs; 2 for f16 storage in f32 math; 0 for f32) */
  qkRoundings: number;
  /** f16 roundings of each P·V product (3 under f16 compute; 1 for f16-stored values in f32 math; 0 for f32) */
  pvRoundings: number;
  /** absolute error of each stored key element of key j (int8 quantisation), default 0 */
  kErr?: (j: number) => number;
  /** absolute error of each stored value element of key j, default 0 */
  vErr?: (j: number) => number;
}

/**
 * The bound of every output column of one attention row, before the f32 allowance.
 * @example rowBound({ q, k, v, d: 8, dv: 8, t: 16, scale: 8 ** -0.5, qkRoundings: 3, pvRoundings: 3 })
 */
export function rowBound(p: RowProblem): Float64Array {
  const { q, k, v, d, dv, t, scale } = p;
  const [R, E] = [productRel(p.qkRoundings), productEta(p.qkRoundings)];
  const [Rv, Ev] = [productRel(p.pvRoundings), productEta(p.pvRoundings)];
  const kErr = p.kErr ?? (() => 0);
  const vErr = p.vErr ?? (() => 0);
  let qAbs = 0;
  for (let i = 0; i < d; i++) qAbs += Math.abs(q[i]!);
  let delta = 0;
  for (let j = 0; j < t; j++) {
    const ke = kErr(j);
    let prod = 0;
    let mags = 0;
    for (let i = 0; i < d; i++) {
      const kk = Math.abs(k[j * d + i]!) + ke; // the stored key's magnitude bound
      prod += Math.abs(q[i]!) * kk;
      mags += Math.abs(q[i]!) + kk;
    }
    const dj = Math.abs(scale) * ((R + gamma32(d) * (1 + R)) * prod + E * (1 + gamma32(d)) * (mags + d) + qAbs * ke);
    delta = Math.max(delta, dj);
  }
  const grow = Math.exp(2 * delta);
  const out = new Float64Array(dv);
  let vErrMax = 0;
  let vErrSum = 0;
  for (let j = 0; j < t; j++) {
    vErrMax = Math.max(vErrMax, vErr(j));
    vErrSum += vErr(j);
  }
  for (let c = 0; c < dv; c++) {
    let vMax = 0;
    let vSum = 0;
    for (let j = 0; j < t; j++) {
      const a = Math.abs(v[j * dv + c]!);
      vMax = Math.max(vMax, a);
      vSum += a;
    }
    out[c] = (grow - 1) * vMax + vErrMax + (Rv + gamma32(t) * (1 + Rv)) * grow * (vMax + vErrMax) + Ev * (1 + vSum + vErrSum + t);
  }
  return out;
}

/**
 * The bound of one element of a plain contraction c = Σ_k a_k b_k under `roundings` f16
 * roundings per product, before the f32 allowance.
 * @example dotBound([1, 2], [3, 4], 3)
 */
export function dotBound(a: ArrayLike<number>, b: ArrayLike<number>, roundings: number): number {
  const [R, E] = [productRel(roundings), productEta(roundings)];
  let prod = 0;
  let mags = 0;
  for (let i = 0; i < a.length; i++) {
    prod += Math.abs(a[i]! * b[i]!);
    mags += Math.abs(a[i]!) + Math.abs(b[i]!);
  }
  return (R + gamma32(a.length) * (1 + R)) * prod + E * (1 + gamma32(a.length)) * (mags + a.length);
}

/**
 * Per-element bounds of GQA-layout attention (MHA when g = h): q [b h s d], k [b g t d],
 * v [b g t dv] → o [b h s dv], query head i reading KV head floor(i / (h / g)).
 * @example gqaBounds(dims, { q, k, v }, { qkRoundings: 3, pvRoundings: 3 })
 */
export function gqaBounds(
  dims: { b: number; h: number; g: number; s: number; t: number; d: number; dv: number },
  x: { q: ArrayLike<number>; k: ArrayLike<number>; v: ArrayLike<number> },
  r: Pick<RowProblem, 'qkRoundings' | 'pvRoundings'> & {
    scale?: number;
    /** absolute error of key / value elements of (batch, kv head, token) */
    kErr?: (b: number, g: number, j: number) => number;
    vErr?: (b: number, g: number, j: number) => number;
  },
): Float64Array {
  const { b: B, h: H, g: G, s: S, t: T, d: D, dv: DV } = dims;
  const out = new Float64Array(B * H * S * DV);
  const scale = r.scale ?? 1 / Math.sqrt(D);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++) {
      const g = Math.floor(h / (H / G));
      const kv = (b * G + g) * T;
      const k = Array.prototype.slice.call(x.k, kv * D, (kv + T) * D) as number[];
      const v = Array.prototype.slice.call(x.v, kv * DV, (kv + T) * DV) as number[];
      for (let s = 0; s < S; s++) {
        const row = (b * H + h) * S + s;
        const q = Array.prototype.slice.call(x.q, row * D, (row + 1) * D) as number[];
        const bound = rowBound({
          q,
          k,
          v,
          d: D,
          dv: DV,
          t: T,
          scale,
          qkRoundings: r.qkRoundings,
          pvRoundings: r.pvRoundings,
          kErr: r.kErr && ((j) => r.kErr!(b, g, j)),
          vErr: r.vErr && ((j) => r.vErr!(b, g, j)),
        });
        out.set(bound, row * DV);
      }
    }
  return out;
}
