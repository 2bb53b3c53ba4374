/**
 * Finding attentions in a graph, structurally: an attention map over an axis (a softmax, or
 * plain weights of a score contraction: sigmoid, linear attention, a combination of maps as in
 * differential attention) contracted with values over that axis. That axis is the KV axis; the
 * inputs it comes from (through views and gathers) are the KV cache.
 */
import { children, type Graph, type InputNode, type Node } from '../ir/index.ts';

type Einsum = Extract<Node, { op: 'einsum' }>;

/** One attention in a graph. */
export interface Attention {
  /** the attention map contracted with the values: a softmax, or an elementwise function of scores */
  map: Node;
  /** the maps' masks (a softmax's, or the condition of a `where(mask, weights, 0)`), if any */
  masks: Node[];
  /** the score contractions the map is computed from (their own FLOPs scale with the mask) */
  scores: Einsum[];
  /** the contraction of the weights with the values */
  pv: Einsum;
  /** the KV axis */
  kvAxis: string;
  /** each KV input with its axes that index tokens (map to the KV axis) */
  kv: Map<InputNode, Set<string>>;
}

const ELEMENTWISE = new Set(['unary', 'binary', 'select', 'cast', 'softmax']);

/**
 * The attentions of `g`, with their KV-cache inputs.
 * @example [...findAttentions(mha())[0].kv].map(([k, axes]) => `${k.name}: ${[...axes]}`) // ['k: t', 'v: t']
 */
export function findAttentions(g: Graph, batchAxes: readonly string[] = ['b']): Attention[] {
  const out: Attention[] = [];
  for (const pv of g.nodes) {
    if (pv.op !== 'einsum' || pv.operands.length !== 2) continue;
    for (const [i, map] of pv.operands.entries()) {
      const value = pv.operands[1 - i]!;
      const kvAxis = map.axes.find((a) => !pv.axes.includes(a) && value.axes.includes(a));
      // values are per sequence: a contraction with a weight (MLA's w_uv) is a projection
      if (kvAxis === undefined || map.op === 'input' || !perSequence(value, pv, batchAxes)) continue;
      const { logits, ...found } = mapParts(map, kvAxis, batchAxes);
      if (!found.scores.length) continue;
      const kv = new Map<InputNode, Set<string>>();
      // the logits' (score mods included: FoX's gates) and the values' sources of the KV axis
      for (const x of logits) traceAxis(x, kvAxis, kv, batchAxes);
      traceAxis(value, kvAxis, kv, batchAxes);
      out.push({ map, ...found, pv, kvAxis, kv });
      break;
    }
  }
  return out;
}

/**
 * The score contractions (einsums that keep the KV axis and sum another) an attention map is an
 * elementwise function of, and its masks; nothing when it is not a map (a projection, a weight).
 */
function mapParts(map: Node, t: string, batch: readonly string[]): { masks: Node[]; scores: Einsum[]; logits: Node[] } {
  const masks: Node[] = [];
  const scores: Einsum[] = [];
  const logits: Node[] = [];
  const seen = new Set<number>();
  const walk = (n: Node): void => {
    if (seen.has(n.id) || !n.axes.includes(t)) return;
    seen.add(n.id);
    if (n.op === 'einsum') {
      // scores sum a head dim of a key side (with t) and a query side, each per sequence where
      // the scores are: a weight (MLA's w_uk, Linformer's e) makes a projection, a one-hot block
      // matrix (MoBA's block means) a pooling
      const summed = n.operands.some((o) => o.axes.some((a) => !n.axes.includes(a)));
      const sides = [n.operands.filter((o) => o.axes.includes(t)), n.operands.filter((o) => !o.axes.includes(t))];
      if (summed && sides.every((side) => side.some((o) => perSequence(o, n, batch)))) scores.push(n);
      return;
    }
    if (!ELEMENTWISE.has(n.op)) return;
    if (n.op === 'softmax') {
      if (n.axis !== t) return;
      if (n.mask) masks.push(n.mask);
      logits.push(n.x);
      return walk(n.x);
    }
    // where(mask, weights, 0): the zero side is no map; the condition masks it
    if (n.op === 'select' && isZero(n.b)) {
      masks.push(n.cond);
      logits.push(n.a);
      return walk(n.a);
    }
    for (const c of children(n)) walk(c);
  };
  walk(map);
  return { masks, scores, logits: logits.length ? logits : [map] };
}

const isZero = (n: Node) => n.op === 'const' && n.value === 0;

/** Whether operand `o` of `n` is per sequence: it has a batch axis, or `n` has none (an unbatched graph). */
const perSequence = (o: Node, n: Node, batch: readonly string[]) => o.axes.some((a) => batch.includes(a)) || !n.axes.some((a) => batch.includes(a));

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
    case 'gather': {
      if (!n.index.axes.includes(axis) || n.src.axes.includes(axis)) return traceAxis(n.src, axis, into, batch, seen);
      // an axis that came from an index input (a block table) selects positions of the gathered
      // axis; one computed from positions (a clipped relative distance) reads a table, no cache
      const probe = new Map<InputNode, Set<string>>();
      traceAxis(n.index, axis, probe, batch);
      if (probe.size) return traceAxis(n.src, n.axis, into, batch, seen);
      return;
    }
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
        for (const d of data)
          for (const a of contracted) if (d.axes.includes(a) && carriers.some((c) => c.axes.includes(a))) traceAxis(d, a, into, batch, seen);
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
