/**
 * The graph IR: an immutable DAG of named-axis tensor nodes. Every node knows its
 * axes (in row-major order) and dtype; sizes are symbolic names equal to the axis
 * names (axis `d` has size `d`), with size equations recorded by views.
 */

/**
 * Element types. `bool` only exists for masks and comparisons, never in buffers. `i8` is a
 * storage type (int8 KV caches): integers in -128..127, packed four to a 32-bit word in
 * buffers; arithmetic on them is i32 (the constructors widen i8 operands first), and a cast
 * to i8 saturates.
 */
export type DType = 'f32' | 'f16' | 'i32' | 'i8' | 'bool';

/**
 * `round` rounds half to even, as WGSL's `round` does; `sigmoid` is 1 / (1 + e^-x), computed
 * without overflow for any x; `elu` is x for x > 0, else e^x - 1 (alpha 1); `floor` rounds down.
 */
export type UnaryFn = 'neg' | 'exp' | 'log' | 'tanh' | 'sqrt' | 'rsqrt' | 'abs' | 'sin' | 'cos' | 'round' | 'not' | 'sigmoid' | 'elu' | 'floor';
export type BinaryFn = 'add' | 'sub' | 'mul' | 'div' | 'mod' | 'max' | 'min' | 'pow' | 'lt' | 'le' | 'gt' | 'ge' | 'eq' | 'ne' | 'and' | 'or';
/** `logsumexp` is log Σ exp(x), computed stably (max-shifted); over only -inf it is -inf. */
export type ReduceFn = 'sum' | 'max' | 'logsumexp';

/** How a view's axes relate to its source's axes. All views are index maps, never copies. */
export type ViewKind =
  | { kind: 'rename'; from: string; to: string }
  | { kind: 'transpose' }
  /** `axis` of the source becomes `into` (outer first): axis = ((i0 * n1) + i1) * n2 + i2 … */
  | { kind: 'split'; axis: string; into: string[] }
  /** the source axes `from` (outer first) become one axis `into` */
  | { kind: 'merge'; from: string[]; into: string };

interface Base {
  /** unique, increasing in creation order: a topological order */
  readonly id: number;
  readonly axes: readonly string[];
  readonly dtype: DType;
}

export interface InputNode extends Base {
  readonly op: 'input';
  readonly name: string;
  /** for i32 inputs holding lengths or positions: every value v must satisfy 0 <= v <= size(max) */
  readonly max?: string;
}
export interface ConstNode extends Base {
  readonly op: 'const';
  readonly value: number;
}
/**
 * the index along `axis`: a tensor with the single axis `axis`, dtype i32. With `blocks`, `axis`
 * counts the blocks of `by` positions along `of`, so its size is ceil(of / by)
 */
export interface IndexNode extends Base {
  readonly op: 'index';
  readonly axis: string;
  readonly blocks?: { of: string; by: string };
}
/** the size of axis `size`: a scalar, dtype i32 */
export interface SizeNode extends Base {
  readonly op: 'size';
  readonly size: string;
}
export interface UnaryNode extends Base {
  readonly op: 'unary';
  readonly fn: UnaryFn;
  readonly x: Node;
}
export interface BinaryNode extends Base {
  readonly op: 'binary';
  readonly fn: BinaryFn;
  readonly a: Node;
  readonly b: Node;
}
export interface SelectNode extends Base {
  readonly op: 'select';
  readonly cond: Node;
  readonly a: Node;
  readonly b: Node;
}
export interface CastNode extends Base {
  readonly op: 'cast';
  readonly x: Node;
}
/** `out = Σ over axes not in out of Π operands`, each operand indexed by its spec axes */
export interface EinsumNode extends Base {
  readonly op: 'einsum';
  readonly operands: readonly Node[];
  /** the spec as written, for messages and headers */
  readonly spec: string;
}
export interface ReduceNode extends Base {
  readonly op: 'reduce';
  readonly fn: ReduceFn;
  readonly x: Node;
  readonly over: readonly string[];
}
/**
 * softmax of `x` along `axis`. Where `mask` is false the weight is exactly 0; a row
 * with every entry masked is all zeros. `sink` (optional, without `axis`) is an extra
 * logit that joins the denominator only (attention sinks).
 */
export interface SoftmaxNode extends Base {
  readonly op: 'softmax';
  readonly x: Node;
  readonly axis: string;
  readonly mask?: Node;
  readonly sink?: Node;
}
export interface ViewNode extends Base {
  readonly op: 'view';
  readonly x: Node;
  readonly view: ViewKind;
}
/**
 * `out[..., axis = index[...]...]`: `src` read with its axis `axis` replaced by the value
 * of the integer tensor `index`. Axes shared by `index` and `src` are batch axes.
 */
export interface GatherNode extends Base {
  readonly op: 'gather';
  readonly src: Node;
  readonly axis: string;
  readonly index: Node;
}

/**
 * The inclusive prefix sum of `x` along `axis` (`cumsum`): out[.., i, ..] = Σ_{j ≤ i} x[.., j, ..].
 * Same axes and dtype as `x` (f32, f16 or i32; i32 wraps).
 */
export interface ScanNode extends Base {
  readonly op: 'scan';
  readonly fn: 'sum';
  readonly x: Node;
  readonly axis: string;
}
/**
 * The positions of the `k` largest entries of `x` along `axis`, largest first, ties broken by
 * the lower index; NaN ranks as -inf. An i32 tensor: `x`'s axes with `axis` replaced by `into`,
 * whose size is `k` (a static size of the graph). Positions past size(axis), when k exceeds it, are -1.
 */
export interface TopkNode extends Base {
  readonly op: 'topk';
  readonly x: Node;
  readonly axis: string;
  readonly k: number;
  readonly into: string;
}

export type Node =
  | InputNode
  | ConstNode
  | IndexNode
  | SizeNode
  | UnaryNode
  | BinaryNode
  | SelectNode
  | CastNode
  | EinsumNode
  | ReduceNode
  | SoftmaxNode
  | ViewNode
  | GatherNode
  | ScanNode
  | TopkNode;

/** The direct inputs of a node, in a fixed order. */
export function children(n: Node): Node[] {
  switch (n.op) {
    case 'input':
    case 'const':
    case 'index':
    case 'size':
      return [];
    case 'unary':
    case 'cast':
    case 'reduce':
    case 'view':
    case 'scan':
    case 'topk':
      return [n.x];
    case 'binary':
      return [n.a, n.b];
    case 'select':
      return [n.cond, n.a, n.b];
    case 'einsum':
      return [...n.operands];
    case 'softmax':
      return [n.x, ...(n.mask ? [n.mask] : []), ...(n.sink ? [n.sink] : [])];
    case 'gather':
      return [n.src, n.index];
  }
}

let nextId = 1;
type Distribute<T> = T extends Node ? Omit<T, 'id'> : never;
/** Creates a node with a fresh id. Validation lives in `validate.ts`'s constructors. */
export function mk<T extends Distribute<Node>>(n: T): T & { id: number } {
  return Object.freeze({ ...n, id: nextId++ }) as unknown as T & { id: number };
}
