/**
 * Host-side checks of the length inputs of cache variants. The runtime range-checks
 * gather indices held in inputs (a block table past n_blocks is INDEX_RANGE before
 * dispatch), and the size solver rejects h not divisible by g (SIZE_CONFLICT); a length
 * such as kv_len is no gather index, so it is checked here, before `compile().run`.
 */
import { fail } from '../errors.ts';
import { resolveSizes, type Graph } from '../ir/index.ts';

/**
 * The length inputs the variants declare, with the axis whose size bounds them
 * (inclusive): valid values are 0..size. A CLI drawing random inputs can use it too.
 */
export const LENGTH_INPUTS: Readonly<Record<string, string>> = { kv_len: 't', prefix_len: 't' };

/**
 * Throws BAD_INPUT when a length input (kv_len, prefix_len) of `graph` is negative or
 * exceeds the capacity t of the keys; other inputs are left to the runtime.
 * @example checkLengths(paged(), inputs, dims) // "input 'kv_len' has 12 at [b=1], outside 0..9 (capacity t = 9)"
 */
export function checkLengths(graph: Graph, inputs: Record<string, ArrayLike<number>>, dims: Record<string, number>): void {
  const sizes = resolveSizes(graph, dims);
  for (const decl of graph.inputs) {
    const axis = LENGTH_INPUTS[decl.name];
    const data = inputs[decl.name];
    if (axis === undefined || data === undefined || sizes[axis] === undefined) continue;
    const cap = sizes[axis]!;
    const shape = decl.axes.map((a) => sizes[a]!);
    for (let i = 0; i < data.length; i++) {
      const v = data[i]!;
      if (Number.isInteger(v) && v >= 0 && v <= cap) continue;
      let rest = i;
      const at = shape.map(() => 0);
      for (let d = shape.length - 1; d >= 0; d--) { at[d] = rest % shape[d]!; rest = Math.floor(rest / shape[d]!); }
      const where = decl.axes.map((a, d) => `${a}=${at[d]}`).join(' ');
      const origin = graph.equations.find((e) => e.size === axis);
      const capText = origin ? `${axis} = ${origin.factors.join('·')} = ${cap}` : `${axis} = ${cap}`;
      fail('BAD_INPUT', `input '${decl.name}' has ${v} at [${where}], outside 0..${cap} (the capacity ${capText}${v < 0 ? '; lengths cannot be negative' : ''})`);
    }
  }
}
