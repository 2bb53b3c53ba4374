/**
 * Independent loop implementations of the zoo variants (issue 21's table), written from each
 * paper's formula rather than from the DSL graphs. Tensors are row-major in the axis order of the
 * table: q [b h s d], k [b h t d], v [b h t dv].
 */
import type { AttentionOptions } from '../../src/variants/index.ts';
import { maskedLogits, sinkOf, softmaxWeights, type HeadDims, type ModInputs } from './reference.ts';

/** The zoo's variants, in the order `einattn list` shows them. */
export const ZOO = ['diff', 'sigmoid', 'linear', 'relbias', 'fox', 'qknorm', 'moba'] as const;

type X = Record<string, ArrayLike<number>>;

/** Row `i` of a [b h n w] tensor at (b, h) as a function of the column. */
const row = (a: ArrayLike<number>, d: HeadDims, n: number, w: number, b: number, h: number, i: number) => (c: number) => a[((b * d.h + h) * n + i) * w + c]!;

const dot = (w: number, x: (c: number) => number, y: (c: number) => number): number => {
  let acc = 0;
  for (let c = 0; c < w; c++) acc += x(c) * y(c);
  return acc;
};

/**
 * Runs `weights(b, h, i)` (one row's weight per key) over every query row and contracts with v:
 * o [b h s dv] = Σ_j w_j · v[j], divided by `norm(w)` when given.
 */
function contract(d: HeadDims, v: ArrayLike<number>, weights: (b: number, h: number, i: number) => number[], norm?: (w: number[]) => number): Float64Array {
  const out = new Float64Array(d.b * d.h * d.s * d.dv);
  for (let b = 0; b < d.b; b++)
    for (let h = 0; h < d.h; h++)
      for (let i = 0; i < d.s; i++) {
        const w = weights(b, h, i);
        const n = norm ? norm(w) : 1;
        for (let e = 0; e < d.dv; e++) {
          let acc = 0;
          for (let j = 0; j < d.t; j++) acc += w[j]! * v[((b * d.h + h) * d.t + j) * d.dv + e]!;
          out[((b * d.h + h) * d.s + i) * d.dv + e] = acc / n;
        }
      }
  return out;
}

const scaleOf = (d: HeadDims, o: AttentionOptions) => o.scale || 1 / Math.sqrt(d.d);

/** The scaled score of (q, k) rows at (b, h, i, j). */
const scorer = (d: HeadDims, q: ArrayLike<number>, k: ArrayLike<number>, o: AttentionOptions) => (b: number, h: number, i: number, j: number) =>
  dot(d.d, row(q, d, d.s, d.d, b, h, i), row(k, d, d.t, d.d, b, h, j)) * scaleOf(d, o);

/** Differential attention: (softmax(q1·k1) − lam[h]·softmax(q2·k2))·v, one mask. */
export function refDiff(d: HeadDims, x: X, o: AttentionOptions, m: ModInputs): Float64Array {
  const [s1, s2] = [scorer(d, x.q1!, x.k1!, o), scorer(d, x.q2!, x.k2!, o)];
  return contract(d, x.v!, (b, h, i) => {
    const a = maskedLogits(d, (j) => s1(b, h, i, j), o, m, b, h, i);
    const c = maskedLogits(d, (j) => s2(b, h, i, j), o, m, b, h, i);
    const [w1, w2] = [softmaxWeights(a.xs, a.ok), softmaxWeights(c.xs, c.ok)];
    return w1.map((w, j) => w - x.lam![h]! * w2[j]!);
  });
}

/** Sigmoid attention: Σ_j sigmoid(x_j + bias)·keep_j·v_j, bias −ln L by default (L keys). */
export function refSigmoid(d: HeadDims, x: X, o: AttentionOptions & { bias?: number }, m: ModInputs): Float64Array {
  const s = scorer(d, x.q!, x.k!, o);
  return contract(d, x.v!, (b, h, i) => {
    const { xs, ok } = maskedLogits(d, (j) => s(b, h, i, j), o, m, b, h, i);
    const bias = o.bias ?? -Math.log(o.cache ? m.kv_len![b]! : d.t);
    return xs.map((z, j) => (ok[j] ? 1 / (1 + Math.exp(-(z + bias))) : 0));
  });
}

