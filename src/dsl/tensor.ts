/** The typed tensor handle of the DSL: an IR node plus its axes in the type. */
import { fail } from '../errors.ts';
import {
  binaryNode,
  castNode,
  constNode,
  gatherNode,
  indexNode,
  reduceNode,
  scanNode,
  softmaxNode,
  topkNode,
  unaryNode,
  viewNode,
  type BinaryFn,
  type DType,
  type Node,
  type UnaryFn,
} from '../ir/index.ts';
import { parseAxes } from './spec.ts';
import type { CheckAxes, CheckPermutation, Merge, ParseAxes, Rename, Replace, Union, Without } from './types.ts';

/** A list of axis names. */
export type Axes = readonly string[];
/** A tensor or a plain number (a scalar constant). */
export type Operand = Tensor<any> | number;
/** The axes of an operand: a number has none. */
export type AxesOf<X> = X extends Tensor<infer A> ? A : [];

/**
 * A lazily evaluated tensor whose type carries its axes: `Tensor<['b','h','s','d']>`.
 * Methods build graph nodes; nothing is computed until the graph is run.
 */
export class Tensor<in out A extends Axes = string[]> {
  /** the axis names, outermost first (row-major) */
  readonly axes: A;
  readonly dtype: DType;

  constructor(readonly node: Node) {
    this.axes = node.axes as unknown as A;
    this.dtype = node.dtype;
  }

  /** Elementwise `this + b`, broadcasting by axis name. */
  add<B extends Operand>(b: B): Tensor<Union<A, AxesOf<B>>> {
    return bin('add', this, b);
  }
  /** Elementwise `this - b`. */
  sub<B extends Operand>(b: B): Tensor<Union<A, AxesOf<B>>> {
    return bin('sub', this, b);
  }
  /** Elementwise `this * b`. */
  mul<B extends Operand>(b: B): Tensor<Union<A, AxesOf<B>>> {
    return bin('mul', this, b);
  }
  /** Elementwise `this / b` (integer division for two i32 operands). */
  div<B extends Operand>(b: B): Tensor<Union<A, AxesOf<B>>> {
    return bin('div', this, b);
  }
  /** Elementwise remainder of two i32 tensors (result has the sign of the dividend). */
  mod<B extends Operand>(b: B): Tensor<Union<A, AxesOf<B>>> {
    return bin('mod', this, b);
  }
  /** Elementwise `this ** b`. */
  pow<B extends Operand>(b: B): Tensor<Union<A, AxesOf<B>>> {
    return bin('pow', this, b);
  }
  /** Elementwise maximum (for a reduction use `.max('axis')`). */
  maximum<B extends Operand>(b: B): Tensor<Union<A, AxesOf<B>>> {
    return bin('max', this, b);
  }
  /** Elementwise minimum. */
  minimum<B extends Operand>(b: B): Tensor<Union<A, AxesOf<B>>> {
    return bin('min', this, b);
  }
  /** `this < b` as a mask. */
  lt<B extends Operand>(b: B): Tensor<Union<A, AxesOf<B>>> {
    return bin('lt', this, b);
  }
  /** `this <= b` as a mask. */
  le<B extends Operand>(b: B): Tensor<Union<A, AxesOf<B>>> {
    return bin('le', this, b);
  }
  /** `this > b` as a mask. */
  gt<B extends Operand>(b: B): Tensor<Union<A, AxesOf<B>>> {
    return bin('gt', this, b);
  }
  /** `this >= b` as a mask. */
  ge<B extends Operand>(b: B): Tensor<Union<A, AxesOf<B>>> {
    return bin('ge', this, b);
  }
  /** `this == b` as a mask. */
  eq<B extends Operand>(b: B): Tensor<Union<A, AxesOf<B>>> {
    return bin('eq', this, b);
  }
  /** `this != b` as a mask. */
  ne<B extends Operand>(b: B): Tensor<Union<A, AxesOf<B>>> {
    return bin('ne', this, b);
  }
  /** Mask conjunction. */
  and<B extends Tensor<any>>(b: B): Tensor<Union<A, AxesOf<B>>> {
    return bin('and', this, b);
  }
  /** Mask disjunction. */
  or<B extends Tensor<any>>(b: B): Tensor<Union<A, AxesOf<B>>> {
    return bin('or', this, b);
  }
  /** Mask negation. */
  not(): Tensor<A> {
    return un('not', this);
  }
  neg(): Tensor<A> {
    return un('neg', this);
  }
  exp(): Tensor<A> {
    return un('exp', this);
  }
  log(): Tensor<A> {
    return un('log', this);
  }
  tanh(): Tensor<A> {
    return un('tanh', this);
  }
  sqrt(): Tensor<A> {
    return un('sqrt', this);
  }
  rsqrt(): Tensor<A> {
    return un('rsqrt', this);
  }
  abs(): Tensor<A> {
    return un('abs', this);
  }
  sin(): Tensor<A> {
    return un('sin', this);
  }
  cos(): Tensor<A> {
    return un('cos', this);
  }
  /** Rounds to the nearest integer, half to even (as WGSL's `round`). */
  round(): Tensor<A> {
    return un('round', this);
  }
  /** Rounds down to an integer (an i32 tensor stays as it is). */
  floor(): Tensor<A> {
    return un('floor', this);
  }
  /** `1 / (1 + e^-x)`, without overflow for any x (sigmoid(-100) is 3.7e-44, not NaN). */
  sigmoid(): Tensor<A> {
    return un('sigmoid', this);
  }
  /** `x` where x > 0, else `e^x - 1` (ELU with alpha 1); linear attention's feature map is `x.elu().add(1)`. */
  elu(): Tensor<A> {
    return un('elu', this);
  }
  /** `min(max(this, lo), hi)`: clips into [lo, hi], broadcasting by axis name like `minimum`. */
  clamp<L extends Operand, H extends Operand>(lo: L, hi: H): Tensor<Union<Union<A, AxesOf<L>>, AxesOf<H>>> {
    return bin('min', bin('max', this, lo), hi);
  }
  /** Converts to another dtype; to `i8` it truncates and saturates to -128..127. */
  cast(dtype: DType): Tensor<A> {
    return new Tensor(castNode(this.node, dtype));
  }

