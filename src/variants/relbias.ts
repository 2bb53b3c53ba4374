/**
 * Clipped relative position bias (Shaw et al. 2018, arXiv:1803.02155; the T5 family's bias is a
 * bucketed form of it): a learned logit per head and clipped key−query distance.
 */
import { clamp, einsum, graph, index, input, size } from '../dsl/index.ts';
import type { Graph } from '../ir/index.ts';
import { attentionOptionDocs, attentionOptions, attentionMods, graphName, scaleOf, type AttentionOptions } from './mods.ts';
import type { Variant } from './variant.ts';

/**
 * Relative-bias attention: q [b h s d], k [b h t d], v [b h t dv], rel_bias [h r] → o [b h s dv],
 * o = softmax(q·kᵀ·scale + rel_bias[h, clamp(j − p, −R, R) + R], mask)·v with R = (r − 1) / 2 and
 * p the query's position (aligned to the end of the keys). r should be odd: with an even r the
 * last column is never read.
 * @example interpret(relbias({ causal: true }), { q, k, v, rel_bias }, { b: 1, h: 2, s: 4, t: 4, r: 5, d: 8, dv: 8 })
 */
export function relbias(opts: AttentionOptions = {}): Graph {
  const q = input('q', 'b h s d');
  const k = input('k', 'b h t d');
  const v = input('v', 'b h t dv');
  const table = input('rel_bias', 'h r');
  const mods = attentionMods(opts);
  const R = size('r').sub(1).div(2);
  const distance = clamp(index('t').sub(mods.position), R.neg(), R).add(R);
  const scores = einsum('b h s d, b h t d -> b h s t', q, k).mul(scaleOf(opts)).add(table.gather('r', distance));
  const o = einsum('b h s t, b h t dv -> b h s dv', mods.attend(scores), v);
  return graph(graphName('relbias', opts), { o });
}

export const relbiasVariant: Variant = {
  name: 'relbias',
  summary: 'clipped relative position bias (Shaw et al. 2018): + rel_bias[h, clamp(key - query, -R, R) + R], r = 2R+1',
  options: { ...attentionOptionDocs },
  build: (o = {}) => relbias(attentionOptions(o)),
  dims: { check: { b: 1, h: 2, s: 7, t: 9, r: 5, d: 8, dv: 8 }, bench: { b: 1, h: 8, s: 256, t: 256, r: 33, d: 64, dv: 64 } },
  kvBytesPerToken: (d, bytes) => d.h! * (d.d! + d.dv!) * bytes,
};
