/** The free functions of the DSL: declarations, einsum and elementwise math. */
import { fail } from '../errors.ts';
import { buildGraph, constNode, einsumNode, indexNode, inputNode, selectNode, sizeNode, fmtAxes, type DType, type Graph } from '../ir/index.ts';
import { implicitOutput, parseAxes, parseSpec } from './spec.ts';
import { binaryOp, lift, Tensor, unaryOp, type Axes, type AxesOf, type Operand, type SoftmaxOptions } from './tensor.ts';
import type { CheckAxes, IsDynamic, ParseAxes, Rename, SelectAxes, SpecInputs, SpecOutput, Union, Without } from './types.ts';

/**
 * The storage dtypes an input may have. `i8` holds integers in -128..127 packed four to a
 * word (int8 KV caches); it computes as i32, so `k_q.mul(k_scale)` dequantises to f32.
 */
export type InputDType = 'f32' | 'f16' | 'i32' | 'i8';

/**
 * Declares an input tensor with named axes.
 * @example const q = input('q', 'b h s d') // Tensor<['b','h','s','d']>, f32
 * @example const kvLen = input('kv_len', 'b', 'i32', { max: 't' }) // values checked to lie in 0..t
 * @example const k = input('k_q', 'b g t d', 'i8').mul(input('k_scale', 'b g t')) // an int8 cache, dequantised
 */
export function input<const S extends string>(name: string, axes: S, dtype: InputDType = 'f32', opts: InputOptions = {}): Tensor<ParseAxes<S>> {
  return new Tensor(inputNode(name, parseAxes(axes, `input '${String(name).slice(0, 40)}'`), dtype, opts.max));
}

/** Options of {@link input}. */
export interface InputOptions {
  /**
   * For an i32 input of lengths or positions: every value must lie in 0..size(max),
   * checked before each run (INDEX_RANGE), e.g. `input('kv_len', 'b', 'i32', { max: 't' })`.
   */
  max?: string;
}

/**
 * An einsum operand position, named in compile errors: passing a tensor whose axes
 * differ from the spec reports "not assignable to EinsumOperand<'operand 2', [...]>".
 */
export type EinsumOperand<Pos extends string, A extends Axes> = Tensor<A> & { readonly einsumPosition?: Pos };

type Positions = { '0': 'operand 1'; '1': 'operand 2'; '2': 'operand 3'; '3': 'operand 4'; '4': 'operand 5'; '5': 'operand 6' };
type PositionName<K> = K extends keyof Positions ? Positions[K] : 'operand';
type Operands<T extends unknown[]> = { [K in keyof T]: EinsumOperand<PositionName<K>, T[K] extends Axes ? T[K] : never> };
type OperandsOf<S extends string> = IsDynamic<S> extends true ? Tensor<any>[] : Operands<SpecInputs<S>>;

/**
 * Contracts tensors by axis names: axes absent from the output are summed.
 * Each operand's axes must equal its term in the spec; the output is explicit
 * (`->`) or numpy's implicit one (axes used once, sorted).
 * @example const scores = einsum('b h s d, b h t d -> b h s t', q, k)
 */
export function einsum<const S extends string>(spec: S, ...operands: OperandsOf<S>): Tensor<SpecOutput<S>> {
  const parsed = parseSpec(spec);
  const ops = operands as unknown as Tensor<any>[];
  if (ops.length !== parsed.inputs.length)
    fail(
      'OPERAND_COUNT',
      `einsum '${spec}': the spec names ${parsed.inputs.length} operand${parsed.inputs.length === 1 ? '' : 's'} but ${ops.length} ${ops.length === 1 ? 'was' : 'were'} passed`,
    );
  ops.forEach((op, i) => {
    if (!(op instanceof Tensor)) fail('BAD_INPUT', `einsum '${spec}': operand ${i + 1} is not a tensor (got ${op === null ? 'null' : typeof op})`);
    const want = parsed.inputs[i]!;
    const got = op.axes as readonly string[];
    const same = want.length === got.length && want.every((a, j) => a === got[j]);
    if (!same) {
      const j = want.findIndex((a, k) => a !== got[k]);
      const detail =
        want.length !== got.length ? `the spec has ${want.length} axes, the tensor ${got.length}` : `axis ${j + 1} is '${got[j]}', the spec says '${want[j]}'`;
      fail('AXIS_MISMATCH', `einsum '${spec}': operand ${i + 1}${nameOf(op)} has axes ${fmtAxes(got)} but the spec says ${fmtAxes(want)} (${detail})`);
    }
  });
  const output = parsed.output ?? implicitOutput(parsed.inputs);
  return new Tensor(
    einsumNode(
      spec,
      ops.map((o) => o.node),
      output,
    ),
  ) as Tensor<SpecOutput<S>>;
}

