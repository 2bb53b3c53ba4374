/**
 * Grouped-query attention (Ainslie et al. 2023) and multi-query attention (Shazeer 2019):
 * several query heads share one K/V head. GQA needs no special case in the DSL: the
 * query head axis is split `h -> g r` (a view) and the einsum reads K/V by `g`.
 */
import { einsum, graph, input } from '../dsl/index.ts';
import type { Graph } from '../ir/index.ts';
import { attend, attentionOptionDocs, attentionOptions, graphName, scaleOf, type AttentionOptions } from './mods.ts';
import type { Variant } from './variant.ts';

/**
 * Grouped-query attention: q [b h s d], k [b g t d], v [b g t dv] → o [b h s dv]. Query head
 * i reads KV head floor(i / (h / g)); h must be a multiple of g (else SIZE_CONFLICT at run time).
 * @example interpret(gqa({ causal: true }), { q, k, v }, { b: 1, h: 8, g: 2, s: 4, t: 4, d: 16, dv: 16 })
 */
export function gqa(opts: AttentionOptions = {}): Graph {
  const q = input('q', 'b h s d').split('h', 'g r');
  const k = input('k', 'b g t d');
  const v = input('v', 'b g t dv');
  const scores = einsum('b g r s d, b g t d -> b g r s t', q, k).mul(scaleOf(opts));
  const p = attend(scores, opts, (x) => x.split('h', 'g r'));
  const o = einsum('b g r s t, b g t dv -> b g r s dv', p, v).merge('g r', 'h');
  return graph(graphName('gqa', opts), { o });
}

/**
 * Multi-query attention: q [b h s d], k [b t d], v [b t dv] → o [b h s dv]; every query head reads the one K/V head.
 * @example interpret(mqa(), { q, k, v }, { b: 1, h: 4, s: 1, t: 16, d: 8, dv: 8 })
 */
export function mqa(opts: AttentionOptions = {}): Graph {
  const q = input('q', 'b h s d');
  const k = input('k', 'b t d');
  const v = input('v', 'b t dv');
  const scores = einsum('b h s d, b t d -> b h s t', q, k).mul(scaleOf(opts));
  const p = attend(scores, opts);
  const o = einsum('b h s t, b t dv -> b h s dv', p, v);
  return graph(graphName('mqa', opts), { o });
}

export const gqaVariant: Variant = {
  name: 'gqa',
  summary: 'grouped-query attention: query head i reads KV head floor(i/(h/g)); k, v [b g t d]',
  options: { ...attentionOptionDocs },
  build: (o = {}) => gqa(attentionOptions(o)),
  dims: { check: { b: 1, h: 6, g: 2, s: 5, t: 9, d: 8, dv: 8 }, bench: { b: 1, h: 8, g: 2, s: 256, t: 256, d: 64, dv: 64 } },
  kvBytesPerToken: (d, bytes) => d.g! * (d.d! + d.dv!) * bytes,
};

export const mqaVariant: Variant = {
  name: 'mqa',
  summary: 'multi-query attention: all query heads share one K/V head; k, v [b t d]',
  options: { ...attentionOptionDocs },
  build: (o = {}) => mqa(attentionOptions(o)),
  dims: { check: { b: 1, h: 3, s: 5, t: 9, d: 8, dv: 8 }, bench: { b: 1, h: 8, s: 256, t: 256, d: 64, dv: 64 } },
  kvBytesPerToken: (d, bytes) => (d.d! + d.dv!) * bytes,
};
