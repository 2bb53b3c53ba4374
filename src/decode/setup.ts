/**
 * What a decode loop needs for one variant, read off its graph: which inputs are the KV
 * cache (they have the token axis `t`, or are a paged pool), which change every step (they
 * have the query axis `s`), and which are constant (weights, slopes). Nothing here is
 * specific to one variant, so any variant with a `cache` option decodes.
 */
import { fail } from '../errors.ts';
import { resolveSizes, type Graph } from '../ir/index.ts';
import { KvCache, PagedKvCache, type Runtime } from '../runtime/index.ts';
import { findVariant, resolveOptions, variants, type Variant } from '../variants/index.ts';

/** A variant's graph as a decode step sees it. */
export interface DecodeLayout {
  variant: Variant;
  /** the variant's options, resolved (cache and causal on unless given) */
  options: Record<string, boolean | number>;
  graph: Graph;
  /** 'paged' for the block-pool cache, else 'contiguous' */
  kind: 'contiguous' | 'paged';
  /** cached tensors as the cache names them (k, v; c_kv, k_rope), with their graph axes; int8: the value axes */
  cached: { name: string; axes: string[] }[];
  int8: boolean;
  /** inputs with the query axis: new every step */
  perStep: { name: string; axes: string[] }[];
  /** everything else: made once */
  constants: { name: string; axes: string[]; dtype: string }[];
}

/** The variants `einattn decode` was built for (any variant with a `cache` option also works). */
export const DECODE_VARIANTS = ['gqa', 'mqa', 'mha', 'mla_decode', 'paged', 'gqa_int8'] as const;

const PAGED = new Set(['k_cache', 'v_cache', 'block_table', 'kv_len']);

/**
 * The decode layout of a variant: its graph with `cache` (and `causal`) on where it has those options.
 * @example decodeLayout('gqa').cached.map((c) => c.name) // ['k', 'v']
 */
export function decodeLayout(name: string, opts: Record<string, boolean | number> = {}): DecodeLayout {
  const variant = findVariant(name);
  if (!variant)
    fail(
      'USAGE',
      `decode: no variant '${name}' (decode runs ${DECODE_VARIANTS.join(', ')}, or any variant with a cache option; all: ${variants.map((v) => v.name).join(', ')})`,
    );
  const forced: Record<string, boolean> = {};
  if (variant.options.cache) forced.cache = true;
  if (variant.options.causal && opts.causal === undefined) forced.causal = true;
  let resolved: Record<string, boolean | number>;
  try {
    resolved = resolveOptions(variant, { ...forced, ...opts });
  } catch (e) {
    fail('USAGE', `decode: ${(e as Error).message}`);
  }
  if (variant.options.cache && resolved.cache === false) fail('USAGE', `decode: variant '${name}' decodes over a KV cache; drop --opt cache=false`);
  const graph = variant.build(resolved);
  const inputs = graph.inputs.map((i) => ({ name: i.name, axes: [...i.axes], dtype: i.dtype }));
  if (!inputs.some((i) => i.name === 'kv_len'))
    fail('USAGE', `decode: variant '${name}' has no KV cache (no kv_len input); decode runs ${DECODE_VARIANTS.join(', ')}`);
  const paged = inputs.some((i) => i.name === 'block_table');
  const int8 = inputs.some((i) => i.dtype === 'i8');
  const isScale = (n: string) => int8 && n.endsWith('_scale') && inputs.some((i) => i.name === `${n.slice(0, -6)}_q`);
  const cached = paged
    ? [
        { name: 'k', axes: ['b', 'g', 't', 'd'] },
        { name: 'v', axes: ['b', 'g', 't', 'dv'] },
      ]
    : inputs.filter((i) => i.axes.includes('t') && !isScale(i.name)).map((i) => ({ name: i.dtype === 'i8' ? i.name.slice(0, -2) : i.name, axes: i.axes }));
  const taken = (n: string) => n === 'kv_len' || (paged ? PAGED.has(n) : inputs.find((i) => i.name === n)!.axes.includes('t'));
  const perStep = inputs.filter((i) => !taken(i.name) && i.axes.includes('s')).map(({ name, axes }) => ({ name, axes }));
  const constants = inputs.filter((i) => !taken(i.name) && !i.axes.includes('s'));
  const unsupported = constants.find((c) => c.axes.some((a) => a === 't'));
  if (unsupported) fail('USAGE', `decode: input '${unsupported.name}' [${unsupported.axes.join(' ')}] of '${name}' runs along the cache but is not part of it`);
  return { variant, options: resolved, graph, kind: paged ? 'paged' : 'contiguous', cached, int8, perStep, constants };
}

/**
 * The attention's sizes for a decode step: the user's, with s = 1, the paged capacity
 * t = m·blk, and a pool of n = b·m blocks unless given. USAGE names what is missing.
 * @example decodeDims(decodeLayout('gqa'), { b: 1, h: 32, g: 8, t: 8192, d: 128, dv: 128 }).dims.s // 1
 */
export function decodeDims(layout: DecodeLayout, given: Record<string, number>): { dims: Record<string, number>; capacity: number } {
  const dims: Record<string, number> = { ...given, s: 1 };
  if (given.s !== undefined && given.s !== 1) fail('USAGE', `decode: each step appends one token per sequence, so s is 1 (got --dims s=${given.s})`);
  if (layout.kind === 'paged') {
    for (const a of ['blk', 'm'] as const)
      if (dims[a] === undefined) fail('USAGE', `decode: paged needs --dims ${a}=… (block size blk, table entries per sequence m; capacity t = m·blk)`);
    if (dims.t !== undefined) fail('USAGE', `decode: paged's capacity is t = m·blk; give m and blk, not t`);
    dims.n ??= dims.b! * dims.m!;
  }
  for (const [k, v] of Object.entries(dims)) if (!Number.isSafeInteger(v) || v < 1) fail('USAGE', `decode: --dims ${k}=${v} must be a positive integer`);
  const unknown = Object.keys(dims).filter((a) => !layout.graph.sizes.includes(a));
  if (unknown.length) fail('USAGE', `decode: '${layout.variant.name}' has no size ${unknown.join(', ')} (its sizes: ${layout.graph.sizes.join(' ')})`);
  try {
    resolveSizes(layout.graph, dims);
  } catch (e) {
    fail(
      'USAGE',
      `decode: --dims ${Object.entries(dims)
        .map(([k, v]) => `${k}=${v}`)
        .join(',')}: ${(e as Error).message}`,
    );
  }
  const capacity = layout.kind === 'paged' ? dims.m! * dims.blk! : dims.t!;
  return { dims, capacity };
}

/**
 * The device cache a layout needs at `dims`.
 * @example const cache = makeCache(rt, decodeLayout('gqa'), dims)
 */
export function makeCache(rt: Runtime, layout: DecodeLayout, dims: Record<string, number>): KvCache | PagedKvCache {
  if (layout.kind === 'paged') {
    const { b, g, n, blk, m, d, dv } = dims as Record<string, number>;
    return new PagedKvCache(rt, { dims: { b: b!, g: g!, n: n!, blk: blk!, m: m!, d: d!, dv: dv! } });
  }
  return new KvCache(rt, { layout: layout.cached.map((c) => [c.name, c.axes.join(' ')] as const), dims, dtype: layout.int8 ? 'int8' : 'f32' });
}
