/** What a built-in variant declares: how to build its graph, its options and sample sizes. */
import type { Graph } from '../ir/index.ts';

/** One option of a variant, settable on the command line as `--opt key=value`. */
export interface VariantOption {
  type: 'boolean' | 'number';
  default: boolean | number;
  /** how `einattn list` shows a default that is computed at run time (NaN stands for it in `default`) */
  defaultText?: string;
  doc: string;
}

/** A built-in attention variant. */
export interface Variant {
  name: string;
  /** one line for `einattn list` */
  summary: string;
  options: Record<string, VariantOption>;
  /** builds the graph for the given options (missing options take their defaults) */
  build(opts?: Record<string, boolean | number>): Graph;
  /** sizes for a quick check against the interpreter, and realistic ones for timing */
  dims: { check: Record<string, number>; bench: Record<string, number> };
  /** bytes of KV cache one token costs (per layer), for an element size in bytes */
  kvBytesPerToken(dims: Record<string, number>, bytesPerElement: number): number;
}

/**
 * Fills in defaults and checks option names and types.
 * @example resolveOptions(findVariant('mha')!, { causal: true }) // { causal: true, ... }
 */
export function resolveOptions(v: Variant, given: Record<string, boolean | number> = {}): Record<string, boolean | number> {
  const out: Record<string, boolean | number> = {};
  for (const [k, o] of Object.entries(v.options)) out[k] = o.default;
  for (const [k, val] of Object.entries(given)) {
    const o = v.options[k];
    if (!o) throw new Error(`variant '${v.name}' has no option '${k}' (options: ${Object.keys(v.options).join(', ') || 'none'})`);
    if (typeof val !== o.type) throw new Error(`variant '${v.name}': option '${k}' must be a ${o.type}, got ${JSON.stringify(val)}`);
    out[k] = val;
  }
  return out;
}
