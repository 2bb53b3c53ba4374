/**
 * WGSL text helpers shared by the kernel emitters: literals, buffer offsets, and the
 * expression builder that inlines elementwise ops, views and gathers into `let`s.
 */
import { fail } from '../errors.ts';
import type { Node } from '../ir/index.ts';

/** Axis name → WGSL u32 expression holding that axis' index. */
export type Env = Readonly<Record<string, string>>;

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
  dtype: 'f32' | 'f16' | 'i32' | 'i8';
}

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
 * @example product(['a', 'b'], 'f16') // 'f32(f16(a) * f16(b))'
 */
export function product(terms: readonly string[], compute: ComputeType): string {
  if (terms.length === 0) return '1.0';
  if (compute === 'f32') return terms.join(' * ');
  return `f32(${terms.map((t) => `f16(${t})`).join(' * ')})`;
}

/**
 * The i8 element at linear offset `off` of a packed buffer, sign-extended to i32:
 * byte `off % 4` (little-endian) of word `off / 4`.
 * @example loadI8('k_q', 'o') // 'extractBits(k_q[(o) / 4u], ((o) % 4u) * 8u, 8u)'
 */
export function loadI8(ident: string, off: string): string {
  return `extractBits(${ident}[(${off}) / 4u], ((${off}) % 4u) * 8u, 8u)`;
}

/** A WGSL literal for `v` in type `t`; infinities and NaN go through bitcast (WGSL has no literal for them). */
export function literal(v: number, t: 'f32' | 'i32' | 'bool'): string {
  if (t === 'bool') return v ? 'true' : 'false';
  if (t === 'i32') return v === -2147483648 ? '(-2147483647i - 1i)' : `${v}i`;
  const f = Math.fround(v);
  // through a function: WGSL rejects non-finite values in constant expressions
  if (Number.isNaN(f)) return '_f32_bits(0x7fc00000u)';
  if (f === Infinity) return '_f32_bits(0x7f800000u)';
  if (f === -Infinity) return '_f32_bits(0xff800000u)';
  if (Object.is(f, -0)) return '-0.0';
  const s = String(f);
  return /[.e]/.test(s) ? s : `${s}.0`;
}

export const NEG_INF = literal(-Infinity, 'f32');

/** Helper functions a kernel may call; only the used ones are emitted. */
export const HELPERS: Record<string, string> = {
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
  // on the bits: compilers may fold x != x to false (WGSL lets them assume no NaN)
  _is_nan: `fn _is_nan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }`,
};

/** What a kernel body needs from its surroundings. */
export interface KernelContext {
  /** WGSL u32 expression of a size: a literal when static, a uniform field otherwise */
  size(name: string): string;
  /** the buffer holding node `n`'s values, if it is materialised (or an input) */
  buffer(n: Node): BufferRef | undefined;
  /** marks a buffer as read by this kernel (for bindings) */
  read(b: BufferRef): void;
  /** marks a helper function as used */
  helper(name: keyof typeof HELPERS): void;
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

/** Row-major element offset of `b` at `env`, as a u32 expression. */
export function offset(b: { axes: readonly string[] }, env: Env, ctx: Pick<KernelContext, 'size'>): string {
  if (b.axes.length === 0) return '0u';
  let e = need(env, b.axes[0]!);
  for (const a of b.axes.slice(1)) e = `(${e}) * ${ctx.size(a)} + ${need(env, a)}`;
  return e;
}

function need(env: Env, a: string): string {
  const v = env[a];
  if (v === undefined) fail('LOWERING', `internal: axis '${a}' has no index in this kernel`);
  return v;
}

const INFIX: Record<string, string> = {
  add: '+', sub: '-', mul: '*', div: '/', lt: '<', le: '<=', gt: '>', ge: '>=', eq: '==', ne: '!=', and: '&&', or: '||',
};

/**
 * Emits `let` statements for expression nodes, inlining views and gathers as index
 * maps. Values are cached by node and by the indices of the node's own axes, so a
 * load that does not depend on an axis is emitted once however many times it is used.
 */
export class Scope {
  readonly lines: string[] = [];
  private readonly cache = new Map<string, string>();

  constructor(
    private readonly ctx: KernelContext,
    private readonly counter: { n: number },
    private readonly parent?: Scope,
    /** values supplied by the kernel itself, e.g. the accumulator standing for the core */
    private readonly override?: (n: Node, env: Env) => string | undefined,
    /** nodes that do not vary inside this scope: computed once in the parent (loop-invariant hoisting) */
    private readonly hoist?: (n: Node) => boolean,
  ) {}

  /** A nested scope (a loop body): sees this scope's values, adds its own lines. */
  child(opts: { override?: (n: Node, env: Env) => string | undefined; hoist?: (n: Node) => boolean; loopVars?: readonly string[] } = {}): Scope {
    const c = new Scope(this.ctx, this.counter, this, opts.override ?? this.override, opts.hoist);
    for (const v of opts.loopVars ?? []) c.locals.add(v);
    return c;
  }

  /** names only this scope can see: its loop variables and its `let`s */
  private readonly locals = new Set<string>();

  /**
   * Whether `n` at `env` reads something only this scope defines. A view or gather can
   * give a node without the loop axis an index made from the loop variable (a renamed or
   * merged contracted axis, a gathered block), so the test is on the index text.
   */
  private usesLocal(n: Node, env: Env): boolean {
    if (this.locals.size === 0) return false;
    const words = new Set(n.axes.flatMap((a) => env[a]?.match(/[A-Za-z_][A-Za-z0-9_]*/g) ?? []));
    for (const w of words) if (this.locals.has(w)) return true;
    return false;
  }

