/**
 * Attention beyond one softmax, written as the papers write them, for the flash tests: sigmoid
 * attention (no normaliser), linear attention (its own row sum), differential attention (a
 * combination of two softmax maps), a mixed combination, and score terms gathered through
 * computed indices (relbias) or read per query and per key (fox). Self-contained: built from
 * the DSL, not from src/variants.
 */
import { clamp, cumsum, div, einsum, graph, index, input, maximum, sigmoid, size, where, type Graph, type Tensor } from '../../src/index.ts';

export type Kind = 'sigmoid' | 'sigmoidExp' | 'linear' | 'linearNorm' | 'diff' | 'mixed' | 'relbias' | 'fox';
export const KINDS: readonly Kind[] = ['sigmoid', 'sigmoidExp', 'linear', 'linearNorm', 'diff', 'mixed', 'relbias', 'fox'];

/** causal: keys up to the query position (aligned to the end); cache: keys below kv_len[b] (a declared length). */
export interface KindOptions {
  causal: boolean;
  cache: boolean;
}

type T4 = Tensor<['b', 'h', 's', 't']>;

/** The scaled scores q·kᵀ/√d of one (q, k) pair. */
const scores = (q: Tensor<['b', 'h', 's', 'd']>, k: Tensor<['b', 'h', 't', 'd']>): T4 =>
  einsum('b h s d, b h t d -> b h s t', q, k).mul(size('d').cast('f32').rsqrt());

/**
 * The graph of `kind`: inputs q [b h s d], k [b h t d], v [b h t dv] (diff, mixed: q2, k2 too),
 * and lam [h] (diff), c [b h s] (mixed), rel_bias [h r] (relbias), log_f [b h t] (fox),
 * kv_len [b] (cache); output o [b h s dv].
 * @example buildKind('linear', { causal: true, cache: false })
 */
export function buildKind(kind: Kind, o: KindOptions): Graph {
  const q = input('q', 'b h s d');
  const k = input('k', 'b h t d');
  const v = input('v', 'b h t dv');
  const kvLen = o.cache ? input('kv_len', 'b', 'i32', { max: 't' }) : undefined;
  const L = kvLen ?? size('t');
  const position = index('s').add(L.sub(size('s')));
  const [t] = [index('t')];
  let keep: Tensor<any> | undefined = o.causal || kind === 'fox' ? t.le(position) : undefined;
  if (kvLen) keep = keep ? t.lt(kvLen).and(keep) : t.lt(kvLen);
  const masked = (w: T4): T4 => (keep ? (where(keep, w, 0) as never) : w);
  const pv = (p: T4) => einsum('b h s t, b h t dv -> b h s dv', p, v);
  const soft = (x: T4) => x.softmax('t', keep ? { mask: keep } : {});
  const x = scores(q, k);
  let out: Tensor<['b', 'h', 's', 'dv']>;
  switch (kind) {
    case 'sigmoid':
      out = pv(masked(sigmoid(x.sub(1.5))));
      break;
    // the same written with exp, as before the sigmoid op
    case 'sigmoidExp':
      out = pv(masked(div(1, x.sub(1.5).neg().exp().add(1))));
      break;
    case 'linear': {
      const a = masked(einsum('b h s d, b h t d -> b h s t', q.elu().add(1), k.elu().add(1)));
      out = pv(a).div(a.sum('t').add(1e-6));
      break;
    }
    case 'linearNorm': {
      // the same, normalised before the contraction: P = A / (sum(A, t) + ε)
      const a = masked(einsum('b h s d, b h t d -> b h s t', q.elu().add(1), k.elu().add(1)));
      out = pv(a.div(a.sum('t').add(1e-6)));
      break;
    }
    case 'diff': {
      const x2 = scores(input('q2', 'b h s d'), input('k2', 'b h t d'));
      out = pv(soft(x).sub(soft(x2).mul(input('lam', 'h'))));
      break;
    }
    case 'mixed': {
      // Σ cᵢ·Pᵢ over kinds: a softmax, half of it again (one map), and per-row weighted sigmoid weights of other scores
      const x2 = scores(input('q2', 'b h s d'), input('k2', 'b h t d'));
      const p = soft(x);
      out = pv(
        p
          .sub(p.mul(0.5))
          .add(masked(sigmoid(x2)).mul(input('c', 'b h s')))
          .neg(),
      );
      break;
    }
    case 'relbias': {
      const R = size('r').sub(1).div(2);
      const distance = clamp(t.sub(position), R.neg(), R).add(R);
      out = pv(soft(x.add(input('rel_bias', 'h r').gather('r', distance))));
      break;
    }
    case 'fox': {
      const c = cumsum(input('log_f', 'b h t'), 't');
      out = pv(soft(x.add(c.gather('t', maximum(position, 0))).sub(c)));
      break;
    }
  }
  return graph(`${kind}${o.causal ? '_causal' : ''}${o.cache ? '_cache' : ''}`, { o: out });
}

/** Sizes of every axis a kind may use: b h s t d dv, and r = 2R + 1 for the relative-position table. */
export const dimsFor = (base: { b: number; h: number; s: number; t: number; d: number; dv: number }): Record<string, number> => ({ ...base, r: 5 });

/**
 * Deterministic inputs for `g`: smooth values, log forget gates ≤ 0, kv_len as given; with
 * `poison`, k, k2, v and log_f hold NaN at and past kv_len[b] (what a KV cache may hold there).
 */
export function kindInputs(g: Graph, dims: Record<string, number>, kvLen: number[], poison = false): Record<string, Float32Array | Int32Array> {
  const out: Record<string, Float32Array | Int32Array> = {};
  g.inputs.forEach((inp, n) => {
    const count = inp.axes.reduce((p, a) => p * dims[a]!, 1);
    if (inp.name === 'kv_len') {
      out[inp.name] = Int32Array.from(kvLen);
      return;
    }
    const data = Float32Array.from({ length: count }, (_, i) => Math.fround(Math.sin(i * 1.618 + n * 2.7) * 0.9));
    if (inp.name === 'log_f') for (let i = 0; i < count; i++) data[i] = -Math.abs(data[i]!) * 0.5;
    const ti = inp.axes.indexOf('t');
    if (poison && ti >= 0 && inp.axes[0] === 'b') {
      const inner = inp.axes.slice(ti + 1).reduce((p, a) => p * dims[a]!, 1);
      const perB = count / dims.b!;
      for (let i = 0; i < count; i++) if (Math.floor(i / inner) % dims.t! >= kvLen[Math.floor(i / perB)]!) data[i] = NaN;
    }
    out[inp.name] = data;
  });
  return out;
}
