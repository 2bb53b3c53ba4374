/**
 * Finding attentions in a graph, structurally: a softmax over an axis whose result is
 * contracted over that axis. The softmax axis is the KV axis; the inputs it comes from
 * (through views and gathers) are the KV cache.
 */
import { children, type Graph, type InputNode, type Node } from '../ir/index.ts';

/** One attention in a graph. */
export interface Attention {
  softmax: Extract<Node, { op: 'softmax' }>;
  /** the contraction of the probabilities with the values */
  pv: Extract<Node, { op: 'einsum' }>;
  /** the KV (softmax) axis */
  kvAxis: string;
  /** each KV input with its axes that index tokens (map to the KV axis) */
  kv: Map<InputNode, Set<string>>;
}

/**
 * The attentions of `g`, with their KV-cache inputs.
 * @example [...findAttentions(mha())[0].kv].map(([k, axes]) => `${k.name}: ${[...axes]}`) // ['k: t', 'v: t']
 */
export function findAttentions(g: Graph, batchAxes: readonly string[] = ['b']): Attention[] {
  const consumers = new Map<number, Node[]>();
  for (const n of g.nodes) for (const c of children(n)) consumers.set(c.id, [...(consumers.get(c.id) ?? []), n]);
  const out: Attention[] = [];
  for (const n of g.nodes) {
    if (n.op !== 'softmax') continue;
    const pv = (consumers.get(n.id) ?? []).find((c): c is Extract<Node, { op: 'einsum' }> => c.op === 'einsum' && !c.axes.includes(n.axis));
    if (!pv) continue;
    const kv = new Map<InputNode, Set<string>>();
    // the logits' and the values' sources of the KV axis
    traceAxis(n.x, n.axis, kv, batchAxes);
    for (const o of pv.operands) if (o !== n) traceAxis(o, n.axis, kv, batchAxes);
    out.push({ softmax: n, pv, kvAxis: n.axis, kv });
  }
  return out;
}

/** Records which input axes the axis `axis` of `n` comes from. */
function traceAxis(n: Node, axis: string, into: Map<InputNode, Set<string>>, batch: readonly string[], seen = new Set<string>()): void {
  const key = `${n.id}:${axis}`;
  if (seen.has(key) || !n.axes.includes(axis)) return;
  seen.add(key);
  switch (n.op) {
    case 'input': {
      const s = into.get(n) ?? new Set<string>();
      s.add(axis);
      into.set(n, s);
      return;
    }
    case 'view': {
      const v = n.view;
      if (v.kind === 'rename') return traceAxis(n.x, axis === v.to ? v.from : axis, into, batch, seen);
      if (v.kind === 'merge' && axis === v.into) return v.from.forEach((a) => traceAxis(n.x, a, into, batch, seen));
      if (v.kind === 'split' && v.into.includes(axis)) return traceAxis(n.x, v.axis, into, batch, seen);
      return traceAxis(n.x, axis, into, batch, seen);
    }
    case 'gather':
      // an axis that came from the index tensor selects positions of the gathered axis
      if (n.index.axes.includes(axis) && !n.src.axes.includes(axis)) return traceAxis(n.src, n.axis, into, batch, seen);
      return traceAxis(n.src, axis, into, batch, seen);
    case 'einsum': {
      // An operand without a batch axis that carries the KV axis is a weight. When it
      // projects a batched operand along a contracted axis (Linformer: e [p t] · k [b h t d]),
      // the cache is that operand and the contracted axis its tokens; otherwise (an
      // up-projection of a latent cache, as in MLA) the KV axis is followed as is.
      const contracted = [...new Set(n.operands.flatMap((o) => o.axes))].filter((a) => !n.axes.includes(a));
      const carriers = n.operands.filter((o) => o.axes.includes(axis));
      const batched = (o: Node) => o.axes.some((a) => batch.includes(a));
      const data = n.operands.filter((o) => !o.axes.includes(axis) && batched(o));
      if (carriers.length && !carriers.some(batched) && data.length) {
        for (const d of data) for (const a of contracted) if (d.axes.includes(a) && carriers.some((c) => c.axes.includes(a))) traceAxis(d, a, into, batch, seen);
        return;
      }
      for (const c of carriers) traceAxis(c, axis, into, batch, seen);
      return;
    }
    case 'softmax':
    case 'reduce':
      for (const c of children(n)) traceAxis(c, axis, into, batch, seen);
      return;
    default:
      for (const c of children(n)) if (c.op !== 'index' && c.op !== 'size') traceAxis(c, axis, into, batch, seen);
  }
}
