/**
 * Multi-head latent attention (DeepSeek-V2, arXiv:2405.04434). Keys and values are
 * up-projected from a shared latent c_kv [b t dc] per token; a decoupled RoPE part
 * (q_rope, k_rope, RoPE already applied) carries positions. The KV cache holds only
 * c_kv and k_rope: (dc + dr) numbers per token.
 *
 * Two forms compute the same function:
 * - naive: k = c_kv·w_uk, v = c_kv·w_uv per head, then ordinary attention;
 * - absorbed (decoding): w_uk is folded into the query (q_lat = q_nope·w_ukᵀ) and w_uv
 *   into the output, so attention runs directly over the cached latent. For s = 1 this
 *   avoids up-projecting the whole cache: about (h·dc·dn + h·t·(dc+dr) + h·t·dc + h·dc·dv)
 *   multiply-adds instead of (2·h·t·dc·dn + …).
 */
import { einsum, graph, input, size, type Tensor } from '../dsl/index.ts';
import { int8OptionDoc, kvInput } from './int8.ts';
import type { Graph } from '../ir/index.ts';
import { attend, attentionOptionDocs, attentionOptions, graphName, scaleOf, type AttentionOptions } from './mods.ts';
import type { Variant, VariantOption } from './variant.ts';

/** Options of {@link mla}. */
export interface MlaOptions extends AttentionOptions {
  /** the absorbed (decoding) form instead of the naive one; same result */
  absorbed?: boolean;
  /** with the decoupled RoPE part (q_rope, k_rope); false drops both (scale 1/sqrt(dn)) */
  rope?: boolean;
  /**
   * int8 latent cache: c_kv_q [b t dc] and k_rope_q [b t dr] (i8) with per-token f32 scales
   * c_kv_scale, k_rope_scale [b t] replace c_kv and k_rope
   */
  int8?: boolean;
}

/**
 * MLA: q_nope [b h s dn], q_rope [b h s dr], c_kv [b t dc], k_rope [b t dr], w_uk [dc h dn],
 * w_uv [dc h dv] → o [b h s dv], scale 1/sqrt(dn + dr).
 * @example interpret(mla({ absorbed: true, causal: true }), inputs, { b: 1, h: 2, s: 1, t: 8, dn: 8, dr: 4, dc: 16, dv: 8 })
 */
export function mla(opts: MlaOptions = {}): Graph {
  const rope = opts.rope ?? true;
  const qNope = input('q_nope', 'b h s dn');
  const qRope = rope ? input('q_rope', 'b h s dr') : undefined;
  const ckv: Tensor<['b', 't', 'dc']> = kvInput('c_kv', 'b t dc', 'dc', opts.int8);
  const kRope: Tensor<['b', 't', 'dr']> | undefined = rope ? kvInput('k_rope', 'b t dr', 'dr', opts.int8) : undefined;
  const wUk = input('w_uk', 'dc h dn');
  const wUv = input('w_uv', 'dc h dv');

  const scale = scaleOf(opts, rope ? size('dn').add(size('dr')) : size('dn'));
  const ropeScores = qRope && kRope ? einsum('b h s dr, b t dr -> b h s t', qRope, kRope) : undefined;
  const withRope = (x: Tensor<['b', 'h', 's', 't']>): Tensor<['b', 'h', 's', 't']> => (ropeScores ? x.add(ropeScores) : x);
  let o: Tensor<['b', 'h', 's', 'dv']>;
  if (opts.absorbed) {
    const qLat = einsum('b h s dn, dc h dn -> b h s dc', qNope, wUk);
    const scores = withRope(einsum('b h s dc, b t dc -> b h s t', qLat, ckv)).mul(scale);
    const p = attend(scores, opts);
    const oLat = einsum('b h s t, b t dc -> b h s dc', p, ckv);
    o = einsum('b h s dc, dc h dv -> b h s dv', oLat, wUv);
  } else {
    const k = einsum('b t dc, dc h dn -> b h t dn', ckv, wUk);
    const v = einsum('b t dc, dc h dv -> b h t dv', ckv, wUv);
    const scores = withRope(einsum('b h s dn, b h t dn -> b h s t', qNope, k)).mul(scale);
    const p = attend(scores, opts);
    o = einsum('b h s t, b h t dv -> b h s dv', p, v);
  }
  return graph(graphName(`mla${opts.absorbed ? '_absorbed' : ''}${rope ? '' : '_norope'}${opts.int8 ? '_int8' : ''}`, opts), { o });
}

const mlaOptionDocs: Record<string, VariantOption> = {
  absorbed: { type: 'boolean', default: false, doc: 'absorbed form: fold w_uk into q and w_uv into o, attend over the latent (for decoding)' },
  rope: { type: 'boolean', default: true, doc: 'decoupled RoPE part q_rope [b h s dr], k_rope [b t dr] (already rotated)' },
  int8: { ...int8OptionDoc, doc: 'int8 latent cache: c_kv_q, k_rope_q (i8) times c_kv_scale, k_rope_scale [b t] (f32), dequantised inside the kernels' },
  ...attentionOptionDocs,
};

const mlaBuild = (o: Record<string, boolean | number> = {}) =>
  mla({ ...attentionOptions(o), absorbed: Boolean(o.absorbed), rope: o.rope === undefined ? true : Boolean(o.rope), int8: Boolean(o.int8) });

export const mlaVariant: Variant = {
  name: 'mla',
  summary: 'multi-head latent attention (DeepSeek-V2), naive form: K and V up-projected from the latent c_kv',
  options: mlaOptionDocs,
  build: mlaBuild,
  dims: {
    check: { b: 1, h: 3, s: 5, t: 7, dn: 8, dr: 4, dc: 16, dv: 8 },
    bench: { b: 1, h: 8, s: 64, t: 64, dn: 128, dr: 64, dc: 512, dv: 128 },
  },
  kvBytesPerToken: (d, bytes) => (d.dc! + (d.dr ?? 0)) * bytes,
};

/** MLA decoding: the absorbed form over a KV cache (capacity t, length kv_len[b]), one new token. */
export const mlaDecodeVariant: Variant = {
  name: 'mla_decode',
  summary: 'MLA decoding: absorbed form over a latent KV cache with run-time length kv_len [b]',
  options: {
    ...mlaOptionDocs,
    absorbed: { ...mlaOptionDocs.absorbed!, default: true },
    causal: { ...attentionOptionDocs.causal, default: true },
    cache: { ...attentionOptionDocs.cache, default: true },
  },
  build: (o = {}) => mlaBuild({ absorbed: true, causal: true, cache: true, ...o }),
  dims: {
    check: { b: 2, h: 4, s: 1, t: 9, dn: 8, dr: 4, dc: 16, dv: 8 },
    bench: { b: 1, h: 16, s: 1, t: 2048, dn: 128, dr: 64, dc: 512, dv: 128 },
  },
  kvBytesPerToken: (d, bytes) => (d.dc! + (d.dr ?? 0)) * bytes,
};
