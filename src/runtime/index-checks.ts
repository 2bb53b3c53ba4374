/**
 * One host-side index check of a plan ({@link IndexCheck}): a shader cannot report a bad
 * index, so INDEX_RANGE is raised before dispatch, naming the input, position and range.
 * A check with `usedBy` covers only the used part of its input (a block table up to
 * ceil(kv_len[b] / blk) blocks); the rest may hold any padding.
 */
import { EinattnError } from '../errors.ts';
import type { IndexCheck } from './plan.ts';
import { evalSize, type SizeMap } from './sizes.ts';

/** What a check needs of a plan buffer: its axes and evaluated shape. */
export interface CheckedBuffer {
  name: string;
  axes: readonly string[];
  shape: readonly number[];
}

/**
 * Runs check `c` over the host data of its input. `host(name)` gives an input's data when it
 * is on the host (undefined otherwise: data on the device cannot be checked here, and a
 * block table whose length is on the device has no known used part, so it is skipped).
 * @example checkIndexRange(check, buffers, (name) => inputs[name], sizes)
 */
export function checkIndexRange(c: IndexCheck, buffers: readonly CheckedBuffer[], host: (name: string) => ArrayLike<number> | undefined, sizes: SizeMap): void {
  const data = host(c.buffer);
  const b = buffers.find((x) => x.name === c.buffer);
  if (!data || !b) return;
  const limit = evalSize(c.size, sizes);
  const used = c.usedBy ? usedEntries(c.usedBy, b, buffers, host, sizes) : () => true;
  if (!used) return;
  const at = b.shape.map(() => 0);
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v >= 0 && v < limit) continue;
    coordinates(i, b.shape, at);
    if (!used(at)) continue;
    const where = b.axes.map((a, d) => `${a}=${at[d]}`).join(' ');
    const part = c.usedBy ? ` (in its used part: ${c.usedBy.axis} < ceil(${c.usedBy.length} / ${String(c.usedBy.per)}))` : '';
    throw new EinattnError('INDEX_RANGE', `${c.what}: input '${c.buffer}' has ${v} at [${where}], outside 0..${limit - 1}${part}`);
  }
}

/** The row-major coordinates of flat index `i` in `shape`, written into `at`. */
function coordinates(i: number, shape: readonly number[], at: number[]): void {
  let rest = i;
  for (let d = shape.length - 1; d >= 0; d--) {
    at[d] = rest % shape[d]!;
    rest = Math.floor(rest / shape[d]!);
  }
}

/**
 * Whether the entry at coordinates `at` of `b` is in the used part: its index along `axis`
 * below ceil(length / per), length read at the entry's indices along the length's axes.
 * Undefined when the length is not on the host (or not a plan buffer).
 */
function usedEntries(
  u: NonNullable<IndexCheck['usedBy']>,
  b: CheckedBuffer,
  buffers: readonly CheckedBuffer[],
  host: (name: string) => ArrayLike<number> | undefined,
  sizes: SizeMap,
): ((at: readonly number[]) => boolean) | undefined {
  const lenData = host(u.length);
  const len = buffers.find((x) => x.name === u.length);
  if (!lenData || !len) return undefined;
  const per = evalSize(u.per, sizes);
  const dim = b.axes.indexOf(u.axis);
  const from = len.axes.map((a) => b.axes.indexOf(a));
  return (at) => {
    let off = 0;
    for (let k = 0; k < from.length; k++) off = off * len.shape[k]! + at[from[k]!]!;
    // a negative length uses nothing (the length's own check reports it first)
    const blocks = Math.ceil(Math.max(0, lenData[off]!) / Math.max(1, per));
    return at[dim]! < blocks;
  };
}
