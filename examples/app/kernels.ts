// The graphs this app generates kernels for at build time:
//   npx einattn generate examples/app/kernels.ts --out examples/app/generated
// Head dims are fixed here (specialize), sequence lengths and batch stay dynamic.
import { einsum, graph, input, specialize } from '../../src/index.ts';
import { gqa, mha, mla, paged } from '../../src/variants/index.ts';

/** Causal multi-head attention, head dims 64. */
export const mhaCausal64 = specialize(mha({ causal: true }), { d: 64, dv: 64 }, 'mha_causal_64');

/** Grouped-query attention (8 query heads share each of g KV heads), head dims 64. */
export const gqa64 = specialize(gqa({ causal: true }), { d: 64, dv: 64 }, 'gqa_64');

/** MLA decoding over the latent cache (absorbed form), DeepSeek-V2 head dims, run-time kv_len. */
export const mlaDecode = specialize(mla({ absorbed: true, cache: true, causal: true }), { dn: 128, dr: 64, dc: 512, dv: 128 }, 'mla_decode');

/** Decoding from a paged KV cache (GQA), block size 16, run-time kv_len. */
export const pagedDecode = specialize(paged({ causal: true }), { blk: 16, d: 64, dv: 64 }, 'paged_decode');

/** Scaled dot-product scores only: a user graph with a bound size. */
export const scores = graph(
  'scores',
  {
    s: einsum('b h s d, b h t d -> b h s t', input('q', 'b h s d'), input('k', 'b h t d')).mul(0.125),
  },
  { sizes: { d: 64 } },
);
