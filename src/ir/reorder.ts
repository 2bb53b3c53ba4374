/**
 * Contraction-order choice, the graph rewrite that derives MLA's absorbed form from
 * the naive one. A chain of einsums whose intermediate results have no other use is
 * one multi-operand contraction; its cost depends on the order of the pairwise steps,
 * and the best order depends on the sizes. For MLA at decode sizes (s = 1) the best
 * order of q_nope · (c_kv · w_uk) is (q_nope · w_uk) · c_kv — the absorbed query —
 * and of p · (c_kv · w_uv) it is (p · c_kv) · w_uv — attention over the latent.
 *
 * A rewrite pass of the IR: it reads and rebuilds graph nodes through the IR constructors.
 */
import { binaryNode, castNode, einsumNode, gatherNode, reduceNode, scanNode, selectNode, softmaxNode, topkNode, unaryNode, viewNode } from './build.ts';
import { buildGraph, type Graph } from './graph.ts';
import { children, type Node } from './node.ts';
import { resolveSizes } from './sizes.ts';

/** One operand of a flattened contraction: a node and the names its axes have in the contraction. */
interface Leaf {
  node: Node;
  labels: string[];
}

/** Multiply-adds of an einsum over these axes: the product of all their sizes. */
const work = (axes: Iterable<string>, size: (a: string) => number): number => {
  let p = 1;
  for (const a of new Set(axes)) p *= size(a);
  return p;
};

/** The sizes of `dims` that `graph` has (a variant's dims may name more, e.g. dr without RoPE). */
const own = (graph: Graph, dims: Record<string, number>) => Object.fromEntries(Object.entries(dims).filter(([k]) => graph.sizes.includes(k)));

/**
 * Multiply-adds of every einsum of `graph` at `dims` (each einsum costs the product of
 * the sizes of all axes it touches): the cost model of {@link reorderContractions}.
 * @example contractionCost(mla(), { b: 1, h: 16, s: 1, t: 2048, dn: 128, dr: 64, dc: 512, dv: 128 })
 */
export function contractionCost(graph: Graph, dims: Record<string, number>): number {
  const sizes = resolveSizes(graph, own(graph, dims));
  let total = 0;
  for (const n of graph.nodes) if (n.op === 'einsum') total += work([...n.axes, ...n.operands.flatMap((o) => o.axes)], (a) => sizes[a]!);
  return total;
}

/**
 * Rewrites `graph` so that every chain of einsums (intermediates used once) is evaluated
 * in the cheapest pairwise order at the sizes `dims` (exhaustive search over orders;
 * chains have a handful of operands). The result computes the same function for any
 * sizes; only the order of the sums changes. Chains that are already optimal keep
 * their nodes. Sizes the graph does not have are ignored.
 * @example const decode = reorderContractions(mla({ cache: true }), decodeDims) // = the absorbed form
 */
export function reorderContractions(graph: Graph, dims: Record<string, number>): Graph {
  const sizes = resolveSizes(graph, own(graph, dims));
  const uses = new Map<number, number>();
  for (const n of graph.nodes) for (const c of children(n)) uses.set(c.id, (uses.get(c.id) ?? 0) + 1);
  for (const o of graph.outputs) uses.set(o.node.id, (uses.get(o.node.id) ?? 0) + 1);
  const inlinable = (n: Node) => n.op === 'einsum' && uses.get(n.id) === 1 && !graph.outputs.some((o) => o.node === n);

  const mapped = new Map<number, Node>();
  const get = (n: Node) => mapped.get(n.id)!;
  for (const n of graph.nodes) {
    let out = rebuild(n, get);
    if (n.op === 'einsum' && n.operands.some(inlinable)) {
      const chain = flatten(n, graph.sizes, inlinable);
      const sizeOf = (l: string) => sizes[chain.origin.get(l) ?? l]!;
      const best = bestOrder(
        chain.leaves.map((l) => l.labels),
        [...n.axes],
        sizeOf,
      );
      if (best.cost < chain.cost(sizeOf))
        out = emit(
          best.tree,
          chain.leaves.map((l) => ({ node: get(l.node), labels: l.labels })),
          [...n.axes],
          chain.origin,
        );
    }
    mapped.set(n.id, out);
  }
  const outputs = Object.fromEntries(graph.outputs.map((o) => [o.name, get(o.node)]));
  return buildGraph(graph.name, outputs, { sizes: { ...graph.staticSizes } });
}

/** A node rebuilt over its rebuilt children (the same node when none changed). */
function rebuild(n: Node, get: (n: Node) => Node): Node {
  const kids = children(n);
  if (kids.every((c) => get(c) === c)) return n;
  switch (n.op) {
    case 'input':
    case 'const':
    case 'index':
    case 'size':
      return n;
    case 'unary':
      return unaryNode(n.fn, get(n.x));
    case 'binary':
      return binaryNode(n.fn, get(n.a), get(n.b));
    case 'select':
      return selectNode(get(n.cond), get(n.a), get(n.b));
    case 'cast':
      return castNode(get(n.x), n.dtype);
    case 'einsum':
      return einsumNode(n.spec, n.operands.map(get), n.axes);
    case 'reduce':
      return reduceNode(n.fn, get(n.x), n.over);
    case 'softmax':
      return softmaxNode(get(n.x), n.axis, n.mask && get(n.mask), n.sink && get(n.sink));
    case 'view':
      return viewNode(get(n.x), n.view, n.axes);
    case 'gather':
      return gatherNode(get(n.src), n.axis, get(n.index));
    case 'scan':
      return scanNode(get(n.x), n.axis);
    case 'topk':
      return topkNode(get(n.x), n.axis, n.k, n.into);
  }
}

