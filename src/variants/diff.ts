/**
 * Differential attention (Ye et al. 2024, arXiv:2410.05258): the difference of two softmax
 * maps cancels the attention noise both share, `(softmax(q1·k1ᵀ) − λ·softmax(q2·k2ᵀ))·v`.
 */
import { einsum, graph, input } from '../dsl/index.ts';
import type { Graph } from '../ir/index.ts';
import { attentionMods, attentionOptionDocs, attentionOptions, graphName, scaleOf, type AttentionOptions } from './mods.ts';
import type { Variant } from './variant.ts';

/**
 * Differential attention: q1, q2 [b h s d], k1, k2 [b h t d], v [b h t dv], lam [h] → o [b h s dv],
 * o = (softmax(q1·k1ᵀ·scale, mask) − lam[h]·softmax(q2·k2ᵀ·scale, mask))·v. Both maps share the
 * mask and the score mods of {@link AttentionOptions}.
 * @example interpret(diff({ causal: true }), { q1, q2, k1, k2, v, lam }, { b: 1, h: 2, s: 4, t: 4, d: 8, dv: 8 })
 */
export function diff(opts: AttentionOptions = {}): Graph {
  const [q1, q2] = [input('q1', 'b h s d'), input('q2', 'b h s d')];
  const [k1, k2] = [input('k1', 'b h t d'), input('k2', 'b h t d')];
  const v = input('v', 'b h t dv');
  const lam = input('lam', 'h');
  const mods = attentionMods(opts);
  const map = (q: typeof q1, k: typeof k1) =>
    mods.logits(einsum('b h s d, b h t d -> b h s t', q, k).mul(scaleOf(opts))).softmax('t', mods.mask ? { mask: mods.mask } : {});
  const p = map(q1, k1).sub(map(q2, k2).mul(lam));
  const o = einsum('b h s t, b h t dv -> b h s dv', p, v);
  return graph(graphName('diff', opts), { o });
}

const { sink: _sink, ...options } = attentionOptionDocs;

export const diffVariant: Variant = {
  name: 'diff',
  summary: 'differential attention (Ye et al. 2024): (softmax(q1 k1^T) - lam[h] softmax(q2 k2^T)) v, one shared mask',
  options,
  build: (o = {}) => diff(attentionOptions(o)),
  dims: { check: { b: 1, h: 2, s: 7, t: 9, d: 8, dv: 8 }, bench: { b: 1, h: 4, s: 256, t: 256, d: 64, dv: 64 } },
  kvBytesPerToken: (d, bytes) => d.h! * (2 * d.d! + d.dv!) * bytes,
};