  /** Sum over the space-separated axes `over`. */
  sum<const O extends string>(over: CheckAxes<A, O>): Tensor<Without<A, ParseAxes<O>[number]>> {
    return new Tensor(reduceNode('sum', this.node, parseAxes(over, 'sum')));
  }
  /** Maximum over the space-separated axes `over`. */
  max<const O extends string>(over: CheckAxes<A, O>): Tensor<Without<A, ParseAxes<O>[number]>> {
    return new Tensor(reduceNode('max', this.node, parseAxes(over, 'max')));
  }
  /**
   * log Σ exp over the space-separated axes `over`, computed stably; -inf where every
   * entry is -inf. Of masked attention scores, `where(mask, x, -inf).logsumexp('t')`,
   * it is served by the same fused flash kernel as the attention output.
   * @example const lse = scores.logsumexp('t')
   */
  logsumexp<const O extends string>(over: CheckAxes<A, O>): Tensor<Without<A, ParseAxes<O>[number]>> {
    return new Tensor(reduceNode('logsumexp', this.node, parseAxes(over, 'logsumexp')));
  }
  /**
   * The inclusive prefix sum along `axis`: element i is the sum of elements 0..i. One pass per
   * row on the GPU (O(size) work, f32 or i32 accumulation), e.g. FoX's cumulative log forget gates.
   */
  cumsum<const X extends A[number]>(axis: X): Tensor<A> {
    return new Tensor(scanNode(this.node, checkAxisName(axis, 'cumsum')));
  }
  /**
   * The i32 positions of the `k` largest entries along `axis`, largest first, as a new axis
   * `into` of size k that replaces `axis`. Equal values rank by position (the lower first);
   * NaN ranks as -inf; -inf entries are still returned when fewer than k are larger (see
   * {@link topkMask} for a mask of the finite ones). When k exceeds the size of `axis` the
   * positions past it are -1 (no entry): a gather at -1 is not meaningful, compare with index(axis).
   */
  topk<const X extends A[number], const N extends string>(axis: X, k: number, into: N): Tensor<Rename<A, X, N>> {
    return new Tensor(topkNode(this.node, checkAxisName(axis, 'topk'), k, into));
  }
  /**
   * A mask with this tensor's axes: true at the `k` largest entries along `axis` (ties to the
   * lower position, as {@link topk}) that are greater than -inf. Masking candidates out with
   * -inf first (`where(ok, x, -Infinity)`) keeps them out even when fewer than k remain:
   * then only the finite ones are true. k = 0 gives all false, and k at or past the size of `axis`
   * every finite entry (MoBA asks for top-k blocks whether or not a query has k earlier ones).
   */
  topkMask<const X extends A[number]>(axis: X, k: number): Tensor<A> {
    return topkMaskOf(this, checkAxisName(axis, 'topkMask'), k) as Tensor<A>;
  }
  /** Softmax along `axis`; entries where `mask` is false get weight exactly 0. */
  softmax<const X extends A[number]>(axis: X, opts: SoftmaxOptions = {}): Tensor<A> {
    return new Tensor(softmaxNode(this.node, axis, opts.mask?.node, opts.sink === undefined ? undefined : lift(opts.sink, 'f32').node));
  }