function nameOf(t: Tensor<any>): string {
  return t.node.op === 'input' ? ` ('${t.node.name}')` : '';
}

/**
 * The index along an axis, as an i32 tensor with that single axis: the variable of
 * masks and score mods.
 * @example const causal = index('t').le(index('s'))
 */
export function index<const X extends string>(axis: X): Tensor<[X]> {
  return new Tensor(indexNode(axis));
}

/**
 * The index of the blocks of `block` positions along `axis`, as a new axis `into` whose size is
 * ceil(axis / block) (the last block may be partial). Position `j` of `axis` lies in block
 * `floor(j / block)`, so `index(axis).div(size(block)).eq(blockIndex(...))` says which.
 * @example const inBlock = index('t').div(size('blk')).eq(blockIndex('t', 'blk', 'm')) // [t m]
 */
export function blockIndex<const X extends string>(axis: string, block: string, into: X): Tensor<[X]> {
  return new Tensor(indexNode(into, { of: axis, by: block }));
}

/**
 * Index tensors of several axes at once.
 * @example const [s, t] = indices('s t'); const causal = t.le(s)
 */
type IndexTensors<T extends unknown[]> = { [K in keyof T]: Tensor<[T[K] & string]> };
type Scalars<T extends unknown[]> = { [K in keyof T]: Tensor<[]> };

export function indices<const S extends string>(axes: S): IndexTensors<ParseAxes<S>> {
  return parseAxes(axes, 'indices').map((a) => index(a)) as never;
}

/**
 * The size of an axis, as an i32 scalar.
 * @example const offset = size('t').sub(size('s'))
 */
export function size(axis: string): Tensor<[]> {
  return new Tensor(sizeNode(axis));
}

/**
 * Sizes of several axes at once.
 * @example const [S, T] = sizes('s t')
 */
export function sizes<const S extends string>(axes: S): Scalars<ParseAxes<S>> {
  return parseAxes(axes, 'sizes').map((a) => size(a)) as never;
}

/**
 * A scalar constant of a given dtype (numbers passed to ops become f32 constants
 * automatically, or i32 next to an i32 operand).
 * @example const negInf = constant(-Infinity)
 */
export function constant(value: number, dtype: 'f32' | 'f16' | 'i32' = 'f32'): Tensor<[]> {
  return new Tensor(constNode(value, dtype));
}

type Bin<A extends Operand, B extends Operand> = Tensor<Union<AxesOf<A>, AxesOf<B>>>;

