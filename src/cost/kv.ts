/** KV-cache bytes per token, derived from the graph (never a per-variant formula). */
import type { Graph } from '../ir/index.ts';
import { findAttentions } from './attention.ts';
import { elementBytes } from './traffic.ts';

/** What one token of KV cache costs, per layer and sequence. */
export interface KvCost {
  /** elements per token, summed over the KV inputs */
  elements: number;
  /** bytes per token: float inputs at the modelled size, int8 (quantised caches) at 1 byte */
  bytes: number;
  /** each KV input: its token axes, elements and bytes per token */
  inputs: { name: string; tokenAxes: string[]; elements: number; bytes: number }[];
}

/**
 * Elements per token of every input the attention's KV axis comes from: the input's
 * size divided by its token axes (those that map to the KV axis) and batch axes.
 * @example kvPerToken(mha(), { h: 8, d: 64, dv: 64 }, 4).elements // 1024 (h·d + h·dv)
 */
export function kvPerToken(g: Graph, sizes: Record<string, number>, bytesPerElement: number, batchAxes: readonly string[] = ['b']): KvCost {
  const inputs = new Map<string, KvCost['inputs'][number]>();
  for (const a of findAttentions(g, batchAxes))
    for (const [inp, tokens] of a.kv) {
      if (inputs.has(inp.name)) continue;
      const per = inp.axes.filter((x) => !tokens.has(x) && !batchAxes.includes(x)).reduce((p, x) => p * (sizes[x] ?? NaN), 1);
      inputs.set(inp.name, { name: inp.name, tokenAxes: [...tokens], elements: per, bytes: per * elementBytes(inp.dtype, bytesPerElement) });
    }
  const list = [...inputs.values()].sort((x, y) => x.name.localeCompare(y.name));
  const elements = list.reduce((p, x) => p + x.elements, 0);
  return { elements, bytes: list.reduce((p, x) => p + x.bytes, 0), inputs: list };
}