/**
 * The leaves of the einsum chain rooted at `root`, with contracted axes of inner
 * einsums renamed where they would clash with names used elsewhere in the chain.
 */
function flatten(root: Extract<Node, { op: 'einsum' }>, graphSizes: readonly string[], inlinable: (n: Node) => boolean) {
  const leaves: Leaf[] = [];
  const used = new Set<string>();
  const origin = new Map<string, string>(); // fresh label -> the size it equals
  const steps: string[][] = []; // the axes each original einsum of the chain touches, relabelled
  const fresh = (a: string) => {
    let k = 2;
    while (used.has(`${a}${k}`) || graphSizes.includes(`${a}${k}`)) k++;
    origin.set(`${a}${k}`, origin.get(a) ?? a);
    return `${a}${k}`;
  };
  const visit = (e: Extract<Node, { op: 'einsum' }>, labels: readonly string[]) => {
    const sigma = new Map<string, string>(e.axes.map((a, i) => [a, labels[i]!]));
    for (const l of labels) used.add(l);
    for (const a of new Set(e.operands.flatMap((o) => o.axes)))
      if (!sigma.has(a)) {
        const l = used.has(a) ? fresh(a) : a;
        sigma.set(a, l);
        used.add(l);
      }
    steps.push([...sigma.values()]);
    for (const o of e.operands) {
      const ol = o.axes.map((a) => sigma.get(a)!);
      if (inlinable(o)) visit(o as Extract<Node, { op: 'einsum' }>, ol);
      else leaves.push({ node: o, labels: ol });
    }
  };
  visit(root, root.axes);
  return { leaves, origin, cost: (size: (a: string) => number) => steps.reduce((p, s) => p + work(s, size), 0) };
}

type Tree = number | [Tree, Tree];

/**
 * The cheapest binary contraction tree over `operands` (axis lists) producing `output`:
 * dynamic programming over subsets. An intermediate keeps the axes needed outside it.
 */
function bestOrder(operands: string[][], output: string[], size: (a: string) => number): { cost: number; tree: Tree } {
  const n = operands.length;
  const full = (1 << n) - 1;
  const axesOf = (mask: number) => new Set(operands.flatMap((o, i) => ((mask >> i) & 1 ? o : [])));
  const kept = (mask: number): string[] => {
    const outside = new Set([...output, ...operands.flatMap((o, i) => ((mask >> i) & 1 ? [] : o))]);
    return [...axesOf(mask)].filter((a) => outside.has(a));
  };
  const best = new Map<number, { cost: number; tree: Tree }>();
  for (let i = 0; i < n; i++) best.set(1 << i, { cost: 0, tree: i });
  for (let mask = 1; mask <= full; mask++) {
    if (best.has(mask)) continue;
    let top: { cost: number; tree: Tree } | undefined;
    // each split once: sub contains the lowest set bit
    const low = mask & -mask;
    for (let sub = (mask - 1) & mask; sub > 0; sub = (sub - 1) & mask) {
      if (!(sub & low)) continue;
      const a = best.get(sub)!;
      const b = best.get(mask ^ sub)!;
      const cost = a.cost + b.cost + work([...kept(sub), ...kept(mask ^ sub)], size);
      if (!top || cost < top.cost) top = { cost, tree: [a.tree, b.tree] };
    }
    best.set(mask, top!);
  }
  return best.get(full)!;
}

/** Builds the einsum nodes of `tree`; the root produces `output` in order. */
function emit(tree: Tree, leaves: Leaf[], output: string[], origin: Map<string, string>): Node {
  const all = leaves.map((l) => l.labels);
  const maskOf = (t: Tree): number => (typeof t === 'number' ? 1 << t : maskOf(t[0]) | maskOf(t[1]));
  const go = (t: Tree, want: string[] | null): { node: Node; labels: string[] } => {
    if (typeof t === 'number') return relabel(leaves[t]!, origin);
    const [x, y] = [go(t[0], null), go(t[1], null)];
    const mask = maskOf(t);
    const outside = new Set([...output, ...all.flatMap((o, i) => ((mask >> i) & 1 ? [] : o))]);
    // an intermediate lists the final output's axes first (in its order), then the rest as they appear
    const rank = (a: string) => (output.includes(a) ? output.indexOf(a) : output.length);
    const labels = want ?? [...new Set([...x.labels, ...y.labels])].filter((a) => outside.has(a)).sort((a, b) => rank(a) - rank(b));
    const spec = `${x.labels.join(' ')}, ${y.labels.join(' ')} -> ${labels.join(' ')}`;
    return { node: einsumNode(spec, [x.node, y.node], labels), labels };
  };
  if (typeof tree === 'number') {
    const leaf = relabel(leaves[tree]!, origin);
    return einsumNode(`${leaf.labels.join(' ')} -> ${output.join(' ')}`, [leaf.node], output);
  }
  return go(tree, output).node;
}

/** A leaf whose labels differ from its axes (fresh names) read through rename views. */
function relabel(leaf: Leaf, _origin: Map<string, string>): { node: Node; labels: string[] } {
  let node = leaf.node;
  leaf.labels.forEach((l, i) => {
    const a = leaf.node.axes[i]!;
    if (l !== a) node = viewNode(node, { kind: 'rename', from: a, to: l });
  });
  return { node, labels: leaf.labels };
}