/** `a + b`, broadcasting by axis name. @example add(x, bias) */
export const add = <A extends Operand, B extends Operand>(a: A, b: B): Bin<A, B> => binaryOp('add', a, b);
/** `a - b`. @example sub(index('t'), index('s')) */
export const sub = <A extends Operand, B extends Operand>(a: A, b: B): Bin<A, B> => binaryOp('sub', a, b);
/** `a * b`. @example mul(scores, 0.125) */
export const mul = <A extends Operand, B extends Operand>(a: A, b: B): Bin<A, B> => binaryOp('mul', a, b);
/** `a / b`. @example div(x, c) */
export const div = <A extends Operand, B extends Operand>(a: A, b: B): Bin<A, B> => binaryOp('div', a, b);
/** `a ** b`. @example pow(2, x) */
export const pow = <A extends Operand, B extends Operand>(a: A, b: B): Bin<A, B> => binaryOp('pow', a, b);
/** Integer remainder. @example mod(index('t'), 4) */
export const mod = <A extends Operand, B extends Operand>(a: A, b: B): Bin<A, B> => binaryOp('mod', a, b);
/** `a < b`. @example lt(index('t'), index('s')) */
export const lt = <A extends Operand, B extends Operand>(a: A, b: B): Bin<A, B> => binaryOp('lt', a, b);
/** `a <= b`. */
export const le = <A extends Operand, B extends Operand>(a: A, b: B): Bin<A, B> => binaryOp('le', a, b);
/** `a > b`. */
export const gt = <A extends Operand, B extends Operand>(a: A, b: B): Bin<A, B> => binaryOp('gt', a, b);
/** `a >= b`. */
export const ge = <A extends Operand, B extends Operand>(a: A, b: B): Bin<A, B> => binaryOp('ge', a, b);
/** `a == b`. */
export const eq = <A extends Operand, B extends Operand>(a: A, b: B): Bin<A, B> => binaryOp('eq', a, b);
/** `a != b`. */
export const ne = <A extends Operand, B extends Operand>(a: A, b: B): Bin<A, B> => binaryOp('ne', a, b);
/** Mask conjunction. */
export const and = <A extends Tensor<any>, B extends Tensor<any>>(a: A, b: B): Bin<A, B> => binaryOp('and', a, b);
/** Mask disjunction. */
export const or = <A extends Tensor<any>, B extends Tensor<any>>(a: A, b: B): Bin<A, B> => binaryOp('or', a, b);
/** Mask negation. */
export const not = <A extends Axes>(a: Tensor<A>): Tensor<A> => unaryOp('not', a);
/** `-x`. */
export const neg = <A extends Axes>(x: Tensor<A>): Tensor<A> => unaryOp('neg', x);
/** `e^x`. */
export const exp = <A extends Axes>(x: Tensor<A>): Tensor<A> => unaryOp('exp', x);
/** Natural log. */
export const log = <A extends Axes>(x: Tensor<A>): Tensor<A> => unaryOp('log', x);
/** Hyperbolic tangent; a softcap at 30 is `mul(tanh(div(x, 30)), 30)`. @example mul(tanh(div(x, 30)), 30) */
export const tanh = <A extends Axes>(x: Tensor<A>): Tensor<A> => unaryOp('tanh', x);
/** Square root. */
export const sqrt = <A extends Axes>(x: Tensor<A>): Tensor<A> => unaryOp('sqrt', x);
/** `1 / sqrt(x)`; the default attention scale is `rsqrt(size('d'))`. @example rsqrt(size('d')) */
export const rsqrt = <A extends Axes>(x: Tensor<A>): Tensor<A> => unaryOp('rsqrt', x);
/** `|x|`. */
export const abs = <A extends Axes>(x: Tensor<A>): Tensor<A> => unaryOp('abs', x);
/** Sine. */
export const sin = <A extends Axes>(x: Tensor<A>): Tensor<A> => unaryOp('sin', x);
/** Cosine. */
export const cos = <A extends Axes>(x: Tensor<A>): Tensor<A> => unaryOp('cos', x);
/** Rounds to the nearest integer, half to even (WGSL's `round`). @example round(x.div(scale)) */
export const round = <A extends Axes>(x: Tensor<A>): Tensor<A> => unaryOp('round', x);
/** Rounds down to an integer; an i32 tensor stays as it is. @example floor(index('t').div(4)) */
export const floor = <A extends Axes>(x: Tensor<A>): Tensor<A> => unaryOp('floor', x);
/**
 * The logistic sigmoid `1 / (1 + e^-x)`, computed from e^-|x| so that no x overflows to NaN.
 * @example Array.from(interpret(graph('g', { y: sigmoid(input('x', 'i')) }), { x: [-100, 0, 100] }, { i: 3 }).y.data) // [3.720075976020836e-44, 0.5, 1]
 */
