/**
 * The kernel IR: the statements and expressions a WGSL kernel body is made of. Emitters build
 * these values instead of text; `render.ts` turns them into WGSL with one table of operators,
 * and `passes.ts` cleans them up (constant folding, alias and dead lets, redundant parentheses).
 * It is the bottom layer (`src/kir` imports nothing), so the lowering's kernels and the
 * runtime's KV-cache kernels (`runtime/kv/kernels.ts`) are built with it alike.
 *
 * Expressions are immutable trees. Names (`v('x')`) are plain strings: the kernel builder hands
 * out every name once (`KernelBuilder.internal` / `fresh`), so a name identifies one variable.
 */

/** The scalar types of literals. */
export type LitType = 'u32' | 'i32' | 'f32' | 'f16' | 'bool';

/** Binary operators, as WGSL spells them. */
export type BinOp = '+' | '-' | '*' | '/' | '%' | '<' | '<=' | '>' | '>=' | '==' | '!=' | '&&' | '||' | '&' | '|' | '<<';

/** Unary operators: negation, logical not, address-of. */
export type UnOp = '-' | '!' | '&';

export type Expr =
  /** a literal; `hex` spells a u32 in hexadecimal (bit patterns) */
  | { readonly k: 'lit'; readonly v: number; readonly ty: LitType; readonly hex?: boolean }
  /** a variable, a buffer, a built-in value */
  | { readonly k: 'name'; readonly name: string }
  | { readonly k: 'field'; readonly x: Expr; readonly field: string }
  | { readonly k: 'bin'; readonly op: BinOp; readonly a: Expr; readonly b: Expr }
  | { readonly k: 'un'; readonly op: UnOp; readonly x: Expr }
  /** a function, built-in or helper call, or a type constructor / conversion (`f32(x)`, `bitcast<i32>(w)`) */
  | { readonly k: 'call'; readonly fn: string; readonly args: readonly Expr[] }
  | { readonly k: 'index'; readonly x: Expr; readonly i: Expr }
  /** explicit parentheses (the renderer adds the ones WGSL's grammar needs by itself) */
  | { readonly k: 'paren'; readonly x: Expr };

/** WGSL types of variables: scalars, fixed-size arrays, atomics. */
export type Ty = 'f32' | 'f16' | 'i32' | 'u32' | 'bool' | { readonly array: Ty; readonly n: number } | { readonly atomic: 'u32' | 'i32' };

/** `array<of, n>`. */
export const arrayOf = (of: Ty, n: number): Ty => ({ array: of, n });

/** Bytes a value of `t` takes in workgroup memory (f16 elements 2, everything else 4 per scalar). */
export function bytesOf(t: Ty): number {
  if (typeof t === 'string') return t === 'f16' ? 2 : 4;
  return 'array' in t ? t.n * bytesOf(t.array) : 4;
}

/** A whole kernel module: what the renderer writes around the entry point's body. */
export interface KernelModule {
  /** comment lines stating what the kernel computes and its schedule */
  header: readonly string[];
  /** extensions: 'f16', 'subgroups' */
  enables: readonly string[];
  /** storage buffers in binding order, each an array of `element` */
  buffers: readonly { name: string; access: 'read' | 'read_write'; element: Ty }[];
  /** u32 sizes passed as one uniform struct `_Sizes`, bound after the buffers as `sizes` */
  uniforms: { fields: readonly string[]; name: string };
  /** module-scope `var<workgroup>` variables */
  workgroup: readonly { name: string; ty: Ty }[];
  /** helper functions, as their WGSL (fixed text: the lowering's `HELPERS` in lower/wgsl.ts) */
  helpers: readonly string[];
  entry: {
    name: string;
    workgroupSize: number;
    /** `@builtin(b) name: type` parameters */
    params: readonly { builtin: string; name: string; ty: string }[];
    body: readonly Stmt[];
  };
}

/** Assignment operators. */
export type AssignOp = '=' | '+=';

