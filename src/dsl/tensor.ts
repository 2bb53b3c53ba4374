/** The typed tensor handle of the DSL: an IR node plus its axes in the type. */
import { fail } from '../errors.ts';
import {
  binaryNode, castNode, constNode, gatherNode, reduceNode, softmaxNode, unaryNode, viewNode,
  type BinaryFn, type DType, type Node, type UnaryFn,
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
  add<B extends Operand>(b: B): Tensor<Union<A, AxesOf<B>>> { return bin('add', this, b); }
  /** Elementwise `this - b`. */
  sub<B extends Operand>(b: B): Tensor<Union<A, AxesOf<B>>> { return bin('sub', this, b); }
  /** Elementwise `this * b`. */
  mul<B extends Operand>(b: B): Tensor<Union<A, AxesOf<B>>> { return bin('mul', this, b); }
  /** Elementwise `this / b` (integer division for two i32 operands). */
  div<B extends Operand>(b: B): Tensor<Union<A, AxesOf<B>>> { return bin('div', this, b); }
  /** Elementwise remainder of two i32 tensors (result has the sign of the dividend). */
  mod<B extends Operand>(b: B): Tensor<Union<A, AxesOf<B>>> { return bin('mod', this, b); }
  /** Elementwise `this ** b`. */
  pow<B extends Operand>(b: B): Tensor<Union<A, AxesOf<B>>> { return bin('pow', this, b); }
  /** Elementwise maximum (for a reduction use `.max('axis')`). */
  maximum<B extends Operand>(b: B): Tensor<Union<A, AxesOf<B>>> { return bin('max', this, b); }
  /** Elementwise minimum. */
  minimum<B extends Operand>(b: B): Tensor<Union<A, AxesOf<B>>> { return bin('min', this, b); }
  /** `this < b` as a mask. */
  lt<B extends Operand>(b: B): Tensor<Union<A, AxesOf<B>>> { return bin('lt', this, b); }
  /** `this <= b` as a mask. */
  le<B extends Operand>(b: B): Tensor<Union<A, AxesOf<B>>> { return bin('le', this, b); }
  /** `this > b` as a mask. */
  gt<B extends Operand>(b: B): Tensor<Union<A, AxesOf<B>>> { return bin('gt', this, b); }
  /** `this >= b` as a mask. */
  ge<B extends Operand>(b: B): Tensor<Union<A, AxesOf<B>>> { return bin('ge', this, b); }
  /** `this == b` as a mask. */
  eq<B extends Operand>(b: B): Tensor<Union<A, AxesOf<B>>> { return bin('eq', this, b); }
  /** `this != b` as a mask. */
  ne<B extends Operand>(b: B): Tensor<Union<A, AxesOf<B>>> { return bin('ne', this, b); }
  /** Mask conjunction. */
  and<B extends Tensor<any>>(b: B): Tensor<Union<A, AxesOf<B>>> { return bin('and', this, b); }
  /** Mask disjunction. */
  or<B extends Tensor<any>>(b: B): Tensor<Union<A, AxesOf<B>>> { return bin('or', this, b); }
  /** Mask negation. */
  not(): Tensor<A> { return un('not', this); }
  neg(): Tensor<A> { return un('neg', this); }
  exp(): Tensor<A> { return un('exp', this); }
  log(): Tensor<A> { return un('log', this); }
  tanh(): Tensor<A> { return un('tanh', this); }
  sqrt(): Tensor<A> { return un('sqrt', this); }
  rsqrt(): Tensor<A> { return un('rsqrt', this); }
  abs(): Tensor<A> { return un('abs', this); }
  sin(): Tensor<A> { return un('sin', this); }
  cos(): Tensor<A> { return un('cos', this); }
  /** Rounds to the nearest integer, half to even (as WGSL's `round`). */
  round(): Tensor<A> { return un('round', this); }
  /** Converts to another dtype; to `i8` it truncates and saturates to -128..127. */
  cast(dtype: DType): Tensor<A> { return new Tensor(castNode(this.node, dtype)); }

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

function bin(fn: BinaryFn, a: Operand, b: Operand): Tensor<any> {
  const ta = lift(a, typeof b === 'number' ? 'f32' : b.dtype);
  const tb = lift(b, ta.dtype);
  return new Tensor(binaryNode(fn, ta.node, tb.node));
}

function un(fn: UnaryFn, x: Tensor<any>): Tensor<any> {
  return new Tensor(unaryNode(fn, x.node));
}

export { bin as binaryOp, un as unaryOp };