export const sigmoid = <A extends Axes>(x: Tensor<A>): Tensor<A> => unaryOp('sigmoid', x);
/**
 * ELU with alpha 1: `x` where x > 0, else `e^x - 1`; linear attention's φ(x) is `elu(x).add(1)`.
 * @example Array.from(interpret(graph('g', { y: elu(input('x', 'i')) }), { x: [-1, 0, 2] }, { i: 3 }).y.data) // [-0.6321205588285577, 0, 2]
 */
export const elu = <A extends Axes>(x: Tensor<A>): Tensor<A> => unaryOp('elu', x);
/**
 * `clamp(x, lo, hi)` = `minimum(maximum(x, lo), hi)`: x clipped into [lo, hi], broadcasting by
 * axis name; the bounds may be numbers or tensors (a clipped relative distance, a softcap).
 * A NaN x is NaN in the interpreter, but WGSL's min and max may return a bound for it.
 * @example Array.from(interpret(graph('g', { y: clamp(input('x', 'i'), -1, 1) }), { x: [-3, 0.5, 2] }, { i: 3 }).y.data) // [-1, 0.5, 1]
 */
export function clamp<A extends Operand, L extends Operand, H extends Operand>(x: A, lo: L, hi: H): Tensor<Union<Union<AxesOf<A>, AxesOf<L>>, AxesOf<H>>> {
  return binaryOp('min', binaryOp('max', x, lo), hi) as never;
}
/**
 * The inclusive prefix sum along `axis` (element i = x[0] + … + x[i]), one O(size) pass per row
 * on the GPU: FoX's cumulative log forget gates are `cumsum(log_f, 't')`.
 * @example Array.from(interpret(graph('g', { c: cumsum(input('x', 'i'), 'i') }), { x: [1, 2, 3, 4] }, { i: 4 }).c.data) // [1, 3, 6, 10]
 */
export function cumsum<A extends Axes, const X extends A[number]>(x: Tensor<A>, axis: X): Tensor<A> {
  if (!(x instanceof Tensor)) fail('DTYPE', `cumsum: expected a tensor, got ${typeof x}`);
  return x.cumsum(axis);
}
/**
 * The i32 positions of the `k` largest entries of `x` along `axis`, largest first, in a new axis
 * `into` of size k that takes `axis`'s place. Equal values rank by position (lower first), NaN
 * ranks as -inf, and -inf entries are returned when fewer than k are larger. k is a positive
 * integer; where it exceeds the size of `axis`, the positions past it are -1.
 * The positions feed a gather (`x.gather(axis, topk(x, axis, k, 'j'))`) or a comparison with `index(axis)`.
 * @example Array.from(interpret(graph('g', { i: topk(input('x', 'm'), 'm', 3, 'j') }), { x: [1, 5, 3, 5, -Infinity] }, { m: 5 }).i.data) // [1, 3, 2]
 */
export function topk<A extends Axes, const X extends A[number], const N extends string>(x: Tensor<A>, axis: X, k: number, into: N): Tensor<Rename<A, X, N>> {
  if (!(x instanceof Tensor)) fail('DTYPE', `topk: expected a tensor, got ${typeof x}`);
  return x.topk(axis, k, into);
}
/**
 * A bool mask with x's axes: true at the `k` largest entries along `axis` (ranked as
 * {@link topk}) that are greater than -inf. Candidates set to -inf first never get in, even
 * when fewer than k are left (then just the finite ones are true); k = 0 gives all false, and a k
 * past the size of the axis keeps every finite entry.
 * MoBA's block choice: `topkMask(where(earlier, gate, -Infinity), 'm', topk - 1).or(own)`.
 * @example Array.from(interpret(graph('g', { y: where(topkMask(input('x', 'm'), 'm', 3), 1, 0) }), { x: [2, -Infinity, 7, 2] }, { m: 4 }).y.data) // [1, 0, 1, 1]
 */
export function topkMask<A extends Axes, const X extends A[number]>(x: Tensor<A>, axis: X, k: number): Tensor<A> {
  if (!(x instanceof Tensor)) fail('DTYPE', `topkMask: expected a tensor, got ${typeof x}`);
  return x.topkMask(axis, k);
}
/** Elementwise minimum. @example minimum(x, 0) */
export const minimum = <A extends Operand, B extends Operand>(a: A, b: B): Bin<A, B> => binaryOp('min', a, b);
/** Elementwise maximum. @example maximum(x, 0) */
export const maximum = <A extends Operand, B extends Operand>(a: A, b: B): Bin<A, B> => binaryOp('max', a, b);

