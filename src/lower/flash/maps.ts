/**
 * The attention maps of a P·V contraction. The weights operand P of `O = einsum(P, V)` is read
 * as a linear combination `P = Σ cᵢ·Mᵢ` of attention maps Mᵢ with coefficients cᵢ that do
 * not vary along the key axis (tensors over row axes, or constants): `+`, `-`, unary `-`,
 * `c·M`, `M·c` and `M / c` combine maps, anything else is a map. Then
 * `O = Σ cᵢ·(Mᵢ·V)`, and the flash kernel keeps one accumulator per map. A map is
 *
 * - a **softmax** `softmax(X, t, mask, sink)`: online-softmax state (running max, sum, accumulator);
 * - **plain** weights with no normaliser, `where(keep, W, 0)` or `W` (sigmoid attention): an
 *   accumulator only. Its row sum `sum(M, t)`, where the graph takes one (linear attention's
 *   `einsum(A, v) / (sum(A, t) + ε)`), is kept beside it and read by the epilogue.
 *
 * Names never matter, only structure.
 */
import type { Node } from '../../ir/index.ts';

type Reduce = Extract<Node, { op: 'reduce' }>;

/** One attention map of the weights: a softmax, or plain weights (no normaliser, or their own row sum). */
export interface FlashMap {
  kind: 'softmax' | 'plain';
  /** the node standing for the map in the weights' expression: the softmax, or the (masked) weights */
  node: Node;
  /** the logits (softmax) or the weights before the mask (plain): an elementwise function of score contractions */
  x: Node;
  /** where false the map's weight is 0 (softmax: its mask; plain: `keep` of `where(keep, W, 0)`) */
  mask?: Node;
  /** softmax only: the sink logit joining the denominator */
  sink?: Node;
  /** softmax only: `logsumexp` outputs of the same (masked) logits, written by the kernel */
  lse: Reduce[];
  /** plain only: `sum(node, t)` reductions, the map's own row sum, which the epilogue reads */
  sums: Reduce[];
}

/** The weights P as a linear combination of maps: the maps, and the nodes combining them (P included unless P is a map). */
export interface Combination {
  leaves: Node[];
  /** the add/sub/neg/mul/div nodes between P and its maps */
  skeleton: Node[];
}

const isZero = (n: Node) => n.op === 'const' && n.value === 0;

/**
 * Splits `p` into maps and the linear nodes combining them, along key axis `t` (undefined:
 * any axis of p, for finding candidates). A coefficient is a node without the key axis.
 * @example combination(diff().outputs[0].node.operands[0], 't').leaves.length // 2
 */
export function combination(p: Node, t: string): Combination {
  const leaves: Node[] = [];
  const skeleton: Node[] = [];
  const coef = (n: Node) => !n.axes.includes(t);
  // a map (or combination) used twice is one map: `p - 0.5·p` keeps one state for p
  const walk = (n: Node): void => {
    if (leaves.includes(n) || skeleton.includes(n)) return;
    const linear = (...xs: Node[]) => {
      skeleton.push(n);
      for (const x of xs) walk(x);
    };
    if (n.op === 'unary' && n.fn === 'neg') return linear(n.x);
    if (n.op === 'binary' && (n.fn === 'add' || n.fn === 'sub') && !coef(n.a) && !coef(n.b)) return linear(n.a, n.b);
    if (n.op === 'binary' && n.fn === 'mul' && coef(n.a) !== coef(n.b)) return linear(coef(n.a) ? n.b : n.a);
    if (n.op === 'binary' && n.fn === 'div' && !coef(n.a) && coef(n.b)) return linear(n.a);
    leaves.push(n);
  };
  walk(p);
  return { leaves, skeleton };
}

/** The map a leaf of the combination is: a softmax, or plain weights with their mask when written `where(keep, W, 0)`. */
export function mapOf(leaf: Node): FlashMap {
  if (leaf.op === 'softmax')
    return { kind: 'softmax', node: leaf, x: leaf.x, ...(leaf.mask ? { mask: leaf.mask } : {}), ...(leaf.sink ? { sink: leaf.sink } : {}), lse: [], sums: [] };
  if (leaf.op === 'select' && isZero(leaf.b) && leaf.cond.dtype === 'bool') return { kind: 'plain', node: leaf, x: leaf.a, mask: leaf.cond, lse: [], sums: [] };
  return { kind: 'plain', node: leaf, x: leaf, lse: [], sums: [] };
}

/** The `sum(node, t)` consumers of a map node: its own row sum. */
export function rowSums(node: Node, t: string, consumers: ReadonlyMap<number, Node[]>): Reduce[] {
  return (consumers.get(node.id) ?? []).filter(
    (c): c is Reduce => c.op === 'reduce' && c.fn === 'sum' && c.x === node && c.over.length === 1 && c.over[0] === t,
  );
}

/**
 * `sigmoid(x)`, or `1 / (1 + exp(-x))` written out: a plain map that is a
 * sigmoid of the scores is attention (arXiv:2409.04431) even without a mask.
 */
export function isSigmoid(n: Node): boolean {
  if (n.op === 'unary' && n.fn === 'sigmoid') return true;
  if (n.op !== 'binary' || n.fn !== 'div' || !isOne(n.a)) return false;
  const d = n.b;
  if (d.op !== 'binary' || d.fn !== 'add') return false;
  const e = isOne(d.a) ? d.b : isOne(d.b) ? d.a : undefined;
  return e?.op === 'unary' && e.fn === 'exp' && e.x.op === 'unary' && e.x.fn === 'neg';
}

const isOne = (n: Node) => n.op === 'const' && n.value === 1;

/**
 * Whether plain weights are attention rather than any contraction of an elementwise
 * function of another one (an MLP is that too): they are masked along the key axis, a row sum
 * normalises them, or they are a sigmoid of the scores. Undefined when they are; else the reason.
 */
export function plainSignal(m: FlashMap, t: string): string | undefined {
  if (m.mask?.axes.includes(t) || m.sums.length > 0 || isSigmoid(m.x)) return undefined;
  return `the weights %${m.node.id} (${m.node.op}) are neither a softmax, nor masked along '${t}' (where(keep, w, 0)), nor normalised by their own sum(w, '${t}'), nor a sigmoid of the scores`;
}

/**
 * A structural key of an expression (mask, coefficient): equal keys compute equal values.
 * Inputs by name, materialised nodes (`buffer` gives a name) by their buffer, nodes of other
 * kinds by id.
 * @example structKey(index('t').le(index('s')).node) === structKey(index('t').le(index('s')).node) // true
 */
export function structKey(n: Node, buffer: (n: Node) => string | undefined = () => undefined): string {
  const b = buffer(n);
  if (b !== undefined) return `buf:${b}`;
  const k = (x: Node) => structKey(x, buffer);
  switch (n.op) {
    case 'input':
      return `in:${n.name}`;
    case 'const':
      return `c:${n.dtype}:${n.value}`;
    case 'index':
      return `i:${n.axis}`;
    case 'size':
      return `z:${n.size}`;
    case 'unary':
      return `${n.fn}(${k(n.x)})`;
    case 'cast':
      return `${n.dtype}(${k(n.x)})`;
    case 'binary':
      return `${n.fn}(${k(n.a)},${k(n.b)})`;
    case 'select':
      return `where(${k(n.cond)},${k(n.a)},${k(n.b)})`;
    case 'view':
      return `view:${JSON.stringify(n.view)}:${n.axes.join(' ')}(${k(n.x)})`;
    case 'gather':
      return `gather:${n.axis}(${k(n.src)},${k(n.index)})`;
    default:
      return `node:${n.id}`;
  }
}
