/** Scaled dot-product multi-head attention (Vaswani et al. 2017), optionally causal. */
import { einsum, graph, indices, input, rsqrt, size, sizes, type Graph } from '../index.ts';
import type { Variant } from './variant.ts';

/**
 * Multi-head attention: `o = softmax(q kᵀ / sqrt(d), mask) v`; v's head dim `dv` may differ from `d`. The causal mask is
 * aligned to the end when s < t (query i sees keys j <= i + t - s).
 * @example const g = mha({ causal: true }); interpret(g, { q, k, v }, { b: 1, h: 2, s: 4, t: 4, d: 8 })
 */
export function mha({ causal = false }: { causal?: boolean } = {}): Graph {
  const q = input('q', 'b h s d');
  const k = input('k', 'b h t d');
  const v = input('v', 'b h t dv');
  const [s, t] = indices('s t');
  const [S, T] = sizes('s t');
  const scores = einsum('b h s d, b h t d -> b h s t', q, k).mul(rsqrt(size('d')));
  const p = scores.softmax('t', causal ? { mask: t.le(s.add(T.sub(S))) } : {});
  const o = einsum('b h s t, b h t dv -> b h s dv', p, v);
  return graph(causal ? 'mha_causal' : 'mha', { o });
}

export const mhaVariant: Variant = {
  name: 'mha',
  summary: 'multi-head attention, softmax(q k^T / sqrt(d)) v; --opt causal=true for a causal mask',
  options: { causal: { type: 'boolean', default: false, doc: 'mask keys after the query (aligned to the end when s < t)' } },
  build: (o = {}) => mha({ causal: Boolean(o.causal) }),
  dims: { check: { b: 1, h: 2, s: 7, t: 9, d: 8, dv: 8 }, bench: { b: 1, h: 8, s: 256, t: 256, d: 64, dv: 64 } },
  kvBytesPerToken: (d, bytes) => d.h! * (d.d! + d.dv!) * bytes,
};
