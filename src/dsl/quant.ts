/**
 * Symmetric int8 quantisation built from ordinary DSL ops (abs, max, div, round and a
 * saturating cast), so it runs in the interpreter and fuses like any elementwise op:
 * a row along one axis is scaled by scale = max|x| / 127 and rounded half to even,
 * q = round(x / scale) in -127..127. Dequantising is `q.mul(scale)`: its error is at
 * most scale / 2 per element (plus f32 rounding of the division).
 */
import { fail } from '../errors.ts';
import { index, size, where } from './ops.ts';
import { Tensor, type Axes } from './tensor.ts';
import type { Without } from './types.ts';

/** A quantised tensor: i8 values and one f32 scale per row. */
export interface Int8Rows<A extends Axes, X extends string> {
  /** i8, the axes of the input */
  q: Tensor<A>;
  /** f32, the input's axes without the quantised axis: x ≈ q · scale */
  scale: Tensor<Without<A, X>>;
}

/**
 * Quantises `x` to int8 along `axis` (absmax per row): scale = max|x| / 127 over `axis`,
 * q = round(x / scale) (0 where the row is all zeros). A row with a NaN or an infinity
 * gets a NaN or infinite scale, so its dequantised values are not finite either.
 * @example const { q, scale } = quantizeInt8(input('k_new', 'b g s d'), 'd') // q: i8 [b g s d], scale: [b g s]
 */
export function quantizeInt8<A extends Axes, const X extends A[number]>(x: Tensor<A>, axis: X): Int8Rows<A, X> {
  if (!(x instanceof Tensor)) fail('DTYPE', `quantizeInt8: expected a tensor, got ${x === null ? 'null' : typeof x}`);
  if (x.dtype !== 'f32' && x.dtype !== 'f16') fail('DTYPE', `quantizeInt8: the tensor must be f32 or f16, got ${x.dtype}`);
  if (!(x.axes as readonly string[]).includes(axis)) fail('UNKNOWN_AXIS', `quantizeInt8: axis '${axis}' is not an axis of the tensor [${x.axes.join(' ')}]`);
  const amax = (x.abs() as Tensor<any>).max(axis);
  const scale = amax.div(127);
  // where() puts the condition's axes first: transpose back to x's order (a view)
  const q = where(amax.gt(0), x.div(scale), 0)
    .round()
    .cast('i8')
    .transpose(x.axes.join(' ') as never);
  return { q: q as unknown as Tensor<A>, scale: scale as unknown as Tensor<Without<A, X>> };
}

/** Where {@link appendInt8} writes: the cache's token axis, the new rows' axis, the quantised axis. */
export interface AppendAxes {
  /** the cache's token (capacity) axis, e.g. 't' */
  token: string;
  /** the new rows' token axis, e.g. 's' */
  rows: string;
  /** the quantised axis (one scale per row along it), e.g. 'd' */
  axis: string;
}

/**
 * An int8 cache after appending: `rows` quantised along `at.axis` and written at token
 * positions kvLen .. kvLen + |rows| - 1 of `at.token`; every other position is the old
 * cache unchanged. A functional update: the result is the whole new cache (the runtime
 * binds fresh buffers per run, so there is no in-place write to an input).
 * @example const next = appendInt8({ q: kq, scale: ks }, input('k_new', 'b g s d'), kvLen, { token: 't', rows: 's', axis: 'd' })
 */
export function appendInt8<C extends Axes, S extends Axes>(
  cache: { q: Tensor<C>; scale: Tensor<S> },
  rows: Tensor<any>,
  kvLen: Tensor<any>,
  at: AppendAxes,
): { q: Tensor<C>; scale: Tensor<S> } {
  const { token, rows: r, axis } = at;
  if (cache.q.dtype !== 'i8') fail('DTYPE', `appendInt8: the cache values must be i8, got ${cache.q.dtype}`);
  const rowAxes = rows.axes as readonly string[];
  if (!rowAxes.includes(r)) fail('UNKNOWN_AXIS', `appendInt8: the new rows [${rowAxes.join(' ')}] have no axis '${r}'`);
  const want = rowAxes.map((a) => (a === r ? token : a)).join(' ');
  if ((cache.q.axes as readonly string[]).join(' ') !== want)
    fail(
      'AXIS_MISMATCH',
      `appendInt8: the cache has axes [${cache.q.axes.join(' ')}] but the new rows [${rowAxes.join(' ')}] need a cache [${want}] (axis '${r}' becomes '${token}')`,
    );
  const scaleWant = want
    .split(' ')
    .filter((a) => a !== axis)
    .join(' ');
  if ((cache.scale.axes as readonly string[]).join(' ') !== scaleWant)
    fail('AXIS_MISMATCH', `appendInt8: the cache scales have axes [${cache.scale.axes.join(' ')}]; one scale per row along '${axis}' needs [${scaleWant}]`);
  const { q, scale } = quantizeInt8(rows, axis as never);
  // token position p holds new row p - kvLen when 0 <= p - kvLen < |rows|
  const j = index(token).sub(kvLen);
  const fresh = j.ge(0).and(j.lt(size(r)));
  const row = j.maximum(0).minimum(size(r).sub(1));
  // where() broadcasts with the condition's axes first: put the cache's order back (a view)
  const nextQ = where(fresh, (q as Tensor<any>).gather(r, row), cache.q)
    .cast('i8')
    .transpose(cache.q.axes.join(' ') as never);
  const nextScale = where(fresh, (scale as Tensor<any>).gather(r, row), cache.scale).transpose(cache.scale.axes.join(' ') as never);
  return { q: nextQ as unknown as Tensor<C>, scale: nextScale as unknown as Tensor<S> };
}
