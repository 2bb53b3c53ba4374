/**
 * Masks and score modifications shared by the attention variants: causal, sliding
 * window, ALiBi, tanh softcap, attention sinks, prefix-LM, document masking, the
 * Sparse-Transformer strided pattern and a KV cache with a run-time length. Each is
 * a few DSL ops on the logits; `attend` applies the selected ones and the softmax.
 */
import { fail } from '../errors.ts';
import { index, input, size, type Axes, type Tensor } from '../dsl/index.ts';
import type { VariantOption } from './variant.ts';

/** The options every softmax-attention variant takes (all off by default). */
export interface AttentionOptions {
  /** query i sees keys j <= its position (aligned to the end of the keys, see `cache`) */
  causal?: boolean;
  /** sliding window: keys within distance < window of the query position (0 = none) */
  window?: number;
  /** tanh softcap of the scaled logits: c * tanh(x / c) (0 = none) */
  softcap?: number;
  /** ALiBi: adds -slopes[h] * |key - query position|; input `slopes` [h] */
  alibi?: boolean;
  /** attention sinks: one extra logit per head joining the denominator only; input `sinks` [h] */
  sink?: boolean;
  /** prefix-LM: keys before prefix_len[b] are seen by every query, the rest causally; input `prefix_len` [b] i32 */
  prefix?: boolean;
  /** document masking: a query sees only keys of its own segment; inputs `q_seg` [b s], `kv_seg` [b t] i32 */
  segments?: boolean;
  /** Sparse-Transformer strided pattern: keys at distance < stride or at a multiple of stride (0 = none) */
  stride?: number;
  /** KV cache of capacity t with a run-time length: keys t >= kv_len[b] are masked; input `kv_len` [b] i32 */
  cache?: boolean;
  /** softmax scale; 0 (the default) means 1/sqrt(d_qk) */
  scale?: number;
}

/** The Variant option declarations of {@link AttentionOptions}, for `einattn list` / `--opt`. */
export const attentionOptionDocs: Record<keyof AttentionOptions, VariantOption> = {
  causal: { type: 'boolean', default: false, doc: 'mask keys after the query (aligned to the end when s < t, or to kv_len with cache)' },
  window: { type: 'number', default: 0, doc: 'sliding window: keys at distance < window from the query position (0 = none)' },
  softcap: { type: 'number', default: 0, doc: 'tanh softcap c of the scaled logits, c*tanh(x/c) (0 = none)' },
  alibi: { type: 'boolean', default: false, doc: 'ALiBi bias -slopes[h]*|key - query position|; adds input slopes [h]' },
  sink: { type: 'boolean', default: false, doc: 'attention sink logit per head (denominator only); adds input sinks [h]' },
  prefix: { type: 'boolean', default: false, doc: 'prefix-LM: keys < prefix_len[b] visible to all, the rest causal; adds input prefix_len [b] i32' },
  segments: { type: 'boolean', default: false, doc: 'document masking: same segment only; adds inputs q_seg [b s], kv_seg [b t] i32' },
  stride: { type: 'number', default: 0, doc: 'Sparse-Transformer strided pattern: distance < stride or a multiple of stride (0 = none)' },
  cache: { type: 'boolean', default: false, doc: 'KV cache: t is the capacity, keys >= kv_len[b] masked, positions end at kv_len; adds input kv_len [b] i32' },
  scale: { type: 'number', default: 0, doc: 'softmax scale (0 = 1/sqrt(d_qk))' },
};

/** Picks and checks the {@link AttentionOptions} out of a Variant's option record. */
export function attentionOptions(o: Record<string, boolean | number | undefined>): AttentionOptions {
  const out: AttentionOptions = {};
  for (const k of Object.keys(attentionOptionDocs) as (keyof AttentionOptions)[]) {
    const v = o[k];
    if (v !== undefined) (out as Record<string, boolean | number>)[k] = v;
  }
  return checkAttentionOptions(out);
}

/** Throws USAGE for option values that have no meaning (negative windows, fractional strides …). */
export function checkAttentionOptions(o: AttentionOptions): AttentionOptions {
  const count = (k: 'window' | 'stride') => {
    const v = o[k];
    if (v !== undefined && !(Number.isInteger(v) && v >= 0)) fail('USAGE', `attention option '${k}' must be a non-negative integer (0 = none), got ${v}`);
  };
  count('window');
  count('stride');
  for (const k of ['softcap', 'scale'] as const) {
    const v = o[k];
    if (v !== undefined && !(Number.isFinite(v) && v >= 0)) fail('USAGE', `attention option '${k}' must be a finite number >= 0 (0 = none), got ${v}`);
  }
  return o;
}

/**
 * `base` plus a short tag per enabled option, for graph and kernel names:
 * `graphName('mha', { causal: true, window: 4 })` is 'mha_causal_win'. Capped at 64 characters.
 */
export function graphName(base: string, o: AttentionOptions): string {
  const tags: [unknown, string][] = [
    [o.causal, 'causal'],
    [o.window, 'win'],
    [o.softcap, 'cap'],
    [o.alibi, 'alibi'],
    [o.sink, 'sink'],
    [o.prefix, 'prefix'],
    [o.segments, 'seg'],
    [o.stride, 'stride'],
    [o.cache, 'cache'],
  ];
  const name = [base, ...tags.filter(([on]) => on).map(([, t]) => t)].join('_');
  return name.length <= 64 ? name : name.slice(0, 64).replace(/_+$/, '');
}

