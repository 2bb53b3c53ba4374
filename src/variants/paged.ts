/**
 * GQA over a paged KV cache (vLLM PagedAttention, arXiv:2309.06180): K and V live in
 * fixed-size blocks of a shared pool; each sequence's block table lists its blocks in
 * order and kv_len[b] says how many of its tokens are valid. The gather through the
 * block table followed by merging `m blk -> t` is a view: no cache is copied.
 */
import { einsum, graph, input } from '../dsl/index.ts';
import type { Graph } from '../ir/index.ts';
import { attend, attentionOptionDocs, attentionOptions, graphName, scaleOf, type AttentionOptions } from './mods.ts';
import type { Variant } from './variant.ts';

/**
 * Paged GQA: q [b h s d], k_cache [n g blk d], v_cache [n g blk dv], block_table [b m] i32,
 * kv_len [b] i32 → o [b h s dv]. Token j of sequence b lives in block block_table[b, j / blk]
 * at offset j % blk; keys j >= kv_len[b] are masked and positions end at kv_len[b]
 * (the s queries are the sequence's last s tokens). Block size blk ≥ 1 is a run-time size.
 * @example interpret(paged({ causal: true }), inputs, { b: 2, h: 4, g: 2, s: 1, n: 8, blk: 4, m: 3, d: 8, dv: 8 })
 */
export function paged(opts: Omit<AttentionOptions, 'cache'> = {}): Graph {
  const q = input('q', 'b h s d').split('h', 'g r');
  const kCache = input('k_cache', 'n g blk d');
  const vCache = input('v_cache', 'n g blk dv');
  const table = input('block_table', 'b m', 'i32');
  // [n g blk d] read through the table: [b m g blk d]; its blocks in order: [b t g d], t = m·blk.
  // Both are views: the attention kernel reads K and V through the table, nothing is copied.
  const k = kCache.gather('n', table).merge('m blk', 't').transpose('b g t d');
  const v = vCache.gather('n', table).merge('m blk', 't').transpose('b g t dv');
  const scores = einsum('b g r s d, b g t d -> b g r s t', q, k).mul(scaleOf(opts));
  const p = attend(scores, { ...opts, cache: true }, (x) => x.split('h', 'g r'));
  const o = einsum('b g r s t, b g t dv -> b g r s dv', p, v).merge('g r', 'h');
  return graph(graphName('paged', opts), { o });
}

const { cache: _cache, ...pagedOptionDocs } = attentionOptionDocs;

export const pagedVariant: Variant = {
  name: 'paged',
  summary: 'GQA on a paged KV cache: block_table [b m] into k_cache/v_cache [n g blk d], run-time kv_len [b]',
  options: pagedOptionDocs,
  build: (o = {}) => paged(attentionOptions({ ...o, cache: undefined })),
  dims: {
    check: { b: 2, h: 4, g: 2, s: 2, n: 7, blk: 3, m: 3, d: 8, dv: 8 },
    bench: { b: 8, h: 8, g: 2, s: 1, n: 1024, blk: 16, m: 128, d: 64, dv: 64 },
  },
  kvBytesPerToken: (d, bytes) => d.g! * (d.d! + d.dv!) * bytes,
};
