/**
 * Mixture of Block Attention (Lu et al. 2025, arXiv:2502.13189): keys are split into blocks, a
 * gate scores each block by the query's dot product with the block's mean key, and each query
 * attends to its own block and the top-scoring earlier blocks only. The choice is data-dependent,
 * so the flash kernel's block map (evaluated per call) skips every block no query of a tile chose.
 */
import { blockIndex, einsum, graph, index, input, size, topkMask, where } from '../dsl/index.ts';
import type { Graph } from '../ir/index.ts';
import { fail } from '../errors.ts';
import { attentionMods, attentionOptionDocs, attentionOptions, graphName, scaleOf, type AttentionOptions } from './mods.ts';
import type { Variant } from './variant.ts';

/** Options of {@link moba}: the shared ones (always causal) and how many blocks each query reads. */
export interface MobaOptions extends AttentionOptions {
  /** blocks per query, its own included (default 3) */
  topk?: number;
}

/**
 * MoBA: q [b h s d], k [b h t d], v [b h t dv], block size blk → o [b h s dv]. Keys fall in blocks
 * of blk (the last may be partial); block m's gate is q·mean(k in m); a query keeps its own block
 * and the (topk − 1) highest-gated blocks strictly before it, then a causal softmax over those keys.
 * @example interpret(moba({ topk: 2 }), { q, k, v }, { b: 1, h: 2, s: 8, t: 8, blk: 2, d: 8, dv: 8 })
 */
export function moba(opts: MobaOptions = {}): Graph {
  const topk = opts.topk ?? 3;
  if (!Number.isInteger(topk) || topk < 1) fail('USAGE', `moba: option 'topk' must be an integer >= 1 (blocks per query, its own included), got ${topk}`);
  const q = input('q', 'b h s d');
  const k = input('k', 'b h t d');
  const v = input('v', 'b h t dv');
  const mods = attentionMods({ ...opts, causal: true });
  const m = blockIndex('t', 'blk', 'm');
  const keyBlock = index('t').div(size('blk'));
  const own = mods.position.maximum(0).div(size('blk'));
  // only blocks before the query's own are candidates, and those are whole: their mean divides by blk
  const kMean = einsum('b h t d, t m -> b h m d', k, where(keyBlock.eq(m), 1, 0)).div(size('blk').cast('f32'));
  const gate = where(m.lt(own), einsum('b h s d, b h m d -> b h s m', q, kMean), -Infinity);
  const chosen = topkMask(gate, 'm', topk - 1);
  const keep = keyBlock.eq(own).or(where(chosen, 1, 0).gather('m', keyBlock).eq(1));
  const scores = einsum('b h s d, b h t d -> b h s t', q, k).mul(scaleOf(opts));
  const p = mods.logits(scores).softmax('t', { mask: mods.mask!.and(keep), ...(mods.sink ? { sink: mods.sink } : {}) });
  const o = einsum('b h s t, b h t dv -> b h s dv', p, v);
  return graph(`${graphName('moba', { ...opts, causal: false })}_top${topk}`, { o });
}

const { causal: _causal, ...options } = attentionOptionDocs;

export const mobaVariant: Variant = {
  name: 'moba',
  summary: 'MoBA (Lu et al. 2025): causal attention over the own key block and the top-k earlier blocks by q . mean(k); needs size blk',
  options: { ...options, topk: { type: 'number', default: 3, doc: 'key blocks per query, its own included' } },
  build: (o = {}) => moba({ ...attentionOptions(o), topk: Number(o.topk ?? 3) }),
  dims: { check: { b: 1, h: 2, s: 7, t: 9, blk: 2, d: 8, dv: 8 }, bench: { b: 1, h: 8, s: 256, t: 256, blk: 32, d: 64, dv: 64 } },
  kvBytesPerToken: (d, bytes) => d.h! * (d.d! + d.dv!) * bytes,
};