  /** Renames axis `from` to `to` (a view). */
  rename<const F extends A[number], const T extends string>(from: F, to: T): Tensor<Rename<A, F, T>> {
    return new Tensor(viewNode(this.node, { kind: 'rename', from, to }));
  }
  /** Splits one axis into several, outer first: `x.split('h', 'g r')` (a view). */
  split<const X extends A[number], const Into extends string>(axis: X, into: Into): Tensor<Replace<A, X, ParseAxes<Into>>> {
    return new Tensor(viewNode(this.node, { kind: 'split', axis, into: parseAxes(into, `split '${axis}'`) }));
  }
  /** Merges several axes (outer first) into one: `x.merge('m blk', 't')` (a view). */
  merge<const M extends string, const T extends string>(from: CheckAxes<A, M>, into: T): Tensor<Merge<A, ParseAxes<M>, T>> {
    return new Tensor(viewNode(this.node, { kind: 'merge', from: parseAxes(from, `merge into '${into}'`), into }));
  }
  /** Reorders the axes: `x.transpose('b s h d')` (a view). */
  transpose<const O extends string>(order: CheckPermutation<A, O>): Tensor<ParseAxes<O>> {
    return new Tensor(viewNode(this.node, { kind: 'transpose' }, parseAxes(order, 'transpose')));
  }
  /**
   * Reads this tensor with axis `axis` replaced by the values of the i32 tensor
   * `index`: `cache.gather('n', blockTable)` for paged KV caches.
   */
  gather<const X extends A[number], I extends Axes>(axis: X, index: Tensor<I>): Tensor<Replace<A, X, Without<I, A[number]>>> {
    return new Tensor(gatherNode(this.node, axis, index.node));
  }
}

/** Options of {@link Tensor.softmax}. */
export interface SoftmaxOptions {
  /** where false, the weight is exactly 0; may use any subset of the logits' axes */
  mask?: Tensor<any>;
  /** an extra logit joining only the denominator (attention sinks), e.g. per head */
  sink?: Tensor<any> | number;
}

/** Turns a number into a constant tensor; `like` picks i32 for integers next to i32. */
export function lift(x: Operand, like: DType): Tensor<any> {
  if (x instanceof Tensor) return x;
  if (typeof x !== 'number') fail('DTYPE', `expected a tensor or a number, got ${x === null ? 'null' : typeof x}`);
  return new Tensor(constNode(x, like === 'i32' && Number.isInteger(x) ? 'i32' : 'f32'));
}

function checkAxisName(axis: unknown, what: string): string {
  if (typeof axis !== 'string') fail('UNKNOWN_AXIS', `${what}: name the axis as a string, got ${axis === null ? 'null' : typeof axis}`);
  return axis;
}

/**
 * The mask of the k largest finite entries of `x` along `axis`, from the k-th position of
 * `topk` alone: with (v, i) its value and position, an entry (x, j) is among the k when
 * x > v, or x = v and j ≤ i; when v is -inf (or NaN) every finite entry is.
 */
function topkMaskOf(x: Tensor<any>, axis: string, k: number): Tensor<any> {
  const where = `topkMask over '${axis}'`;
  if (typeof k !== 'number' || !Number.isInteger(k) || k < 0)
    fail('BAD_SIZE', `${where}: k must be an integer of at least 0, got ${typeof k === 'number' ? k : JSON.stringify(k)}`);
  if (!x.axes.includes(axis)) fail('UNKNOWN_AXIS', `${where}: axis '${axis}' is not an axis of the operand [${x.axes.join(' ')}]`);
  const finite = bin('gt', x, -Infinity);
  const j = new Tensor(indexNode(axis));
  if (k === 0) return bin('and', finite, bin('lt', j, -1));
  let into = `${axis.slice(0, 50)}_top${k}`;
  while (x.axes.includes(into)) into += 'x';
  const at = new Tensor(gatherNode(x.topk(axis, k, into).node, into, constNode(k - 1, 'i32')));
  // at = -1: the axis has fewer than k entries, so every finite one is in
  const some = bin('ge', at, 0);
  const kth = new Tensor(gatherNode(x.node, axis, bin('max', at, 0).node));
  const ranked = bin('or', bin('gt', x, kth), bin('and', bin('eq', x, kth), bin('le', j, at)));
  return bin('and', finite, bin('or', un('not', bin('and', some, bin('gt', kth, -Infinity))), ranked));
}

function bin(fn: BinaryFn, a: Operand, b: Operand): Tensor<any> {
  const ta = lift(a, typeof b === 'number' ? 'f32' : b.dtype);
  const tb = lift(b, ta.dtype);
  return new Tensor(binaryNode(fn, ta.node, tb.node));
}

function un(fn: UnaryFn, x: Tensor<any>): Tensor<any> {
  return new Tensor(unaryNode(fn, x.node));
}

export { bin as binaryOp, un as unaryOp };
