/**
 * int8 KV caches: each cached tensor `x` [... t dim] is stored as `x_q` (i8, packed four to
 * a word) and `x_scale` (f32, one per head and token: the tensor's axes without `dim`), and
 * read as `x_q · x_scale`, an elementwise op that the attention kernel fuses into its K and
 * V loads. The append step quantises new rows (absmax per row, round half to even) and
 * writes them at kv_len. Layout and error bounds: docs/PRECISION.md.
 */
import { appendInt8, graph, input, type Tensor } from '../dsl/index.ts';
import { fail } from '../errors.ts';
import type { Graph } from '../ir/index.ts';
import type { VariantOption } from './variant.ts';

/** The `int8` option of the variants that have a KV cache. */
export const int8OptionDoc: VariantOption = {
  type: 'boolean',
  default: false,
  doc: 'int8 KV cache: each cached x is x_q (i8) times x_scale (f32, per head and token), dequantised inside the attention kernel',
};

/**
 * A cached tensor: the f32 input `name`, or with `int8` the dequantised `name_q · name_scale`
 * (`name_q` i8 with `axes`, `name_scale` f32 with `axes` less `dim`).
 * @example const k = kvInput('k', 'b g t d', 'd', true) // k_q [b g t d] i8 · k_scale [b g t]
 */
export function kvInput<const S extends string>(name: string, axes: S, dim: string, int8: boolean | undefined): Tensor<any> {
  if (!int8) return input(name, axes);
  const scaleAxes = axes
    .split(' ')
    .filter((a) => a !== dim)
    .join(' ');
  return input(`${name}_q`, axes, 'i8').mul(input(`${name}_scale`, scaleAxes));
}

/** The cached tensors of each cache layout: name, axes (t = the cache's token axis), quantised axis. */
export const KV_LAYOUTS = {
  gqa: [
    ['k', 'b g t d', 'd'],
    ['v', 'b g t dv', 'dv'],
  ],
  mqa: [
    ['k', 'b t d', 'd'],
    ['v', 'b t dv', 'dv'],
  ],
  mla: [
    ['c_kv', 'b t dc', 'dc'],
    ['k_rope', 'b t dr', 'dr'],
  ],
} as const satisfies Record<string, readonly (readonly [string, string, string])[]>;

/** A cache layout of {@link kvAppendInt8}. */
export type KvLayout = keyof typeof KV_LAYOUTS;

/**
 * The append step of an int8 KV cache: new rows `x_new` [.. s ..] are quantised per row and
 * written at positions kv_len[b] .. kv_len[b] + s - 1 of the cache; the outputs `x_q_next`,
 * `x_scale_next` are the whole updated cache (rows past the capacity t are dropped: check
 * kv_len + s <= t, see checkAppendRoom). One invocation writes one 32-bit word of `x_q_next`.
 * @example const { outputs } = await compile(kvAppendInt8('gqa')).run({ k_q, k_scale, v_q, v_scale, k_new, v_new, kv_len }, dims)
 */
export function kvAppendInt8(layout: KvLayout = 'gqa'): Graph {
  const tensors = KV_LAYOUTS[layout];
  if (!tensors) fail('USAGE', `kvAppendInt8: unknown layout '${String(layout)}' (layouts: ${Object.keys(KV_LAYOUTS).join(', ')})`);
  const kvLen = input('kv_len', 'b', 'i32', { max: 't' });
  const outputs: Record<string, Tensor<any>> = {};
  for (const [name, axes, dim] of tensors) {
    const q = input(`${name}_q`, axes, 'i8');
    const scale = input(
      `${name}_scale`,
      axes
        .split(' ')
        .filter((a) => a !== dim)
        .join(' '),
    );
    const rows = input(`${name}_new`, axes.replace(/\bt\b/, 's'));
    const next = appendInt8({ q, scale }, rows, kvLen, { token: 't', rows: 's', axis: dim });
    outputs[`${name}_q_next`] = next.q;
    outputs[`${name}_scale_next`] = next.scale;
  }
  return graph(`kv_append_int8_${layout}`, outputs);
}