  private lookup(key: string): string | undefined {
    return this.cache.get(key) ?? this.parent?.lookup(key);
  }

  private bind(key: string, expr: string, hint: string): string {
    const name = this.ctx.fresh(`${hint}${this.counter.n++}`);
    this.lines.push(`let ${name} = ${expr};`);
    this.locals.add(name);
    this.cache.set(key, name);
    return name;
  }

  /** The WGSL expression of node `n` at indices `env`. */
  value(n: Node, env: Env): string {
    const over = this.override?.(n, env);
    if (over !== undefined) return over;
    if (this.parent && this.hoist?.(n) && !this.usesLocal(n, env)) return this.parent.value(n, env);
    const key = `${n.id}|${n.axes.map((a) => env[a]).join(',')}`;
    const hit = this.lookup(key);
    if (hit) return hit;
    const buf = this.ctx.buffer(n);
    if (buf) {
      this.ctx.read(buf);
      const off = offset(buf, env, this.ctx);
      const load = buf.dtype === 'i8' ? loadI8(buf.ident, off) : `${buf.ident}[${off}]`;
      return this.bind(key, buf.dtype === 'f16' ? `f32(${load})` : load, buf.ident.replace(/^_+/, ''));
    }
    switch (n.op) {
      case 'const': return literal(n.value, computeType(n));
      case 'size': return `i32(${this.ctx.size(n.size)})`;
      case 'index': return `i32(${need(env, n.axis)})`;
      case 'view': return this.value(n.x, viewEnv(n, env, this.ctx));
      case 'gather': {
        const i = this.value(n.index, env);
        const last = `i32(${this.ctx.size(n.axis)}) - 1i`;
        // out-of-range indices are rejected on the host for input index tensors; clamping keeps others in bounds
        return this.value(n.src, { ...env, [n.axis]: `u32(clamp(${i}, 0i, ${last}))` });
      }
      case 'unary': return this.bind(key, this.unary(n.fn, this.value(n.x, env), computeType(n)), 'v');
      case 'binary': return this.bind(key, this.binary(n.fn, this.value(n.a, env), this.value(n.b, env), computeType(n.a)), 'v');
      case 'select': return this.bind(key, `select(${this.value(n.b, env)}, ${this.value(n.a, env)}, ${this.value(n.cond, env)})`, 'v');
      case 'cast': {
        const c = cast(this.value(n.x, env), computeType(n.x), computeType(n));
        // to i8: saturate, as the interpreter does (a bool is already in range)
        return this.bind(key, n.dtype === 'i8' && n.x.dtype !== 'bool' ? `clamp(${c}, -128i, 127i)` : c, 'v');
      }
      default: fail('LOWERING', `internal: ${n.op} node %${n.id} is neither materialised nor fused into this kernel`);
    }
  }

  private unary(fn: string, x: string, t: string): string {
    switch (fn) {
      case 'neg': return `-(${x})`;
      case 'not': return `!(${x})`;
      case 'rsqrt': return `inverseSqrt(${x})`;
      // tanh(±20) is ±1 in f32; clamping avoids inf/inf in exp-based implementations
      case 'tanh': return `tanh(clamp(${x}, -20.0, 20.0))`;
      case 'abs': return `abs(${x})`;
      case 'round': return t === 'i32' ? x : `round(${x})`;
      default:
        if (t !== 'f32') fail('LOWERING', `internal: ${fn} of ${t}`);
        return `${fn}(${x})`;
    }
  }

  private binary(fn: string, a: string, b: string, t: string): string {
    if (t === 'i32' && (fn === 'div' || fn === 'mod')) {
      const h = fn === 'div' ? '_idiv' : '_imod';
      this.ctx.helper(h);
      return `${h}(${a}, ${b})`;
    }
    if (fn === 'pow') {
      this.ctx.helper('_pow');
      return `_pow(${a}, ${b})`;
    }
    if (fn === 'max' || fn === 'min') return `${fn}(${a}, ${b})`;
    const op = INFIX[fn];
    if (!op) fail('LOWERING', `internal: binary ${fn}`);
    return `(${a} ${op} ${b})`;
  }
}

function cast(x: string, from: string, to: string): string {
  if (from === to) return x;
  if (from === 'bool') return to === 'f32' ? `select(0.0, 1.0, ${x})` : `select(0i, 1i, ${x})`;
  if (to === 'bool') return from === 'f32' ? `(${x} != 0.0)` : `(${x} != 0i)`;
  return `${to}(${x})`;
}

/** The indices of a view's source, given the indices of the view. */
function viewEnv(n: Extract<Node, { op: 'view' }>, env: Env, ctx: Pick<KernelContext, 'size'>): Env {
  const v = n.view;
  switch (v.kind) {
    case 'transpose': return env;
    case 'rename': return { ...env, [v.from]: need(env, v.to) };
    case 'split': {
      let e = need(env, v.into[0]!);
      for (const a of v.into.slice(1)) e = `(${e}) * ${ctx.size(a)} + ${need(env, a)}`;
      return { ...env, [v.axis]: e };
    }
    case 'merge': {
      const out: Record<string, string> = { ...env };
      const i = need(env, v.into);
      let inner = '';
      for (let k = v.from.length - 1; k >= 0; k--) {
        const q = inner ? `(${i}) / (${inner})` : i;
        out[v.from[k]!] = k === 0 ? q : `(${q}) % ${ctx.size(v.from[k]!)}`;
        inner = inner ? `${inner} * ${ctx.size(v.from[k]!)}` : ctx.size(v.from[k]!);
      }
      return out;
    }
  }
}
