/**
 * The expression builder shared by the kernel emitters: it turns graph nodes into kernel IR
 * (kir/ir.ts), inlining elementwise ops, views and gathers into `let`s, plus the helpers
 * kernels may call, buffer offsets and names.
 */
import { fail } from '../errors.ts';
import { BINARY, UNARY, type Node, type WgslBuilder } from '../ir/index.ts';
import { STORAGE } from '../runtime/dtypes.ts';
import type { StorageDType } from '../runtime/plan.ts';
import {
  add,
  bin,
  call,
  div,
  flt,
  index,
  int,
  let_,
  mod,
  mul,
  namesIn,
  ne,
  neg,
  not,
  par,
  select,
  sub,
  u,
  uadd,
  umul,
  v,
  type Expr,
  type Stmt,
} from '../kir/ir.ts';

/** Axis name → the u32 expression holding that axis' index. */
export type Env = Readonly<Record<string, Expr>>;

/** A tensor that lives in a storage buffer: a graph input or a materialised node. */
export interface BufferRef {
  /** the plan's buffer name (the DSL tensor's name for inputs and outputs) */
  name: string;
  /** its WGSL variable: the name itself unless that would hide a WGSL built-in */
  ident: string;
  axes: readonly string[];
  /**
   * storage dtype; f16 is widened to f32 on load; i8 is packed four to an `array<i32>`
   * word (little-endian bytes) and sign-extended to i32 on load
   */
  dtype: StorageDType;
  /**
   * the views (innermost first) from the value a kernel computes to this buffer: its stores
   * go through their index maps (`o = x.merge('g r', 'h')` stores x's [g r] at h = g·R + r),
   * so a view of a kernel's result needs no copy kernel
   */
  views?: readonly ViewNode[];
}

/** A view node: rename, transpose, split or merge. */
export type ViewNode = Extract<Node, { op: 'view' }>;

/** Compute type of a node's values inside a kernel (f16 is computed in f32, i8 in i32). */
export function computeType(n: Node): 'f32' | 'i32' | 'bool' {
  return n.dtype === 'bool' ? 'bool' : n.dtype === 'i32' || n.dtype === 'i8' ? 'i32' : 'f32';
}

/** The arithmetic type of einsum products: `f16` rounds each operand and each product to f16 (accumulation stays f32). */
export type ComputeType = 'f32' | 'f16';

/**
 * The product of einsum operand values (f32 expressions) as an f32 expression. Under
 * f16 compute each operand is rounded to f16 and the product is computed in f16, then
 * widened for the f32 accumulator.
 * @example renderExpr(product([kir.v('a'), kir.v('b')], 'f16')) // 'f32(f16(a) * f16(b))'
 */
export function product(terms: readonly Expr[], compute: ComputeType): Expr {
  if (terms.length === 0) return flt(1);
  if (compute === 'f32') return terms.slice(1).reduce((a, b) => mul(a, b), terms[0]!);
  const halves = terms.map((t) => call('f16', t));
  return call(
    'f32',
    halves.slice(1).reduce((a, b) => mul(a, b), halves[0]!),
  );
}

/**
 * The i8 element at linear offset `off` of a packed buffer, sign-extended to i32:
 * byte `off % 4` (little-endian) of word `off / 4`.
 * @example renderExpr(loadI8('k_q', kir.v('o'))) // 'extractBits(k_q[(o) / 4u], ((o) % 4u) * 8u, 8u)'
 */
export function loadI8(ident: string, off: Expr): Expr {
  return call('extractBits', index(v(ident), div(par(off), u(4))), mul(par(mod(par(off), u(4))), u(8)), u(8));
}

/** A literal of `value` in a node's compute type: finite f32 literals, bit patterns for the others (see `flt`). */
export function literal(value: number, t: 'f32' | 'i32' | 'bool'): Expr {
  if (t === 'bool') return { k: 'lit', v: value ? 1 : 0, ty: 'bool' };
  return t === 'i32' ? int(value) : flt(value);
}

/** -inf in f32: the bits through `_f32_bits` (WGSL rejects non-finite values in constant expressions). */
export const NEG_INF = flt(-Infinity);

