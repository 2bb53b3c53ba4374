/** Scaled dot-product multi-head attention (Vaswani et al. 2017) with the shared masks and score mods. */
import { einsum, graph, input } from '../dsl/index.ts';
import type { Graph } from '../ir/index.ts';
import { attend, attentionOptionDocs, attentionOptions, graphName, scaleOf, type AttentionOptions } from './mods.ts';
import type { Variant } from './variant.ts';

/**
 * Multi-head attention: `o = softmax(q kᵀ / sqrt(d), mask) v`; v's head dim `dv` may differ from `d`.
 * Inputs q [b h s d], k [b h t d], v [b h t dv] → o [b h s dv]. The causal mask is aligned to the
 * end when s < t (query i sees keys j <= i + t - s); see {@link AttentionOptions} for the rest.
 * @example const g = mha({ causal: true }); interpret(g, { q, k, v }, { b: 1, h: 2, s: 4, t: 4, d: 8, dv: 8 })
 */
export function mha(opts: AttentionOptions = {}): Graph {
  const q = input('q', 'b h s d');
  const k = input('k', 'b h t d');
  const v = input('v', 'b h t dv');
  const scores = einsum('b h s d, b h t d -> b h s t', q, k).mul(scaleOf(opts));
  const p = attend(scores, opts);
  const o = einsum('b h s t, b h t dv -> b h s dv', p, v);
  return graph(graphName('mha', opts), { o });
}

export const mhaVariant: Variant = {
  name: 'mha',
  summary: 'multi-head attention, softmax(q k^T / sqrt(d)) v; --opt causal=true for a causal mask',
  options: { ...attentionOptionDocs },
  build: (o = {}) => mha(attentionOptions(o)),
  dims: { check: { b: 1, h: 2, s: 7, t: 9, d: 8, dv: 8 }, bench: { b: 1, h: 8, s: 256, t: 256, d: 64, dv: 64 } },
  kvBytesPerToken: (d, bytes) => d.h! * (d.d! + d.dv!) * bytes,
};