export type Stmt =
  | { readonly k: 'let'; readonly name: string; readonly value: Expr }
  /** `var name: ty = value;` (either part optional) */
  | { readonly k: 'var'; readonly name: string; readonly ty?: Ty; readonly value?: Expr }
  | { readonly k: 'assign'; readonly target: Expr; readonly op: AssignOp; readonly value: Expr }
  | { readonly k: 'incr'; readonly target: Expr }
  /** `for (init cond; step) { body }`; `inline` keeps it on one line */
  | { readonly k: 'for'; readonly init: Stmt; readonly cond: Expr; readonly step: Stmt; readonly body: readonly Stmt[]; readonly inline?: boolean }
  /** `if (cond) { then } else { orElse }`; an `orElse` of one `if` is written `else if` */
  | {
      readonly k: 'if';
      readonly cond: Expr;
      readonly then: readonly Stmt[];
      readonly orElse?: readonly Stmt[];
      readonly inline?: boolean;
      readonly note?: string;
    }
  /** `{ body }`: a scope of its own */
  | { readonly k: 'block'; readonly body: readonly Stmt[] }
  /** statements written on one line (unrolled register blocks, `q = x % n; x = x / n;`) */
  | { readonly k: 'line'; readonly body: readonly Stmt[] }
  /** a call for its effect: `workgroupBarrier();`, `atomicAdd(&n, x);` */
  | { readonly k: 'call'; readonly fn: string; readonly args: readonly Expr[] }
  | { readonly k: 'continue' }
  | { readonly k: 'break' }
  | { readonly k: 'return' }
  | { readonly k: 'comment'; readonly text: string };

// ---- expression builders -------------------------------------------------------------

/** A u32 literal. */
export const u = (n: number): Expr => ({ k: 'lit', v: n, ty: 'u32' });
/** A u32 literal written in hexadecimal (a bit pattern). */
export const hex = (n: number): Expr => ({ k: 'lit', v: n, ty: 'u32', hex: true });
/** An i32 literal (the most negative one as `(-2147483647i - 1i)`: its literal would overflow). */
export const int = (n: number): Expr =>
  n === -2147483648 ? par(bin('-', { k: 'lit', v: -2147483647, ty: 'i32' }, { k: 'lit', v: 1, ty: 'i32' })) : { k: 'lit', v: n, ty: 'i32' };
/**
 * An f32 value: a literal (rounded to f32), or for infinities and NaN the bits through the
 * helper `_f32_bits`: WGSL has no literal for them and rejects them in constant expressions.
 */
export function flt(n: number): Expr {
  const x = Math.fround(n);
  if (Number.isNaN(x)) return call('_f32_bits', hex(0x7fc00000));
  if (x === Infinity) return call('_f32_bits', hex(0x7f800000));
  if (x === -Infinity) return call('_f32_bits', hex(0xff800000));
  return { k: 'lit', v: x, ty: 'f32' };
}
/** An f16 literal. */
export const half = (n: number): Expr => ({ k: 'lit', v: n, ty: 'f16' });
/** A bool literal. */
export const bool = (b: boolean): Expr => ({ k: 'lit', v: b ? 1 : 0, ty: 'bool' });
/** A name. */
export const v = (name: string): Expr => ({ k: 'name', name });
export const field = (x: Expr, name: string): Expr => ({ k: 'field', x, field: name });
export const bin = (op: BinOp, a: Expr, b: Expr): Expr => ({ k: 'bin', op, a, b });
export const add = (a: Expr, b: Expr): Expr => bin('+', a, b);
export const sub = (a: Expr, b: Expr): Expr => bin('-', a, b);
export const mul = (a: Expr, b: Expr): Expr => bin('*', a, b);
export const div = (a: Expr, b: Expr): Expr => bin('/', a, b);
export const mod = (a: Expr, b: Expr): Expr => bin('%', a, b);
export const lt = (a: Expr, b: Expr): Expr => bin('<', a, b);
export const ge = (a: Expr, b: Expr): Expr => bin('>=', a, b);
export const gt = (a: Expr, b: Expr): Expr => bin('>', a, b);
export const eq = (a: Expr, b: Expr): Expr => bin('==', a, b);
export const ne = (a: Expr, b: Expr): Expr => bin('!=', a, b);
export const and = (a: Expr, b: Expr): Expr => bin('&&', a, b);
export const or = (a: Expr, b: Expr): Expr => bin('||', a, b);
export const neg = (x: Expr): Expr => ({ k: 'un', op: '-', x });
export const not = (x: Expr): Expr => ({ k: 'un', op: '!', x });
export const addr = (x: Expr): Expr => ({ k: 'un', op: '&', x });
export const call = (fn: string, ...args: Expr[]): Expr => ({ k: 'call', fn, args });
export const index = (x: Expr, i: Expr): Expr => ({ k: 'index', x, i });
export const par = (x: Expr): Expr => ({ k: 'paren', x });
export const min = (a: Expr, b: Expr): Expr => call('min', a, b);
export const exp = (x: Expr): Expr => call('exp', x);
export const log = (x: Expr): Expr => call('log', x);
export const max = (a: Expr, b: Expr): Expr => call('max', a, b);
/** WGSL's `select(ifFalse, ifTrue, cond)`. */
export const select = (ifFalse: Expr, ifTrue: Expr, cond: Expr): Expr => call('select', ifFalse, ifTrue, cond);
/**
 * u32 index arithmetic: `+` and `*` are associative modulo 2³², so a sum or product on the
 * right is re-associated to the left (`x * (a * b)` is built as `x * a * b`), keeping chains
 * flat and free of parentheses. Never for floats, where association changes the result.
 */