/** Helper functions a kernel may call; a kernel declares those its IR calls (and what they call). */
export const HELPERS = {
  // WGSL leaves these corners to the implementation at run time and traps in constant
  // expressions; spelling them out makes every backend agree with the interpreter.
  _idiv: `fn _idiv(a: i32, b: i32) -> i32 {
  if (b == 0i || (a == (-2147483647i - 1i) && b == -1i)) { return a; }
  return a / b;
}`,
  _imod: `fn _imod(a: i32, b: i32) -> i32 {
  if (b == 0i || (a == (-2147483647i - 1i) && b == -1i)) { return 0i; }
  return a % b;
}`,
  // WGSL's pow is undefined for x < 0; this one follows Math.pow for integer exponents.
  _pow: `fn _pow(x: f32, y: f32) -> f32 {
  if (y == 0.0) { return 1.0; }
  if (x >= 0.0) { return pow(x, y); }
  if (y != round(y)) { return _f32_bits(0x7fc00000u); }
  let r = pow(-x, y);
  return select(r, -r, fract(y * 0.5) != 0.0);
}`,
  _f32_bits: `fn _f32_bits(b: u32) -> f32 { return bitcast<f32>(b); }`,
  // e^-|x| never overflows: 1 / (1 + e) for x >= 0, e / (1 + e) below (no 1 - tiny cancellation)
  _sigmoid: `fn _sigmoid(x: f32) -> f32 {
  let e = exp(-abs(x));
  return select(e, 1.0, x >= 0.0) / (1.0 + e);
}`,
  // on the bits: compilers may fold x != x to false (WGSL lets them assume no NaN)
  _is_nan: `fn _is_nan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }`,
} as const satisfies Record<string, string>;

export type Helper = keyof typeof HELPERS;

/** The helpers each helper calls. */
export const HELPER_CALLS: Readonly<Record<Helper, readonly Helper[]>> = {
  _idiv: [],
  _imod: [],
  _pow: ['_f32_bits'],
  _f32_bits: [],
  _is_nan: [],
  _sigmoid: [],
};

/** What a kernel body needs from its surroundings. */
export interface KernelContext {
  /** a size: a u32 literal when static, a uniform field otherwise */
  size(name: string): Expr;
  /** the buffer holding node `n`'s values, if it is materialised (or an input) */
  buffer(n: Node): BufferRef | undefined;
  /** marks a buffer as read by this kernel (for bindings) */
  read(b: BufferRef): void;
  /** an internal variable name `_word`, never equal to an axis variable `_axis`; the same word gives the same name */
  internal(word: string): string;
  /** a new name for a `let`, `_word` unless another name of the kernel already is that */
  fresh(word: string): string;
}

/**
 * An internal WGSL name `_word`, never equal to an axis variable `_axis`: user names
 * never contain '__', so at most two trailing underscores end any clash.
 * @example internalName(new Set(['gid']), 'gid') // '_gid_'
 */
export function internalName(axes: ReadonlySet<string>, word: string): string {
  let w = word;
  while (axes.has(w)) w += '_';
  return `_${w}`;
}

/** The WGSL variable holding the index along `axis`. Internal names avoid these. */
export function axisVar(axis: string): string {
  return `_${axis}`;
}

/** Each axis → its variable `_<axis>`. */
export const axisEnv = (axes: readonly string[]): Record<string, Expr> => Object.fromEntries(axes.map((a) => [a, v(axisVar(a))]));

/** `(outer) * n + inner`: the index of `inner` within rows of `n`, after `outer`. */
export const rowMajor = (outer: Expr, n: Expr, inner: Expr): Expr => uadd(umul(par(outer), n), inner);

/** Row-major element offset of `b` at `env`, as a u32 expression. */
export function offset(b: { axes: readonly string[] }, env: Env, ctx: Pick<KernelContext, 'size'>): Expr {
  if (b.axes.length === 0) return u(0);
  let e = need(env, b.axes[0]!);
  for (const a of b.axes.slice(1)) e = rowMajor(e, ctx.size(a), need(env, a));
  return e;
}

