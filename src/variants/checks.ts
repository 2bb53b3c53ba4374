/**
 * A host-side check of the length inputs of cache variants, with a message that names
 * where the capacity comes from (t = m·blk). The runtime range-checks the same bounded
 * inputs and gather indices before dispatch (INDEX_RANGE); this is for callers who want
 * the check, and its BAD_INPUT message, before building inputs for a run.
 */
import { fail } from '../errors.ts';
import { resolveSizes, type Graph } from '../ir/index.ts';

/**
 * Throws BAD_INPUT when a bounded length input of `graph` (kv_len, prefix_len: declared
 * with `{ max: 't' }`) is negative or exceeds the capacity t of the keys. The runtime and
 * the interpreter check the same bound (INDEX_RANGE); this names the capacity's origin.
 * @example checkLengths(paged(), { kv_len: [3, 12] }, { b: 2, h: 4, g: 2, s: 1, n: 8, blk: 3, m: 3, d: 8, dv: 8 }) // throws: input 'kv_len' has 12 at [b=1], outside 0..9 (the capacity t = m·blk = 9)
 */
export function checkLengths(graph: Graph, inputs: Record<string, ArrayLike<number>>, dims: Record<string, number>): void {
  const sizes = resolveSizes(graph, dims);
  for (const decl of graph.inputs) {
    const axis = decl.max; // declared with input(name, axes, 'i32', { max: 't' })
    const data = inputs[decl.name];
    if (axis === undefined || data === undefined || sizes[axis] === undefined) continue;
    const cap = sizes[axis]!;
    const shape = decl.axes.map((a) => sizes[a]!);
    for (let i = 0; i < data.length; i++) {
      const v = data[i]!;
      if (Number.isInteger(v) && v >= 0 && v <= cap) continue;
      let rest = i;
      const at = shape.map(() => 0);
      for (let d = shape.length - 1; d >= 0; d--) {
        at[d] = rest % shape[d]!;
        rest = Math.floor(rest / shape[d]!);
      }
      const where = decl.axes.map((a, d) => `${a}=${at[d]}`).join(' ');
      const origin = graph.equations.find((e) => e.size === axis);
      const capText = origin ? `${axis} = ${origin.factors.join('·')} = ${cap}` : `${axis} = ${cap}`;
      fail(
        'BAD_INPUT',
        `input '${decl.name}' has ${v} at [${where}], outside 0..${cap} (the capacity ${capText}${v < 0 ? '; lengths cannot be negative' : ''})`,
      );
    }
  }
}

/**
 * Throws BAD_INPUT when an append of `rows` new tokens at kv_len would run past the cache
 * capacity t (the append step itself drops such rows: a graph cannot raise an error).
 * @example checkAppendRoom([4096], { s: 1, t: 4096 }) // throws: input 'kv_len' has 4096 at [b=0]: appending s = 1 row needs 0 <= kv_len <= t - s = 4095
 */
export function checkAppendRoom(kvLen: ArrayLike<number>, dims: { s: number; t: number }): void {
  const { s, t } = dims;
  for (let i = 0; i < kvLen.length; i++) {
    const v = kvLen[i]!;
    if (Number.isInteger(v) && v >= 0 && v + s <= t) continue;
    fail(
      'BAD_INPUT',
      `input 'kv_len' has ${v} at [b=${i}]: appending s = ${s} row${s === 1 ? '' : 's'} needs 0 <= kv_len <= t - s = ${t - s} (capacity t = ${t})`,
    );
  }
}
