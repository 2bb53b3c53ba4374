/**
 * Sigmoid self-attention (Ramapuram et al. 2024, arXiv:2409.04431): each weight is an independent
 * sigmoid of its logit, so there is no normaliser across keys; a bias of −ln T keeps the sum of the
 * weights near 1 at initialisation.
 */
import { einsum, graph, input, where, type Tensor } from '../dsl/index.ts';
import type { Graph } from '../ir/index.ts';
import { attentionMods, attentionOptionDocs, attentionOptions, graphName, scaleOf, type AttentionOptions } from './mods.ts';
import type { Variant } from './variant.ts';

/** Options of {@link sigmoidAttention}: the shared ones (sinks excepted: nothing is normalised) and the bias. */
export interface SigmoidOptions extends Omit<AttentionOptions, 'sink'> {
  /** added to every logit before the sigmoid; default −ln L, L the number of keys (T, or kv_len[b]) */
  bias?: number;
}

/**
 * Sigmoid attention: q [b h s d], k [b h t d], v [b h t dv] → o [b h s dv],
 * o = Σ_t sigmoid(q·k·scale + bias)·keep·v with no normaliser; masked keys add 0.
 * @example interpret(sigmoidAttention({ causal: true }), { q, k, v }, { b: 1, h: 2, s: 4, t: 4, d: 8, dv: 8 })
 */
export function sigmoidAttention(opts: SigmoidOptions = {}): Graph {
  const q = input('q', 'b h s d');
  const k = input('k', 'b h t d');
  const v = input('v', 'b h t dv');
  const mods = attentionMods(opts);
  const bias = opts.bias ?? mods.keys.cast('f32').log().neg();
  const a = mods
    .logits(einsum('b h s d, b h t d -> b h s t', q, k).mul(scaleOf(opts)))
    .add(bias)
    .sigmoid();
  const p: Tensor<['b', 'h', 's', 't']> = (mods.mask ? where(mods.mask, a, 0) : a) as never;
  const o = einsum('b h s t, b h t dv -> b h s dv', p, v);
  return graph(graphName('sigmoid', opts), { o });
}

const { sink: _sink, ...shared } = attentionOptionDocs;

export const sigmoidVariant: Variant = {
  name: 'sigmoid',
  summary: 'sigmoid attention (Ramapuram et al. 2024): sum_t sigmoid(q k^T / sqrt(d) + bias) v, no normaliser, bias -ln T',
  options: {
    ...shared,
    bias: {
      type: 'number',
      default: Number.NaN,
      defaultText: '-ln(keys)',
      doc: 'logit bias before the sigmoid; by default minus the log of the number of keys (T, or kv_len with cache)',
    },
  },
  build: (o = {}) => {
    const bias = Number(o.bias ?? Number.NaN);
    return sigmoidAttention({ ...attentionOptions(o), ...(Number.isNaN(bias) ? {} : { bias }) });
  },
  dims: { check: { b: 1, h: 2, s: 7, t: 9, d: 8, dv: 8 }, bench: { b: 1, h: 8, s: 256, t: 256, d: 64, dv: 64 } },
  kvBytesPerToken: (d, bytes) => d.h! * (d.d! + d.dv!) * bytes,
};