function need(env: Env, a: string): Expr {
  const e = env[a];
  if (e === undefined) fail('LOWERING', `internal: axis '${a}' has no index in this kernel`);
  return e;
}

/**
 * The indices of one loop stepped by 4 at its four lanes: `base`, `base + 1u`, `base + 2u`,
 * `base + 3u`, with `base` a multiple of 4 and `base + 3` within the axis. A scope given them
 * reads an i8 buffer whose last axis is at a lane as byte `i` of one shared 32-bit word
 * (`extractBits(word, 8i, 8)`, sign-extending), so four values cost one load.
 */
export type PackedLanes = readonly Expr[];

/**
 * The four lanes of a loop over `base` stepped by 4 (see {@link PackedLanes}).
 * @example renderExpr(packedLanes(kir.v('_d'))[2]!) // '_d + 2u'
 */
export const packedLanes = (base: Expr): PackedLanes => [0, 1, 2, 3].map((i) => (i === 0 ? base : add(base, u(i))));

/**
 * Whether `n` reads an i8 buffer whose last axis is `axis` (through elementwise ops, renames
 * and transposes): the values a {@link PackedLanes} scope can read four to a word.
 */
export function readsPacked(n: Node, axis: string, ctx: Pick<KernelContext, 'buffer'>): boolean {
  const buf = ctx.buffer(n);
  if (buf) return STORAGE[buf.dtype].packing === 4 && buf.axes.at(-1) === axis;
  switch (n.op) {
    case 'unary':
    case 'cast':
      return readsPacked(n.x, axis, ctx);
    case 'binary':
      return readsPacked(n.a, axis, ctx) || readsPacked(n.b, axis, ctx);
    case 'select':
      return readsPacked(n.a, axis, ctx) || readsPacked(n.b, axis, ctx);
    case 'view':
      if (n.view.kind === 'transpose') return readsPacked(n.x, axis, ctx);
      if (n.view.kind === 'rename') return n.view.from !== axis && readsPacked(n.x, n.view.to === axis ? n.view.from : axis, ctx);
      return false;
    default:
      return false;
  }
}

/**
 * The factors of a product: `n` split at its f32 multiplications (a materialised product is
 * one factor, its load). Σ over an axis of a product equals the factors without that axis
 * times the sum of the others, which is how a per-token dequantisation scale is applied once.
 */
export function productFactors(n: Node, ctx: Pick<KernelContext, 'buffer'>): Node[] {
  if (n.op === 'binary' && n.fn === 'mul' && n.dtype === 'f32' && !ctx.buffer(n)) return [...productFactors(n.a, ctx), ...productFactors(n.b, ctx)];
  return [n];
}

/** A structural key of an expression (for caching values by index). */
const keyOf = (e: Expr | undefined): string => (e === undefined ? '' : JSON.stringify(e));

/**
 * Emits `let` statements for expression nodes, inlining views and gathers as index
 * maps. Values are cached by node and by the indices of the node's own axes, so a
 * load that does not depend on an axis is emitted once however many times it is used.
 */
export class Scope {
  readonly lines: Stmt[] = [];
  private readonly cache = new Map<string, Expr>();

  constructor(
    private readonly ctx: KernelContext,
    private readonly counter: { n: number },
    private readonly parent?: Scope,
    /** values supplied by the kernel itself, e.g. the accumulator standing for the core */
    private readonly override?: (n: Node, env: Env) => Expr | undefined,
    /** nodes that do not vary inside this scope: computed once in the parent (loop-invariant hoisting) */
    private readonly hoist?: (n: Node) => boolean,
    /** the lanes of a loop stepped by 4 whose i8 reads share one word (see {@link PackedLanes}) */
    private readonly words?: PackedLanes,
  ) {}

  /** A nested scope (a loop body): sees this scope's values, adds its own lines. */
  child(
    opts: { override?: (n: Node, env: Env) => Expr | undefined; hoist?: (n: Node) => boolean; loopVars?: readonly string[]; words?: PackedLanes } = {},
  ): Scope {
    const c = new Scope(this.ctx, this.counter, this, opts.override ?? this.override, opts.hoist, opts.words);
    for (const x of opts.loopVars ?? []) c.locals.add(x);
    return c;
  }

