import { fail } from '../errors.ts';
import { checkName } from './names.ts';
import { children, type InputNode, type Node } from './node.ts';

/**
 * `size` equals the product of `factors` (recorded by split, merge and rename views), or with
 * `ceil`, ceil(factors[0] / factors[1]): the number of blocks of a block size along an axis, the
 * last one partial ({@link blockIndex}).
 */
export interface SizeEquation {
  size: string;
  factors: string[];
  /** the view or index that made it, for messages */
  origin: string;
  ceil?: true;
}

/** A whole program: inputs, named outputs, nodes in topological order, sizes. */
export interface Graph {
  readonly name: string;
  readonly inputs: readonly InputNode[];
  readonly outputs: readonly { name: string; node: Node }[];
  /** every node reachable from the outputs, producers before consumers */
  readonly nodes: readonly Node[];
  /** every size (axis) name the graph uses, in first-use order */
  readonly sizes: readonly string[];
  readonly equations: readonly SizeEquation[];
  /** sizes fixed when the graph was built (specialized, e.g. head dim) */
  readonly staticSizes: Readonly<Record<string, number>>;
}

/**
 * Whether a value looks like a Graph. Duck-typed, because a user module outside an ESM
 * package loads its own CommonJS copy of the DSL, whose objects fail instanceof checks.
 * @example isGraph(mha()) // true
 */
export function isGraph(x: unknown): x is Graph {
  if (x === null || typeof x !== 'object') return false;
  const g = x as Partial<Graph>;
  return typeof g.name === 'string' && Array.isArray(g.inputs) && Array.isArray(g.outputs) && Array.isArray(g.nodes) && Array.isArray(g.sizes);
}

/** Checks that a size is a positive integer; `what` names it in the message. */
export function checkSize(what: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0)
    fail('BAD_SIZE', `${what} must be a positive integer, got ${typeof v === 'number' ? v : JSON.stringify(v)}`);
  return v;
}

/** Every node reachable from `roots`, producers first (ids are creation order). */
export function collect(roots: readonly Node[]): Node[] {
  const seen = new Map<number, Node>();
  const stack = [...roots];
  while (stack.length) {
    const n = stack.pop()!;
    if (seen.has(n.id)) continue;
    seen.set(n.id, n);
    stack.push(...children(n));
  }
  return [...seen.values()].sort((a, b) => a.id - b.id);
}

/**
 * Builds a graph from its output nodes.
 * @example buildGraph('mha', { o: out.node }, { sizes: { d: 64 } })
 */
export function buildGraph(name: string, outputs: Record<string, Node>, opts: { sizes?: Record<string, number> } = {}): Graph {
  checkName('graph', name, `graph '${String(name).slice(0, 40)}'`);
  const outs = Object.entries(outputs);
  if (outs.length === 0) fail('USAGE', `graph '${name}': it has no outputs`);
  for (const [o, n] of outs) {
    checkName('output', o, `graph '${name}'`);
    if (!n || typeof n !== 'object' || !('op' in n)) fail('USAGE', `graph '${name}': output '${o}' is not a tensor`);
    if (n.dtype === 'bool') fail('DTYPE', `graph '${name}': output '${o}' is a bool mask; outputs must be numbers (use where(mask, 1, 0))`);
  }
  const nodes = collect(outs.map(([, n]) => n));
  const inputs: InputNode[] = [];
  const byName = new Map<string, InputNode>();
  const sizes: string[] = [];
  const addSize = (s: string) => {
    if (!sizes.includes(s)) sizes.push(s);
  };
  const equations: SizeEquation[] = [];
  for (const n of nodes) {
    n.axes.forEach(addSize);
    if (n.op === 'size') addSize(n.size);
    if (n.op === 'input') {
      const prev = byName.get(n.name);
      if (prev) fail('USAGE', `graph '${name}': two different inputs are both named '${n.name}' (${prev.axes.join(' ')} and ${n.axes.join(' ')})`);
      byName.set(n.name, n);
      inputs.push(n);
      if (outputs[n.name] !== undefined && outputs[n.name] !== n) fail('USAGE', `graph '${name}': output '${n.name}' has the same name as an input`);
    }
    if (n.op === 'index' && n.blocks)
      equations.push({ size: n.axis, factors: [n.blocks.of, n.blocks.by], ceil: true, origin: `blocks of '${n.blocks.by}' along '${n.blocks.of}'` });
    if (n.op === 'view') {
      const v = n.view;
      if (v.kind === 'rename') equations.push({ size: v.to, factors: [v.from], origin: `rename '${v.from}' -> '${v.to}'` });
      if (v.kind === 'split') equations.push({ size: v.axis, factors: [...v.into], origin: `split '${v.axis}' -> '${v.into.join(' ')}'` });
      if (v.kind === 'merge') equations.push({ size: v.into, factors: [...v.from], origin: `merge '${v.from.join(' ')}' -> '${v.into}'` });
    }
  }
  for (const i of inputs)
    if (i.max !== undefined && !sizes.includes(i.max))
      fail('UNKNOWN_AXIS', `graph '${name}': input '${i.name}' is bounded by size '${i.max}', which is not an axis of the graph (axes: ${sizes.join(' ')})`);
  const staticSizes: Record<string, number> = {};
  for (const [s, v] of Object.entries(opts.sizes ?? {})) {
    if (!sizes.includes(s)) fail('UNKNOWN_AXIS', `graph '${name}': static size '${s}' is not an axis of the graph (axes: ${sizes.join(' ')})`);
    staticSizes[s] = checkSize(`static size '${s}'`, v);
  }
  topkSizes(name, nodes, staticSizes);
  return { name, inputs, outputs: outs.map(([o, node]) => ({ name: o, node })), nodes, sizes, equations, staticSizes };
}