/**
 * `max(x, 'axes')` reduces over axes; `max(a, b)` is the elementwise maximum.
 * @example max(scores, 't')
 */
export function max<A extends Axes, const O extends string>(x: Tensor<A>, over: CheckAxes<A, O>): Tensor<Without<A, ParseAxes<O>[number]>>;
export function max<A extends Operand, B extends Operand>(a: A, b: B): Bin<A, B>;
export function max(a: Operand, b: Operand | string): Tensor<any> {
  if (typeof b === 'string') return reduceOf('max', a, b);
  return binaryOp('max', a, b);
}

/**
 * `min(a, b)`: the elementwise minimum.
 * @example min(x, 1)
 */
export function min<A extends Operand, B extends Operand>(a: A, b: B): Bin<A, B> {
  return binaryOp('min', a, b);
}

/**
 * Sum over the space-separated axes.
 * @example sum(einsum('s t, t d -> s t d', p, v), 't')
 */
export function sum<A extends Axes, const O extends string>(x: Tensor<A>, over: CheckAxes<A, O>): Tensor<Without<A, ParseAxes<O>[number]>> {
  return reduceOf('sum', x, over);
}

function reduceOf(fn: 'sum' | 'max', x: Operand, over: string): Tensor<any> {
  if (!(x instanceof Tensor)) fail('DTYPE', `${fn}: reduce a tensor, got ${typeof x}`);
  return fn === 'sum' ? x.sum(over) : x.max(over);
}

/**
 * Softmax along `axis`, with an optional boolean mask (false → weight 0, a fully
 * masked row gives zeros) and an optional sink logit.
 * @example softmax(scores, 't', { mask: index('t').le(index('s')) })
 */
export function softmax<A extends Axes, const X extends A[number]>(x: Tensor<A>, axis: X, opts: SoftmaxOptions = {}): Tensor<A> {
  if (!(x instanceof Tensor)) fail('DTYPE', `softmax: expected a tensor, got ${typeof x}`);
  return x.softmax(axis, opts);
}

/**
 * `where(cond, a, b)`: `a` where the mask is true, else `b`, broadcasting by name. The result
 * has the axes of the value operand with more axes (`a` on a tie), then the other's it lacks,
 * then the mask's: the values' order, never the mask's, so the result feeds the same einsum.
 * @example where(index('t').le(index('s')), input('x', 'b s t'), 0).axes // ['b', 's', 't']
 */
export function where<C extends Tensor<any>, A extends Operand, B extends Operand>(cond: C, a: A, b: B): Tensor<SelectAxes<AxesOf<C>, AxesOf<A>, AxesOf<B>>> {
  if (!(cond instanceof Tensor)) fail('DTYPE', 'where: the condition must be a mask tensor (a comparison)');
  const other = typeof b === 'number' ? (typeof a === 'number' ? 'f32' : a.dtype) : b.dtype;
  const ta = lift(a, other);
  const tb = lift(b, ta.dtype);
  return new Tensor(selectNode(cond.node, ta.node, tb.node)) as never;
}

/**
 * Turns named output tensors into a graph, optionally fixing some sizes now
 * (specialization) while the others stay dynamic.
 * @example const g = graph('attn', { o }, { sizes: { d: 64 } })
 */
export function graph(name: string, outputs: Record<string, Tensor<any>>, opts: { sizes?: Record<string, number> } = {}): Graph {
  const nodes: Record<string, ReturnType<typeof Object>> = {};
  for (const [k, t] of Object.entries(outputs ?? {})) {
    if (!(t instanceof Tensor)) fail('USAGE', `graph '${name}': output '${k}' is not a tensor`);
    nodes[k] = t.node;
  }
  return buildGraph(name, nodes as never, opts);
}

export type { DType };
