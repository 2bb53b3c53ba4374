/**
 * Rotary position embedding (RoPE, Su et al. 2021, arXiv:2104.09864) built from
 * ordinary DSL ops: index arithmetic on the head axis, sin/cos of position × frequency,
 * and a gather that reads each element's rotation partner. Nothing is materialised:
 * the result is an elementwise expression that fuses into its consumer.
 */
import { fail } from '../errors.ts';
import { index, pow, size, where } from './ops.ts';
import { Tensor, type Axes } from './tensor.ts';

/** Options of {@link rope}. */
export interface RopeOptions {
  /** the rotated (head) axis; default: the last axis of `x`. Its size must be even. */
  axis?: string;
  /**
   * positions: an i32 tensor over some of `x`'s axes (e.g. [b s] for per-sequence
   * offsets), or the name of an axis of `x` whose index is the position; default 's'
   */
  pos?: Tensor<any> | string;
  /** frequency base: pair i rotates by pos · base^(-2i/d); default 10000 */
  base?: number;
  /**
   * 'half' (default; GPT-NeoX / Llama "rotate-half"): element i pairs with i + d/2;
   * 'interleaved' (GPT-J / RoFormer): element 2i pairs with 2i + 1
   */
  style?: 'half' | 'interleaved';
}

/**
 * Applies rotary position embedding along the head axis. For pair k (elements a, b),
 * θ = pos · base^(-2k/d):  a' = a cos θ - b sin θ,  b' = b cos θ + a sin θ.
 * @example const qr = rope(input('q', 'b h s d'))                         // positions = index of s
 * @example const kr = rope(k, { pos: input('pos', 'b t', 'i32'), style: 'interleaved' })
 */
export function rope<A extends Axes>(x: Tensor<A>, opts: RopeOptions = {}): Tensor<A> {
  if (!(x instanceof Tensor)) fail('DTYPE', `rope: expected a tensor, got ${x === null ? 'null' : typeof x}`);
  const axes = x.axes as readonly string[];
  const axis = opts.axis ?? axes[axes.length - 1];
  if (axis === undefined) fail('UNKNOWN_AXIS', 'rope: the tensor has no axes to rotate');
  if (!axes.includes(axis)) fail('UNKNOWN_AXIS', `rope: axis '${axis}' is not an axis of the tensor [${axes.join(' ')}]`);
  const style = opts.style ?? 'half';
  if (style !== 'half' && style !== 'interleaved') fail('USAGE', `rope: style must be 'half' or 'interleaved', got ${JSON.stringify(style)}`);
  const base = opts.base ?? 10000;
  if (!(Number.isFinite(base) && base > 0)) fail('USAGE', `rope: base must be a positive number, got ${base}`);

  const posOpt = opts.pos ?? 's';
  const pos: Tensor<any> = typeof posOpt === 'string' ? index(posOpt) : posOpt;
  if (!(pos instanceof Tensor)) fail('DTYPE', 'rope: pos must be an i32 tensor or an axis name');
  if (pos.dtype !== 'i32') fail('DTYPE', `rope: positions must be i32, got ${pos.dtype}`);
  for (const a of pos.axes as readonly string[])
    if (!axes.includes(a) || a === axis)
      fail('UNKNOWN_AXIS', `rope: position axis '${a}' must be one of the tensor's axes [${axes.join(' ')}] other than '${axis}'`);

  const i = index(axis);
  const n = size(axis);
  const half = n.div(2);
  // `first`: the member of its pair that gets -sin; `pair`: the frequency index k
  const first = style === 'half' ? i.lt(half) : i.mod(2).eq(0);
  const partner = style === 'half' ? where(first, i.add(half), i.sub(half)) : where(first, i.add(1), i.sub(1)).minimum(n.sub(1));
  const pair = style === 'half' ? where(first, i, i.sub(half)) : i.div(2);
  const invFreq = pow(base, pair.mul(-2).cast('f32').div(n.cast('f32')));
  const theta = pos.cast('f32').mul(invFreq);
  // the partner element: x read along a renamed copy of the axis, at the partner's index
  let src = `${axis}src`;
  for (let k = 2; axes.includes(src); k++) src = `${axis}src${k}`;
  const swapped = (x as Tensor<any>).rename(axis, src).gather(src, partner);
  const out = x.mul(theta.cos()).add(swapped.mul(theta.sin()).mul(where(first, -1, 1)));
  return out as unknown as Tensor<A>;
}