  /**
   * Byte `i` of the word holding an i8 buffer's element at lane `i` of {@link words}: the word
   * at the same indices with the last one at lane 0, loaded once (a `let`, cached like any
   * value) for the four lanes. Undefined (an element load) unless the buffer's last axis is
   * read at a lane and its rows are a static multiple of 4 long, so lane 0's element starts a
   * word and lane i's is byte i of it.
   */
  private packedByte(buf: BufferRef, env: Env): Expr | undefined {
    const last = buf.axes.at(-1);
    if (!this.words || last === undefined) return undefined;
    const at = keyOf(env[last]);
    const lane = this.words.findIndex((l) => keyOf(l) === at);
    if (lane < 0) return undefined;
    if (buf.axes.length > 1) {
      const row = this.ctx.size(last);
      if (row.k !== 'lit' || row.v % 4 !== 0) return undefined;
    }
    const off = offset(buf, { ...env, [last]: this.words[0]! }, this.ctx);
    const key = `word|${buf.ident}|${keyOf(off)}`;
    const word = this.lookup(key) ?? this.bind(key, index(v(buf.ident), div(par(off), u(4))), `${buf.ident.replace(/^_+/, '')}_word`);
    return call('extractBits', word, u(8 * lane), u(8));
  }

  /** names only this scope can see: its loop variables and its `let`s */
  private readonly locals = new Set<string>();

  /**
   * Whether `n` at `env` reads something only this scope defines. A view or gather can
   * give a node without the loop axis an index made from the loop variable (a renamed or
   * merged contracted axis, a gathered block), so the test is on the names its indices read.
   */
  private usesLocal(n: Node, env: Env): boolean {
    if (this.locals.size === 0) return false;
    for (const a of n.axes) {
      const e = env[a];
      if (e) for (const name of namesIn(e)) if (this.locals.has(name)) return true;
    }
    return false;
  }

  private lookup(key: string): Expr | undefined {
    return this.cache.get(key) ?? this.parent?.lookup(key);
  }

  private bind(key: string, expr: Expr, hint: string): Expr {
    const name = this.ctx.fresh(`${hint}${this.counter.n++}`);
    this.lines.push(let_(name, expr));
    this.locals.add(name);
    this.cache.set(key, v(name));
    return v(name);
  }

  /** The expression of node `n` at indices `env`. */
  value(n: Node, env: Env): Expr {
    const over = this.override?.(n, env);
    if (over !== undefined) return over;
    if (this.parent && this.hoist?.(n) && !this.usesLocal(n, env)) return this.parent.value(n, env);
    const key = `${n.id}|${n.axes.map((a) => keyOf(env[a])).join(',')}`;
    const hit = this.lookup(key);
    if (hit) return hit;
    const buf = this.ctx.buffer(n);
    if (buf) {
      this.ctx.read(buf);
      const s = STORAGE[buf.dtype];
      const load =
        s.packing === 4 ? (this.packedByte(buf, env) ?? loadI8(buf.ident, offset(buf, env, this.ctx))) : index(v(buf.ident), offset(buf, env, this.ctx));
      // a value stored narrower than it computes is widened on load (f16 → f32)
      return this.bind(key, s.wgsl !== s.compute ? call(s.compute, load) : load, buf.ident.replace(/^_+/, ''));
    }
    return this.compute(n, env, key);
  }