/** Linear attention: φ = elu + 1; o = Σ keep·(φq·φk)·v / (Σ keep·φq·φk + 1e-6). */
export function refLinear(d: HeadDims, x: X, o: AttentionOptions, m: ModInputs): Float64Array {
  const phi = (f: (c: number) => number) => (c: number) => {
    const z = f(c);
    return z > 0 ? z + 1 : Math.exp(z);
  };
  return contract(
    d,
    x.v!,
    (b, h, i) => {
      const fq = phi(row(x.q!, d, d.s, d.d, b, h, i));
      const { xs, ok } = maskedLogits(d, (j) => dot(d.d, fq, phi(row(x.k!, d, d.t, d.d, b, h, j))), {}, m, b, h, i);
      const masked = maskedLogits(d, () => 0, { ...o, alibi: false, softcap: 0 }, m, b, h, i).ok;
      return xs.map((w, j) => (ok[j] && masked[j] ? w : 0));
    },
    (w) => w.reduce((a, c) => a + c, 0) + 1e-6,
  );
}

/** Clipped relative bias: softmax(q·k·scale + rel_bias[h, clamp(j − p, −R, R) + R], mask)·v. */
export function refRelbias(d: HeadDims & { r: number }, x: X, o: AttentionOptions, m: ModInputs): Float64Array {
  const s = scorer(d, x.q!, x.k!, o);
  const R = Math.trunc((d.r - 1) / 2);
  return contract(d, x.v!, (b, h, i) => {
    const bias = (j: number, p: number) => x.rel_bias![h * d.r + Math.min(R, Math.max(-R, j - p)) + R]!;
    const { xs, ok } = maskedLogits(d, (j, p) => s(b, h, i, j) + bias(j, p), o, m, b, h, i);
    return softmaxWeights(xs, ok, sinkOf(o, m, h));
  });
}

/** Forgetting attention: softmax(q·k·scale + c[p] − c[j], causal)·v, c the inclusive cumsum of log_f over t. */
export function refFox(d: HeadDims, x: X, o: AttentionOptions, m: ModInputs): Float64Array {
  const s = scorer(d, x.q!, x.k!, o);
  const c = (b: number, h: number, j: number) => {
    let acc = 0;
    for (let u = 0; u <= j; u++) acc += x.log_f![(b * d.h + h) * d.t + u]!;
    return acc;
  };
  return contract(d, x.v!, (b, h, i) => {
    const { xs, ok } = maskedLogits(d, (j, p) => s(b, h, i, j) + c(b, h, Math.max(p, 0)) - c(b, h, j), { ...o, causal: true }, m, b, h, i);
    return softmaxWeights(xs, ok, sinkOf(o, m, h));
  });
}

/** QK-norm: softmax(rms(q)·gq · rms(k)·gk · scale, mask)·v, RMSNorm over d with eps 1e-6. */
export function refQknorm(d: HeadDims, x: X, o: AttentionOptions, m: ModInputs): Float64Array {
  const rms = (f: (c: number) => number, g: ArrayLike<number>) => {
    const r = 1 / Math.sqrt(dot(d.d, f, f) / d.d + 1e-6);
    return (c: number) => f(c) * r * g[c]!;
  };
  return contract(d, x.v!, (b, h, i) => {
    const q = rms(row(x.q!, d, d.s, d.d, b, h, i), x.gq!);
    const { xs, ok } = maskedLogits(d, (j) => dot(d.d, q, rms(row(x.k!, d, d.t, d.d, b, h, j), x.gk!)) * scaleOf(d, o), o, m, b, h, i);
    return softmaxWeights(xs, ok, sinkOf(o, m, h));
  });
}

/**
 * MoBA: keys in blocks of blk; a query keeps its own block and the top (topk − 1) blocks strictly
 * before it by gate q·mean(k in block) (ties: the lower block), then a causal softmax.
 */
export function refMoba(d: HeadDims & { blk: number }, x: X, o: AttentionOptions & { topk?: number }, m: ModInputs): Float64Array {
  const s = scorer(d, x.q!, x.k!, o);
  const topk = o.topk ?? 3;
  return contract(d, x.v!, (b, h, i) => {
    const q = row(x.q!, d, d.s, d.d, b, h, i);
    const { xs, ok, p } = maskedLogits(d, (j) => s(b, h, i, j), { ...o, causal: true }, m, b, h, i);
    const own = Math.floor(Math.max(p, 0) / d.blk);
    const gates: { blk: number; gate: number }[] = [];
    for (let n = 0; n < own; n++) {
      const mean = (c: number) => {
        let acc = 0;
        for (let j = n * d.blk; j < (n + 1) * d.blk; j++) acc += row(x.k!, d, d.t, d.d, b, h, j)(c);
        return acc / d.blk;
      };
      gates.push({ blk: n, gate: dot(d.d, q, mean) });
    }
    gates.sort((u, w) => w.gate - u.gate || u.blk - w.blk);
    const chosen = new Set([own, ...gates.slice(0, Math.max(0, topk - 1)).map((g) => g.blk)]);
    return softmaxWeights(
      xs,
      ok.map((k, j) => k && chosen.has(Math.floor(j / d.blk))),
      sinkOf(o, m, h),
    );
  });
}
