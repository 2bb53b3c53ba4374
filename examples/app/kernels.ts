// The graphs this app generates kernels for at build time:
//   npx einattn generate examples/app/kernels.ts --out examples/app/generated
import { einsum, graph, input, specialize } from '../../src/index.ts';
import { mha } from '../../src/variants/index.ts';

/** Causal multi-head attention with its head dims fixed at build time. */
export const mhaCausal64 = specialize(mha({ causal: true }), { d: 64, dv: 64 }, 'mha_causal_64');

/** Scaled dot-product scores only: a user graph with a bound size. */
export const scores = graph('scores', {
  s: einsum('b h s d, b h t d -> b h s t', input('q', 'b h s d'), input('k', 'b h t d')).mul(0.125),
}, { sizes: { d: 64 } });
