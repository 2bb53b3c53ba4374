/**
 * QK-norm (as in OLMo 2 and Qwen3): queries and keys are RMS-normalised over the head dim,
 * with learned gains, before the scores, which keeps the logits bounded as training scales.
 */
import { einsum, graph, input, size, type Tensor } from '../dsl/index.ts';
import type { Graph } from '../ir/index.ts';
import { attend, attentionOptionDocs, attentionOptions, graphName, scaleOf, type AttentionOptions } from './mods.ts';
import type { Variant } from './variant.ts';

/** RMSNorm over `d` with gain `g` [d]: x / sqrt(mean(x², d) + 1e-6) · g. */
function rms<T extends Tensor<any>>(x: T, g: Tensor<['d']>): T {
  const meanSquare = x.mul(x).sum('d').div(size('d').cast('f32'));
  return x.mul(meanSquare.add(1e-6).rsqrt()).mul(g) as T;
}

/**
 * QK-norm attention: q [b h s d], k [b h t d], v [b h t dv], gq, gk [d] → o [b h s dv],
 * o = softmax(rms(q)·gq · rms(k)·gk · scale, mask)·v with RMSNorm over d (eps 1e-6).
 * @example interpret(qknorm({ causal: true }), { q, k, v, gq, gk }, { b: 1, h: 2, s: 4, t: 4, d: 8, dv: 8 })
 */
export function qknorm(opts: AttentionOptions = {}): Graph {
  const q = input('q', 'b h s d');
  const k = input('k', 'b h t d');
  const v = input('v', 'b h t dv');
  const [gq, gk] = [input('gq', 'd'), input('gk', 'd')];
  const scores = einsum('b h s d, b h t d -> b h s t', rms(q, gq), rms(k, gk)).mul(scaleOf(opts));
  const o = einsum('b h s t, b h t dv -> b h s dv', attend(scores, opts), v);
  return graph(graphName('qknorm', opts), { o });
}

export const qknormVariant: Variant = {
  name: 'qknorm',
  summary: 'QK-norm (OLMo 2, Qwen3): softmax(rms(q) gq . rms(k) gk / sqrt(d)) v, RMSNorm over d',
  options: { ...attentionOptionDocs },
  build: (o = {}) => qknorm(attentionOptions(o)),
  dims: { check: { b: 1, h: 2, s: 7, t: 9, d: 8, dv: 8 }, bench: { b: 1, h: 8, s: 256, t: 256, d: 64, dv: 64 } },
  kvBytesPerToken: (d, bytes) => d.h! * (d.d! + d.dv!) * bytes,
};
