/**
 * The Forgetting Transformer (Lin et al. 2025, arXiv:2503.02130): a data-dependent forget gate per
 * key decays the logits by the sum of the log gates between key and query, a learned ALiBi.
 */
import { cumsum, einsum, graph, input } from '../dsl/index.ts';
import type { Graph } from '../ir/index.ts';
import { attentionMods, attentionOptionDocs, attentionOptions, graphName, scaleOf, type AttentionOptions } from './mods.ts';
import type { Variant } from './variant.ts';

/**
 * Forgetting attention: q [b h s d], k [b h t d], v [b h t dv], log_f [b h t] (log forget gates,
 * ≤ 0) → o [b h s dv], o = softmax(q·k·scale + c[p] − c[j], causal)·v with c the inclusive cumsum
 * of log_f over t and p the query's position. Always causal.
 * @example interpret(fox(), { q, k, v, log_f }, { b: 1, h: 2, s: 4, t: 4, d: 8, dv: 8 })
 */
export function fox(opts: AttentionOptions = {}): Graph {
  const q = input('q', 'b h s d');
  const k = input('k', 'b h t d');
  const v = input('v', 'b h t dv');
  const c = cumsum(input('log_f', 'b h t'), 't');
  const mods = attentionMods({ ...opts, causal: true });
  // a query before the first key (s > t) sees nothing; its gather index is clamped to stay in range
  const decay = c.gather('t', mods.position.maximum(0)).sub(c);
  const scores = einsum('b h s d, b h t d -> b h s t', q, k).mul(scaleOf(opts)).add(decay);
  const o = einsum('b h s t, b h t dv -> b h s dv', mods.attend(scores), v);
  return graph(graphName('fox', { ...opts, causal: false }), { o });
}

const { causal: _causal, ...options } = attentionOptionDocs;

export const foxVariant: Variant = {
  name: 'fox',
  summary: 'Forgetting Transformer (Lin et al. 2025): softmax(q k^T / sqrt(d) + c[query] - c[key]), c = cumsum(log_f), causal',
  options,
  build: (o = {}) => fox(attentionOptions(o)),
  dims: { check: { b: 1, h: 2, s: 7, t: 9, d: 8, dv: 8 }, bench: { b: 1, h: 8, s: 256, t: 256, d: 64, dv: 64 } },
  kvBytesPerToken: (d, bytes) => d.h! * (d.d! + d.dv! + 1) * bytes,
};
