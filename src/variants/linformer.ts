/**
 * Low-rank attention in the style of Linformer (Wang et al. 2020, arXiv:2006.04768):
 * K and V are projected along the sequence, t → p (p ≪ t), by learned matrices E and F,
 * so the attention matrix is s × p instead of s × t.
 */
import { einsum, graph, input } from '../dsl/index.ts';
import type { Graph } from '../ir/index.ts';
import { checkAttentionOptions, scaleOf } from './mods.ts';
import type { Variant } from './variant.ts';

/** Options of {@link linformer}. */
export interface LinformerOptions {
  /** one projection `e` for both K and V (the paper's key-value sharing) */
  shared?: boolean;
  /** softmax scale; 0 (the default) means 1/sqrt(d) */
  scale?: number;
}

/**
 * Linformer: q [b h s d], k [b h t d], v [b h t dv], e [p t], f [p t] → o [b h s dv], with
 * o = softmax(q (e k)ᵀ / sqrt(d)) (f v). No masks: the projection mixes positions.
 * @example interpret(linformer(), { q, k, v, e, f }, { b: 1, h: 2, s: 16, t: 16, p: 4, d: 8, dv: 8 })
 */
export function linformer(opts: LinformerOptions = {}): Graph {
  checkAttentionOptions({ scale: opts.scale });
  const q = input('q', 'b h s d');
  const k = input('k', 'b h t d');
  const v = input('v', 'b h t dv');
  const e = input('e', 'p t');
  const f = opts.shared ? e : input('f', 'p t');
  const kp = einsum('p t, b h t d -> b h p d', e, k);
  const vp = einsum('p t, b h t dv -> b h p dv', f, v);
  const p = einsum('b h s d, b h p d -> b h s p', q, kp)
    .mul(scaleOf({ scale: opts.scale ?? 0 }))
    .softmax('p');
  const o = einsum('b h s p, b h p dv -> b h s dv', p, vp);
  return graph(`linformer${opts.shared ? '_shared' : ''}`, { o });
}

export const linformerVariant: Variant = {
  name: 'linformer',
  summary: 'low-rank (Linformer) attention: K and V projected along the sequence t -> p by e, f [p t]',
  options: {
    shared: { type: 'boolean', default: false, doc: 'use e for both K and V (no input f)' },
    scale: { type: 'number', default: 0, doc: 'softmax scale (0 = 1/sqrt(d))' },
  },
  build: (o = {}) => linformer({ shared: Boolean(o.shared), scale: Number(o.scale ?? 0) }),
  dims: { check: { b: 1, h: 2, s: 7, t: 9, p: 3, d: 8, dv: 8 }, bench: { b: 1, h: 8, s: 512, t: 512, p: 64, d: 64, dv: 64 } },
  kvBytesPerToken: (d, bytes) => d.h! * (d.d! + d.dv!) * bytes,
};