/**
 * How per-head inputs ([h]) reach the logits' head axes: the identity for MHA,
 * `x => x.split('h', 'g r')` for GQA.
 */
export type HeadMap = (x: Tensor<['h']>) => Tensor<any>;

/**
 * The score mods and masks of {@link AttentionOptions}, for variants that combine them in their
 * own way (several attention maps sharing one mask, maps with no softmax). Each input an option
 * adds (`slopes`, `kv_len`, …) is created once, on first use, so two maps share it.
 */
export interface AttentionMods {
  /** the logits after the score mods (softcap, ALiBi) */
  logits<A extends Axes>(scores: Tensor<A>): Tensor<A>;
  /** the conjunction of the masks (causal, window, prefix, stride, segments, cache), if any */
  readonly mask: Tensor<any> | undefined;
  /** the sink logit per head, if `sink` */
  readonly sink: Tensor<any> | undefined;
  /** the position of query `s` among the keys: `s + (L - S)`, L = kv_len[b] (cache) or T */
  readonly position: Tensor<any>;
  /** the number of keys: kv_len[b] (cache) or T */
  readonly keys: Tensor<any>;
  /** the masked softmax over `t` of the modded logits, with the sink: {@link attend} */
  attend<A extends Axes>(scores: Tensor<A>): Tensor<A>;
}

/**
 * The score mods and masks of `o` over logits with axes `b`, `s`, `t` (and heads, through `heads`).
 * @example const m = attentionMods({ causal: true }); const p = m.logits(scores).softmax('t', { mask: m.mask })
 */
export function attentionMods(o: AttentionOptions = {}, heads: HeadMap = (x) => x): AttentionMods {
  checkAttentionOptions(o);
  const s = index('s');
  const t = index('t');
  const kvLen = o.cache ? input('kv_len', 'b', 'i32', { max: 't' }) : undefined;
  let qpos: Tensor<any> | undefined;
  const pos = (): Tensor<any> => (qpos ??= s.add((kvLen ?? size('t')).sub(size('s'))));
  let slopes: Tensor<any> | undefined;
  let mask: Tensor<any> | undefined | null = null;
  let sink: Tensor<any> | undefined | null = null;
  const mods: AttentionMods = {
    logits<A extends Axes>(scores: Tensor<A>): Tensor<A> {
      let x: Tensor<any> = scores;
      if (o.softcap) x = x.div(o.softcap).tanh().mul(o.softcap);
      if (o.alibi) {
        slopes ??= heads(input('slopes', 'h'));
        x = x.add(t.sub(pos()).abs().cast('f32').mul(slopes.neg()));
      }
      return x as Tensor<A>;
    },
    get mask() {
      if (mask === null) mask = masksOf(o, pos, kvLen);
      return mask;
    },
    get sink() {
      if (sink === null) sink = o.sink ? heads(input('sinks', 'h')) : undefined;
      return sink;
    },
    get position() {
      return pos();
    },
    get keys() {
      return kvLen ?? size('t');
    },
    attend<A extends Axes>(scores: Tensor<A>): Tensor<A> {
      const x = mods.logits(scores);
      const { mask, sink } = mods;
      return x.softmax('t', { ...(mask ? { mask } : {}), ...(sink ? { sink } : {}) }) as Tensor<A>;
    },
  };
  return mods;
}

/** The conjunction of the masks `o` selects, over the query position `pos()` and the key index. */
function masksOf(o: AttentionOptions, pos: () => Tensor<any>, kvLen: Tensor<any> | undefined): Tensor<any> | undefined {
  const t = index('t');
  const masks: Tensor<any>[] = [];
  if (o.causal || o.prefix) {
    let visible = t.le(pos());
    if (o.prefix) visible = visible.or(t.lt(input('prefix_len', 'b', 'i32', { max: 't' })));
    masks.push(visible);
  }
  if (o.window) masks.push(t.sub(pos()).abs().lt(o.window));
  if (o.stride) {
    const dist = pos().sub(t);
    masks.push(dist.abs().lt(o.stride).or(dist.mod(o.stride).eq(0)));
  }
  if (o.segments) masks.push(input('q_seg', 'b s', 'i32').eq(input('kv_seg', 'b t', 'i32')));
  if (kvLen) masks.push(t.lt(kvLen));
  return masks.reduce<Tensor<any> | undefined>((m, k) => (m ? m.and(k) : k), undefined);
}

/**
 * The attention weights: applies the score mods of `o` to the (already scaled)
 * logits `scores`, whose axes include `b`, `s` and `t`, then a masked softmax over `t`.
 * The query position is `s + (L - S)` with L = kv_len[b] (cache) or T, so that causal
 * masks, windows and ALiBi are aligned to the end of the keys.
 * @example const p = attend(einsum('b h s d, b h t d -> b h s t', q, k).mul(rsqrt(size('d'))), { causal: true })
 */
export function attend<A extends Axes>(scores: Tensor<A>, o: AttentionOptions = {}, heads: HeadMap = (x) => x): Tensor<A> {
  return attentionMods(o, heads).attend(scores);
}

/** The default scale 1/sqrt(d_qk) of a head dim named `d`, or the option's scale. */
export function scaleOf(o: AttentionOptions, dqk: Tensor<[]> = size('d')): Tensor<[]> | number {
  return o.scale ? o.scale : dqk.rsqrt();
}