  /** A node that is not in a buffer: a leaf, an index map, or an elementwise op bound to a `let`. */
  private compute(n: Node, env: Env, key: string): Expr {
    switch (n.op) {
      case 'const':
        return literal(n.value, computeType(n));
      case 'size':
        return call('i32', this.ctx.size(n.size));
      case 'index':
        return call('i32', need(env, n.axis));
      case 'view':
        return this.value(n.x, viewEnv(n, env, this.ctx));
      case 'gather': {
        const i = this.value(n.index, env);
        const last = sub(call('i32', this.ctx.size(n.axis)), int(1));
        // out-of-range indices are rejected on the host for input index tensors; clamping keeps others in bounds
        return this.value(n.src, { ...env, [n.axis]: call('u32', call('clamp', i, int(0), last)) });
      }
      case 'unary':
        return this.bind(key, UNARY[n.fn].wgsl(WGSL, this.value(n.x, env), computeType(n) === 'i32'), 'v');
      case 'binary':
        return this.bind(key, BINARY[n.fn].wgsl(WGSL, this.value(n.a, env), this.value(n.b, env), computeType(n.a) === 'i32'), 'v');
      case 'select':
        return this.bind(key, select(this.value(n.b, env), this.value(n.a, env), this.value(n.cond, env)), 'v');
      case 'cast': {
        const c = cast(this.value(n.x, env), computeType(n.x), computeType(n));
        // to i8: saturate, as the interpreter does (a bool is already in range)
        return this.bind(key, n.dtype === 'i8' && n.x.dtype !== 'bool' ? call('clamp', c, int(-128), int(127)) : c, 'v');
      }
      default:
        fail('LOWERING', `internal: ${n.op} node %${n.id} is neither materialised nor fused into this kernel`);
    }
  }
}

/** The op records' WGSL rules (src/ir/ops.ts) build kernel IR through this. */
const WGSL: WgslBuilder<Expr> = {
  call: (fn, ...args) => call(fn, ...args),
  infix: (op, a, b) => par(bin(op, a, b)),
  prefix: (op, x) => (op === '-' ? neg(par(x)) : not(par(x))),
  f32: (value) => flt(value),
};

function cast(x: Expr, from: string, to: string): Expr {
  if (from === to) return x;
  if (from === 'bool') return to === 'f32' ? select(flt(0), flt(1), x) : select(int(0), int(1), x);
  if (to === 'bool') return par(ne(x, from === 'f32' ? flt(0) : int(0)));
  return call(to, x);
}

/** The indices of a view's source, given the indices of the view. */
function viewEnv(n: ViewNode, env: Env, ctx: Pick<KernelContext, 'size'>): Env {
  const view = n.view;
  switch (view.kind) {
    case 'transpose':
      return env;
    case 'rename':
      return { ...env, [view.from]: need(env, view.to) };
    case 'split':
      return { ...env, [view.axis]: flatten(env, view.into, ctx) };
    case 'merge':
      return { ...env, ...unflatten(need(env, view.into), view.from, ctx) };
  }
}

/**
 * The indices of a view, given the indices of its source (the inverse of viewEnv): where a
 * kernel whose result is viewed stores. `views` run innermost first.
 */
export function storeEnv(views: readonly ViewNode[], env: Env, ctx: Pick<KernelContext, 'size'>): Env {
  for (const n of views) {
    const view = n.view;
    switch (view.kind) {
      case 'transpose':
        break;
      case 'rename':
        env = { ...env, [view.to]: need(env, view.from) };
        break;
      case 'split':
        env = { ...env, ...unflatten(need(env, view.axis), view.into, ctx) };
        break;
      case 'merge':
        env = { ...env, [view.into]: flatten(env, view.from, ctx) };
        break;
    }
  }
  return env;
}

/** The row-major index of `axes` (the last varies fastest). */
function flatten(env: Env, axes: readonly string[], ctx: Pick<KernelContext, 'size'>): Expr {
  let e = need(env, axes[0]!);
  for (const a of axes.slice(1)) e = rowMajor(e, ctx.size(a), need(env, a));
  return e;
}

/** The index of each of `axes` in the row-major index `i`. */
function unflatten(i: Expr, axes: readonly string[], ctx: Pick<KernelContext, 'size'>): Record<string, Expr> {
  const out: Record<string, Expr> = {};
  let inner: Expr | undefined;
  for (let k = axes.length - 1; k >= 0; k--) {
    const q = inner ? div(par(i), par(inner)) : i;
    out[axes[k]!] = k === 0 ? q : mod(par(q), ctx.size(axes[k]!));
    inner = inner ? mul(inner, ctx.size(axes[k]!)) : ctx.size(axes[k]!);
  }
  return out;
}