export function uadd(a: Expr, b: Expr): Expr {
  if (b.k === 'bin' && (b.op === '+' || b.op === '-')) return bin(b.op, uadd(a, b.a), b.b);
  return add(a, b);
}
export function umul(a: Expr, b: Expr): Expr {
  if (b.k === 'bin' && b.op === '*') return mul(umul(a, b.a), b.b);
  return mul(a, b);
}

/** The left-associated chain `x0 op x1 op …` (u32 index arithmetic), or `empty` for none. */
export const chain = (op: BinOp, xs: readonly Expr[], empty: Expr): Expr => (xs.length ? xs.slice(1).reduce((a, b) => bin(op, a, b), xs[0]!) : empty);
/** `ceil(a / n)` of u32 values as `((a + (n-1)u) / nu)`. */
export const cdiv = (a: Expr, n: number): Expr => div(par(add(a, u(n - 1))), u(n));

// ---- statement builders --------------------------------------------------------------

export const let_ = (name: string, value: Expr): Stmt => ({ k: 'let', name, value });
export const var_ = (name: string, ty?: Ty, value?: Expr): Stmt => ({ k: 'var', name, ...(ty !== undefined ? { ty } : {}), ...(value ? { value } : {}) });
export const set = (target: Expr, value: Expr): Stmt => ({ k: 'assign', target, op: '=', value });
export const inc = (target: Expr, value: Expr): Stmt => ({ k: 'assign', target, op: '+=', value });
export const incr = (target: Expr): Stmt => ({ k: 'incr', target });
export const if_ = (cond: Expr, then: readonly Stmt[], orElse?: readonly Stmt[]): Stmt => ({ k: 'if', cond, then, ...(orElse ? { orElse } : {}) });
export const line = (...body: Stmt[]): Stmt => ({ k: 'line', body });
export const block = (...body: Stmt[]): Stmt => ({ k: 'block', body });
export const callStmt = (fn: string, ...args: Expr[]): Stmt => ({ k: 'call', fn, args });
export const barrier: Stmt = { k: 'call', fn: 'workgroupBarrier', args: [] };
export const comment = (text: string): Stmt => ({ k: 'comment', text });

/**
 * `for (var name[: u32] = from; name < to; name++ | name += step) { body }`: the counting loop
 * every emitter uses. `typed` writes the `: u32` of the loop variable.
 */
export function loop(name: string, from: Expr, to: Expr, body: readonly Stmt[], o: { step?: number | Expr; typed?: boolean; inline?: boolean } = {}): Stmt {
  const n = v(name);
  const step = o.step === undefined || o.step === 1 ? incr(n) : inc(n, typeof o.step === 'number' ? u(o.step) : o.step);
  return { k: 'for', init: var_(name, o.typed ? 'u32' : undefined, from), cond: lt(n, to), step, body, ...(o.inline ? { inline: true } : {}) };
}

/** Nested counting loops over `vars` (outermost first, each `[name, extent]`, typed `u32`) around `body`. */
export function loopNest(vars: readonly (readonly [string, Expr])[], body: readonly Stmt[]): Stmt[] {
  return vars.reduceRight<Stmt[]>((inner, [name, extent]) => [loop(name, u(0), extent, inner, { typed: true })], [...body]);
}

/** A copy of the `if` or `for` statement `s` written on one line. */
export function inline(s: Stmt): Stmt {
  if (s.k !== 'if' && s.k !== 'for') throw new Error(`inline: a ${s.k} statement`);
  return { ...s, inline: true };
}

/** A copy of the `if` statement `s` with a trailing comment. */
export function noted(s: Stmt, note: string): Stmt {
  if (s.k !== 'if') throw new Error(`noted: a ${s.k} statement`);
  return { ...s, note };
}

// ---- traversal -----------------------------------------------------------------------

/** The direct subexpressions of `e`. */
export function operands(e: Expr): readonly Expr[] {
  switch (e.k) {
    case 'lit':
    case 'name':
      return [];
    case 'field':
    case 'un':
    case 'paren':
      return [e.x];
    case 'bin':
      return [e.a, e.b];
    case 'call':
      return e.args;
    case 'index':
      return [e.x, e.i];
  }
}