/**
 * Fixes the size of each top-k's new axis to its k (two top-k into one axis must agree, and so
 * must a size given for it).
 */
function topkSizes(name: string, nodes: readonly Node[], staticSizes: Record<string, number>): void {
  const fixedBy = new Map<string, string>();
  for (const n of nodes) {
    if (n.op !== 'topk') continue;
    const what = `topk over '${n.axis}' into '${n.into}' (k = ${n.k})`;
    const had = staticSize(staticSizes, n.into);
    if (had !== undefined && had !== n.k)
      fail('SIZE_CONFLICT', `graph '${name}': ${what} makes size '${n.into}' ${n.k}, but ${fixedBy.get(n.into) ?? "the graph's sizes"} fixed it to ${had}`);
    staticSizes[n.into] = n.k;
    fixedBy.set(n.into, what);
  }
}

/**
 * A size fixed at generation time, by name, or undefined. Own keys only: an axis may be
 * called 'toString', which a plain lookup would find on Object.prototype.
 * @example staticSize({ d: 64 }, 'toString') // undefined
 */
export function staticSize(sizes: Readonly<Record<string, number>>, name: string): number | undefined {
  return Object.hasOwn(sizes, name) ? sizes[name] : undefined;
}

/**
 * A copy of `g` with more sizes fixed at generation time (and optionally a new name):
 * kernels for it bake these sizes in, and dispatching other values is a SIZE_CONFLICT.
 * @example const g64 = specialize(mha({ causal: true }), { d: 64, dv: 64 }, 'mha_causal_64')
 */
export function specialize(g: Graph, sizes: Record<string, number>, name: string = g.name): Graph {
  checkName('graph', name, `specialize '${String(name).slice(0, 40)}'`);
  const staticSizes: Record<string, number> = { ...g.staticSizes };
  for (const [s, v] of Object.entries(sizes)) {
    if (!g.sizes.includes(s)) fail('UNKNOWN_AXIS', `specialize '${name}': '${s}' is not a size of graph '${g.name}' (sizes: ${g.sizes.join(' ')})`);
    checkSize(`size '${s}'`, v);
    if (staticSize(staticSizes, s) !== undefined && staticSizes[s] !== v)
      fail('SIZE_CONFLICT', `specialize '${name}': size '${s}' is already fixed to ${staticSizes[s]}, not ${v}`);
    staticSizes[s] = v;
  }
  return { ...g, name, staticSizes };
}

/**
 * Whether `hit` holds for `n` or for a node it depends on, transitively; the search does not go
 * below a node for which `stop` holds (that node itself is still tested).
 * @example reaches(mha().outputs[0]!.node, (m) => m.op === 'softmax') // true
 */
export function reaches(n: Node, hit: (m: Node) => boolean, stop: (m: Node) => boolean = () => false): boolean {
  const seen = new Set<number>();
  const stack = [n];
  while (stack.length) {
    const m = stack.pop()!;
    if (hit(m)) return true;
    if (seen.has(m.id) || stop(m)) continue;
    seen.add(m.id);
    stack.push(...children(m));
  }
  return false;
}

/**
 * Ids of the nodes on some path from `root` down to `target` (both included when
 * connected): in a kernel, the epilogue nodes that depend on its core.
 * @example const core = input('x', 'i').exp(); nodesBetween(core.mul(2).node, core.node).size // 2 (the scale and the core)
 */
export function nodesBetween(root: Node, target: Node): Set<number> {
  const memo = new Map<number, boolean>();
  const visit = (n: Node): boolean => {
    if (n === target) return true;
    const hit = memo.get(n.id);
    if (hit !== undefined) return hit;
    const r = children(n).map(visit).some(Boolean);
    memo.set(n.id, r);
    return r;
  };
  visit(root);
  return new Set(
    [...memo]
      .filter(([, v]) => v)
      .map(([k]) => k)
      .concat(target.id),
  );
}
