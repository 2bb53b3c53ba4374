/**
 * Grouped-query attention (Ainslie et al. 2023) and multi-query attention (Shazeer 2019):
 * several query heads share one K/V head. GQA needs no special case in the DSL: the
 * query head axis is split `h -> g r` (a view) and the einsum reads K/V by `g`.
 */
import { einsum, graph, input, type Tensor } from '../dsl/index.ts';
import type { Graph } from '../ir/index.ts';
import { int8OptionDoc, kvInput } from './int8.ts';
import { attend, attentionOptionDocs, attentionOptions, graphName, scaleOf, type AttentionOptions } from './mods.ts';
import type { Variant } from './variant.ts';

/** Options of {@link gqa} and {@link mqa}: the attention options, and an int8 KV cache. */
export interface GqaOptions extends AttentionOptions {
  /**
   * int8 KV cache: inputs k_q, v_q (i8, the layout of k and v) and k_scale, v_scale (f32,
   * one per KV head and token) replace k and v, read as k_q · k_scale inside the kernel
   */
  int8?: boolean;
}

/**
 * Grouped-query attention: q [b h s d], k [b g t d], v [b g t dv] → o [b h s dv]. Query head
 * i reads KV head floor(i / (h / g)); h must be a multiple of g (else SIZE_CONFLICT at run time).
 * @example interpret(gqa({ causal: true }), { q, k, v }, { b: 1, h: 8, g: 2, s: 4, t: 4, d: 16, dv: 16 })
 */
export function gqa(opts: GqaOptions = {}): Graph {
  const q = input('q', 'b h s d').split('h', 'g r');
  const k: Tensor<['b', 'g', 't', 'd']> = kvInput('k', 'b g t d', 'd', opts.int8);
  const v: Tensor<['b', 'g', 't', 'dv']> = kvInput('v', 'b g t dv', 'dv', opts.int8);
  const scores = einsum('b g r s d, b g t d -> b g r s t', q, k).mul(scaleOf(opts));
  const p = attend(scores, opts, (x) => x.split('h', 'g r'));
  const o = einsum('b g r s t, b g t dv -> b g r s dv', p, v).merge('g r', 'h');
  return graph(graphName(opts.int8 ? 'gqa_int8' : 'gqa', opts), { o });
}

/**
 * Multi-query attention: q [b h s d], k [b t d], v [b t dv] → o [b h s dv]; every query head reads the one K/V head.
 * @example interpret(mqa(), { q, k, v }, { b: 1, h: 4, s: 1, t: 16, d: 8, dv: 8 })
 */
export function mqa(opts: GqaOptions = {}): Graph {
  const q = input('q', 'b h s d');
  const k: Tensor<['b', 't', 'd']> = kvInput('k', 'b t d', 'd', opts.int8);
  const v: Tensor<['b', 't', 'dv']> = kvInput('v', 'b t dv', 'dv', opts.int8);
  const scores = einsum('b h s d, b t d -> b h s t', q, k).mul(scaleOf(opts));
  const p = attend(scores, opts);
  const o = einsum('b h s t, b t dv -> b h s dv', p, v);
  return graph(graphName(opts.int8 ? 'mqa_int8' : 'mqa', opts), { o });
}

const kvOptions = (o: Record<string, boolean | number>): GqaOptions => ({ ...attentionOptions(o), int8: Boolean(o.int8) });
/** KV bytes per token: elements at `bytes` each, or with int8 one byte each plus an f32 scale per head and tensor. */
const kvBytes = (heads: number, d: Record<string, number>, bytes: number, int8: boolean) =>
  int8 ? heads * (d.d! + d.dv!) + 2 * heads * 4 : heads * (d.d! + d.dv!) * bytes;

export const gqaVariant: Variant = {
  name: 'gqa',
  summary: 'grouped-query attention: query head i reads KV head floor(i/(h/g)); k, v [b g t d]',
  options: { ...attentionOptionDocs, int8: int8OptionDoc },
  build: (o = {}) => gqa(kvOptions(o)),
  dims: { check: { b: 1, h: 6, g: 2, s: 5, t: 9, d: 8, dv: 8 }, bench: { b: 1, h: 8, g: 2, s: 256, t: 256, d: 64, dv: 64 } },
  kvBytesPerToken: (d, bytes) => kvBytes(d.g!, d, bytes, false),
};

/**
 * GQA decoding over an int8 KV cache (capacity t, run-time length kv_len [b]): k_q, v_q
 * [b g t d] i8 with per-head-per-token f32 scales k_scale, v_scale [b g t]. The cache is
 * filled by the append step {@link kvAppendInt8}; the KV bytes per token are g·(d + dv)
 * plus 8·g for the scales, whatever the element size asked for.
 */
export const gqaInt8Variant: Variant = {
  name: 'gqa_int8',
  summary: 'GQA decoding over an int8 KV cache: k_q, v_q [b g t d] i8 with scales k_scale, v_scale [b g t]; run-time kv_len [b]',
  options: {
    ...attentionOptionDocs,
    int8: { ...int8OptionDoc, default: true },
    causal: { ...attentionOptionDocs.causal, default: true },
    cache: { ...attentionOptionDocs.cache, default: true },
  },
  build: (o = {}) => gqa(kvOptions({ int8: true, causal: true, cache: true, ...o })),
  dims: { check: { b: 2, h: 8, g: 2, s: 1, t: 13, d: 8, dv: 8 }, bench: { b: 1, h: 32, g: 8, s: 1, t: 2048, d: 128, dv: 128 } },
  kvBytesPerToken: (d, bytes) => kvBytes(d.g!, d, bytes, true),
};

export const mqaVariant: Variant = {
  name: 'mqa',
  summary: 'multi-query attention: all query heads share one K/V head; k, v [b t d]',
  options: { ...attentionOptionDocs, int8: int8OptionDoc },
  build: (o = {}) => mqa(kvOptions(o)),
  dims: { check: { b: 1, h: 3, s: 5, t: 9, d: 8, dv: 8 }, bench: { b: 1, h: 8, s: 256, t: 256, d: 64, dv: 64 } },
  kvBytesPerToken: (d, bytes) => kvBytes(1, d, bytes, false),
};
