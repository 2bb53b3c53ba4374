/**
 * FLOPs of a graph, counted from its nodes: an einsum over index space P costs
 * (operands - 1) multiplies and one add per point; softmax ~5 per element
 * (max, subtract, exp, sum, divide); elementwise 1 per element; a reduction 1 per
 * input element; a cumsum 1 per element; a top-k of k over m, k·m per row. Contractions
 * inside an attention are scaled by the fraction of (query, key) pairs the mask keeps,
 * computed exactly from the mask expression.
 */
import { interpret } from '../interp/index.ts';
import {
  BINARY,
  binaryNode as binary,
  buildGraph,
  REDUCE,
  UNARY,
  castNode,
  constNode,
  indexNode as index,
  selectNode,
  unaryNode as unary,
  type Graph,
  type Node,
} from '../ir/index.ts';
import { findAttentions } from './attention.ts';

/** FLOPs per node kind, and the mask density used. */
export interface FlopCount {
  total: number;
  contraction: number;
  softmax: number;
  elementwise: number;
  /** fraction of (query, key) pairs kept by each attention's mask; null when the mask reads tensors */
  maskDensity: (number | null)[];
}

const prod = (xs: readonly number[]) => xs.reduce((p, x) => p * x, 1);

/**
 * Counts FLOPs of `g` at sizes `sizes` (all sizes bound).
 * @example graphFlops(mha(), { b: 1, h: 8, s: 1024, t: 1024, d: 64, dv: 64 }).total // 2197815297 (4·b·h·s·t·d and the softmax)
 */
export function graphFlops(g: Graph, sizes: Record<string, number>): FlopCount {
  const size = (axes: readonly string[]) => prod(axes.map((a) => sizes[a]!));
  const attns = findAttentions(g);
  const density = new Map<number, number>();
  const maskDensity = attns.map((a) => {
    // every map of one contraction shares its mask (differential attention's two softmaxes)
    const mask = a.masks[0];
    const d = mask ? maskFraction(mask, sizes) : 1;
    if (d !== null) {
      density.set(a.map.id, d);
      density.set(a.pv.id, d);
      for (const n of [...a.masks.map(() => a.map), ...a.scores]) density.set(n.id, d);
      for (const n of g.nodes) if (n.op === 'softmax' && n.mask && a.masks.includes(n.mask)) density.set(n.id, d);
    }
    return d;
  });
  let contraction = 0;
  let softmax = 0;
  let elementwise = 0;
  for (const n of g.nodes) {
    const f = density.get(n.id) ?? 1;
    if (n.op === 'einsum') {
      const all = [...new Set(n.operands.flatMap((o) => o.axes).concat(n.axes))];
      contraction += f * size(all) * Math.max(1, n.operands.length);
    } else if (n.op === 'softmax') softmax += f * 5 * size(n.axes);
    else if (n.op === 'reduce') elementwise += REDUCE[n.fn].flops * size(n.x.axes);
    else if (n.op === 'unary') elementwise += UNARY[n.fn].flops * size(n.axes);
    else if (n.op === 'binary') elementwise += BINARY[n.fn].flops * size(n.axes);
    else if (n.op === 'select') elementwise += size(n.axes);
    // a scan adds once per element; top-k compares each element once per selected position
    else if (n.op === 'scan') elementwise += size(n.axes);
    else if (n.op === 'topk') elementwise += n.k * size(n.x.axes);
  }
  return { total: contraction + softmax + elementwise, contraction, softmax, elementwise, maskDensity };
}

/** Largest index space evaluated exactly; beyond it the mask is sampled on a grid. */
const EXACT = 1 << 22;

/**
 * The fraction of positions where `mask` is true, by evaluating it (it is an index
 * expression); null when it reads tensors, whose values are unknown before a run.
 */
function maskFraction(mask: Node, sizes: Record<string, number>): number | null {
  const g = buildGraph('mask', { m: selectNode(mask, constNode(1), constNode(0)) });
  if (g.inputs.length) return null;
  const total = prod(mask.axes.map((a) => sizes[a]!));
  let dims = Object.fromEntries(g.sizes.map((s) => [s, sizes[s]!]));
  if (total <= EXACT) {
    const { m } = interpret(g, {}, dims);
    return m!.data.reduce((p, x) => p + x, 0) / total;
  }
  // sample a strided grid: the mask at every k-th index along each axis, with the true sizes
  const stride = Math.ceil((total / EXACT) ** (1 / mask.axes.length));
  const sampled = buildGraph('mask_sampled', { m: resample(mask, stride) });
  dims = Object.fromEntries(sampled.sizes.map((s) => [s, sizes[s] ?? Math.ceil(sizes[s.replace(/_sample$/, '')]! / stride)]));
  const { m } = interpret(sampled, {}, dims);
  return m!.data.reduce((p, x) => p + x, 0) / m!.data.length;
}

/** `mask` with each index axis `a` replaced by `a_sample * stride` over a smaller axis. */
function resample(mask: Node, stride: number): Node {
  // rebuilt through the interpreter-facing constructors: index(a) → index(a_sample) * stride
  const memo = new Map<number, Node>();
  const go = (n: Node): Node => {
    const hit = memo.get(n.id);
    if (hit) return hit;
    let r: Node;
    if (n.op === 'index') r = binary('mul', index(`${n.axis}_sample`), constNode(stride, 'i32'));
    else if (n.op === 'binary') r = binary(n.fn, go(n.a), go(n.b));
    else if (n.op === 'unary') r = unary(n.fn, go(n.x));
    else if (n.op === 'cast') r = castNode(go(n.x), n.dtype);
    else if (n.op === 'select') r = selectNode(go(n.cond), go(n.a), go(n.b));
    else r = n;
    memo.set(n.id, r);
    return r;
  };
  return selectNode(go(mask), constNode(1), constNode(0));
}
