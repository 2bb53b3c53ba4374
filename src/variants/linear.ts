/**
 * Linear attention (Katharopoulos et al. 2020, arXiv:2006.16236): the softmax kernel is replaced by
 * a feature map φ(x) = elu(x) + 1, and each row is normalised by its own sum.
 */
import { einsum, graph, input, where } from '../dsl/index.ts';
import type { Graph } from '../ir/index.ts';
import { attentionMods, attentionOptionDocs, type AttentionOptions } from './mods.ts';
import type { Variant } from './variant.ts';

/** Options of {@link linearAttention}: the masks of {@link AttentionOptions} (no score mods: there are no logits). */
export type LinearOptions = Pick<AttentionOptions, 'causal' | 'window' | 'prefix' | 'segments' | 'stride' | 'cache'>;

/**
 * Linear attention: q [b h s d], k [b h t d], v [b h t dv] → o [b h s dv], with φ = elu + 1,
 * o_i = Σ_j keep·(φ(q_i)·φ(k_j))·v_j / (Σ_j keep·φ(q_i)·φ(k_j) + 1e-6).
 * @example interpret(linearAttention({ causal: true }), { q, k, v }, { b: 1, h: 2, s: 4, t: 4, d: 8, dv: 8 })
 */
export function linearAttention(opts: LinearOptions = {}): Graph {
  const q = input('q', 'b h s d');
  const k = input('k', 'b h t d');
  const v = input('v', 'b h t dv');
  const mask = attentionMods(opts).mask;
  const a = einsum('b h s d, b h t d -> b h s t', q.elu().add(1), k.elu().add(1));
  const kept: typeof a = mask ? (where(mask, a, 0) as never) : a;
  const o = einsum('b h s t, b h t dv -> b h s dv', kept, v).div(kept.sum('t').add(1e-6));
  return graph(opts.causal ? 'linear_causal' : 'linear', { o });
}

const MASKS = ['causal', 'window', 'prefix', 'segments', 'stride', 'cache'] as const;

export const linearVariant: Variant = {
  name: 'linear',
  summary: 'linear attention (Katharopoulos et al. 2020): phi(q) phi(k)^T v / row sum, phi = elu + 1',
  options: Object.fromEntries(MASKS.map((k) => [k, attentionOptionDocs[k]])),
  build: (o = {}) => linearAttention(Object.fromEntries(MASKS.filter((k) => o[k] !== undefined).map((k) => [k, o[k]])) as LinearOptions),
  dims: { check: { b: 1, h: 2, s: 7, t: 9, d: 8, dv: 8 }, bench: { b: 1, h: 8, s: 256, t: 256, d: 64, dv: 64 } },
  kvBytesPerToken: (d, bytes) => d.h! * (d.d! + d.dv!) * bytes,
};