/** Every name `e` reads. */
export function namesIn(e: Expr, out = new Set<string>()): Set<string> {
  if (e.k === 'name') out.add(e.name);
  for (const x of operands(e)) namesIn(x, out);
  return out;
}

/** Every function `e` calls. */
export function callsIn(e: Expr, out = new Set<string>()): Set<string> {
  if (e.k === 'call') out.add(e.fn);
  for (const x of operands(e)) callsIn(x, out);
  return out;
}

/** The expressions a statement holds directly (not those of nested statements). */
export function exprsOf(s: Stmt): Expr[] {
  switch (s.k) {
    case 'let':
      return [s.value];
    case 'var':
      return s.value ? [s.value] : [];
    case 'assign':
      return [s.target, s.value];
    case 'incr':
      return [s.target];
    case 'for':
      return [s.cond];
    case 'if':
      return [s.cond];
    case 'call':
      return [...s.args];
    default:
      return [];
  }
}

/** The statements a statement nests (a loop's init and step come first). */
export function childStmts(s: Stmt): readonly Stmt[] {
  switch (s.k) {
    case 'for':
      return [s.init, s.step, ...s.body];
    case 'if':
      return [...s.then, ...(s.orElse ?? [])];
    case 'block':
    case 'line':
      return s.body;
    default:
      return [];
  }
}

/** Calls `visit` on every expression of `stmts`, nested statements included. */
export function eachExpr(stmts: readonly Stmt[], visit: (e: Expr) => void): void {
  for (const s of stmts) {
    for (const e of exprsOf(s)) visit(e);
    eachExpr(childStmts(s), visit);
  }
}

/** Rebuilds `e` bottom-up through `f` (which sees each node with its operands already mapped); unchanged subtrees are shared. */
export function mapExpr(e: Expr, f: (e: Expr) => Expr): Expr {
  let out: Expr = e;
  switch (e.k) {
    case 'lit':
    case 'name':
      break;
    case 'field':
    case 'un':
    case 'paren': {
      const x = mapExpr(e.x, f);
      if (x !== e.x) out = { ...e, x };
      break;
    }
    case 'bin': {
      const [a, b] = [mapExpr(e.a, f), mapExpr(e.b, f)];
      if (a !== e.a || b !== e.b) out = { ...e, a, b };
      break;
    }
    case 'call': {
      const args = e.args.map((x) => mapExpr(x, f));
      if (args.some((x, i) => x !== e.args[i])) out = { ...e, args };
      break;
    }
    case 'index': {
      const [x, i] = [mapExpr(e.x, f), mapExpr(e.i, f)];
      if (x !== e.x || i !== e.i) out = { ...e, x, i };
      break;
    }
  }
  return f(out);
}

/** Rebuilds statements with every expression mapped by `f` (bottom-up, see {@link mapExpr}); unchanged statements are shared. */
export function mapStmts(stmts: readonly Stmt[], f: (e: Expr) => Expr): Stmt[] {
  const m = (e: Expr) => mapExpr(e, f);
  const list = (ss: readonly Stmt[]) => {
    const out = mapStmts(ss, f);
    return out.every((x, i) => x === ss[i]) ? ss : out;
  };
  return stmts.map((s): Stmt => {
    switch (s.k) {
      case 'let': {
        const value = m(s.value);
        return value === s.value ? s : { ...s, value };
      }
      case 'var': {
        if (!s.value) return s;
        const value = m(s.value);
        return value === s.value ? s : { ...s, value };
      }
      case 'assign': {
        const [target, value] = [m(s.target), m(s.value)];
        return target === s.target && value === s.value ? s : { ...s, target, value };
      }
      case 'incr': {
        const target = m(s.target);
        return target === s.target ? s : { ...s, target };
      }
      case 'for': {
        const [init, cond, step, body] = [mapStmts([s.init], f)[0]!, m(s.cond), mapStmts([s.step], f)[0]!, list(s.body)];
        return init === s.init && cond === s.cond && step === s.step && body === s.body ? s : { ...s, init, cond, step, body };
      }
      case 'if': {
        const [cond, then, orElse] = [m(s.cond), list(s.then), s.orElse && list(s.orElse)];
        return cond === s.cond && then === s.then && orElse === s.orElse ? s : { ...s, cond, then, ...(orElse ? { orElse } : {}) };
      }
      case 'block':
      case 'line': {
        const body = list(s.body);
        return body === s.body ? s : { ...s, body };
      }
      case 'call': {
        const args = s.args.map(m);
        return args.every((x, i) => x === s.args[i]) ? s : { ...s, args };
      }
      default:
        return s;
    }
  });
}
