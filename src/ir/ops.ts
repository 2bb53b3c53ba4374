/**
 * The elementwise and reduction ops, one record each: how the graph constructors type it, the
 * interpreter's float64 rule, the WGSL rule, how printers write it and what the cost model
 * counts. The tables are typed `Record<UnaryFn, UnaryOp>` (and the same for binary and reduce
 * ops), so TypeScript refuses an op without a complete record: a new op cannot type-check and
 * then fail in the interpreter or the shader compiler.
 *
 * The records live in the IR, the lowest layer that names the ops. The interpreter and the
 * lowering read different fields and still share no code: a WGSL rule builds its expression
 * through the {@link WgslBuilder} the lowering passes in, over the lowering's own kernel IR.
 */
import type { BinaryFn, ReduceFn, UnaryFn } from './node.ts';

/** The infix operators a WGSL rule may use. */
export type WgslInfix = '+' | '-' | '*' | '/' | '<' | '<=' | '>' | '>=' | '==' | '!=' | '&&' | '||';

/** What a WGSL rule may build; the lowering implements it over its kernel IR. */
export interface WgslBuilder<E> {
  /** a built-in or helper function call: `exp(x)`, `_pow(a, b)` */
  call(fn: string, ...args: E[]): E;
  /** `(a op b)` */
  infix(op: WgslInfix, a: E, b: E): E;
  /** `-(x)`, `!(x)` */
  prefix(op: '-' | '!', x: E): E;
  /** an f32 literal */
  f32(value: number): E;
}

/** One unary op. */
export interface UnaryOp {
  /** the interpreter's float64 rule; `int`: the operand is i32 (results wrap as WGSL's do) */
  interp(x: number, int: boolean): number;
  /** the WGSL of the op on `x`, computed in i32 when `int`, else f32 */
  wgsl<E>(w: WgslBuilder<E>, x: E, int: boolean): E;
  /** how printers write it: `-x` with a prefix, else `name(x)` */
  print: { prefix?: string };
  /** FLOPs per element, as the cost model counts them */
  flops: number;
  /** operand and result types: 'bool' (not), 'keeps-int' (an i32 operand stays i32), 'float' (computed in f32) */
  types: 'bool' | 'keeps-int' | 'float';
}

/** One binary op. */
export interface BinaryOp {
  interp(a: number, b: number, int: boolean): number;
  wgsl<E>(w: WgslBuilder<E>, a: E, b: E, int: boolean): E;
  /** how printers write it: `a + b` with an infix symbol, else `name(a, b)` */
  print: { infix?: string };
  flops: number;
  /**
   * 'arith': operands share a numeric dtype, the result has it; 'compare': the result is bool;
   * 'logic': bool operands and result; 'int': i32 only (mod); 'float': computed in f32 (pow)
   */
  types: 'arith' | 'compare' | 'logic' | 'int' | 'float';
}

/** One reduction over named axes. */
export interface ReduceOp {
  /** the interpreter's rule: the reduction of the values of one output element, in index order */
  interp(values: readonly number[]): number;
  /**
   * how a contraction kernel accumulates it: 'sum' (`acc += x` from 0), 'max' (from the lowest
   * value, NaN propagating as the interpreter's max does), 'logsumexp' (a running max and a sum
   * of exp(x - max) beside it, in one pass)
   */
  wgsl: 'sum' | 'max' | 'logsumexp';
  print: { name: string };
  /** FLOPs per input element */
  flops: number;
}

const I32_MIN = -2147483648;
const wrap = (x: number): number => x | 0;

/** Round half to even (WGSL's `round`); JavaScript's Math.round rounds half up. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** A float function of one operand, written `fn(x)` in WGSL and by the printers. */
const fn1 = (name: string, interp: (x: number) => number): UnaryOp => ({
  interp,
  wgsl: (w, x) => w.call(name, x),
  print: {},
  flops: 1,
  types: 'float',
});

export const UNARY: Readonly<Record<UnaryFn, UnaryOp>> = {
  neg: { interp: (x, int) => (int ? wrap(-x) : -x), wgsl: (w, x) => w.prefix('-', x), print: { prefix: '-' }, flops: 1, types: 'keeps-int' },
  not: { interp: (x) => (x ? 0 : 1), wgsl: (w, x) => w.prefix('!', x), print: {}, flops: 1, types: 'bool' },
  abs: { interp: (x, int) => (int ? wrap(Math.abs(x)) : Math.abs(x)), wgsl: (w, x) => w.call('abs', x), print: {}, flops: 1, types: 'keeps-int' },
  round: { interp: roundHalfEven, wgsl: (w, x, int) => (int ? x : w.call('round', x)), print: {}, flops: 1, types: 'keeps-int' },
  exp: fn1('exp', Math.exp),
  log: fn1('log', Math.log),
  sqrt: fn1('sqrt', Math.sqrt),
  sin: fn1('sin', Math.sin),
  cos: fn1('cos', Math.cos),
  rsqrt: { ...fn1('inverseSqrt', (x) => 1 / Math.sqrt(x)) },
  // tanh(±20) is ±1 in f32; clamping avoids inf/inf in exp-based implementations
  tanh: { ...fn1('tanh', Math.tanh), wgsl: (w, x) => w.call('tanh', w.call('clamp', x, w.f32(-20), w.f32(20))) },
  // exp of -|x| only (never overflows): e / (1 + e) below 0, 1 / (1 + e) above; the helper is the lowering's
  sigmoid: { interp: sigmoid, wgsl: (w, x) => w.call('_sigmoid', x), print: {}, flops: 3, types: 'float' },
  // alpha 1; the unused exp of a large x is discarded by the select, NaN propagates through exp
  elu: {
    interp: (x) => (x > 0 ? x : Math.expm1(x)),
    wgsl: (w, x) => w.call('select', w.infix('-', w.call('exp', x), w.f32(1)), x, w.infix('>', x, w.f32(0))),
    print: {},
    flops: 2,
    types: 'float',
  },
  floor: { interp: (x, int) => (int ? x : Math.floor(x)), wgsl: (w, x, int) => (int ? x : w.call('floor', x)), print: {}, flops: 1, types: 'keeps-int' },
};

/** 1 / (1 + e^-x) with e^-|x| only, so neither side overflows. */
function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/** An infix arithmetic op: the same symbol in WGSL and in the printers. */
const infix = (op: WgslInfix, interp: (a: number, b: number, int: boolean) => number, types: BinaryOp['types'] = 'arith'): BinaryOp => ({
  interp,
  wgsl: (w, a, b) => w.infix(op, a, b),
  print: { infix: op },
  flops: 1,
  types,
});
const compare = (op: WgslInfix, f: (a: number, b: number) => boolean): BinaryOp => infix(op, (a, b) => +f(a, b), 'compare');

export const BINARY: Readonly<Record<BinaryFn, BinaryOp>> = {
  add: infix('+', (a, b, int) => (int ? wrap(a + b) : a + b)),
  sub: infix('-', (a, b, int) => (int ? wrap(a - b) : a - b)),
  mul: infix('*', (a, b, int) => (int ? Math.imul(a, b) : a * b)),
  // WGSL: integer division by zero, and INT_MIN / -1, give the dividend; the helper spells it out
  div: {
    ...infix('/', (a, b, int) => (!int ? a / b : b === 0 || (a === I32_MIN && b === -1) ? a : wrap(Math.trunc(a / b)))),
    wgsl: (w, a, b, int) => (int ? w.call('_idiv', a, b) : w.infix('/', a, b)),
  },
  // WGSL: the remainder has the sign of the dividend; by zero it is 0
  mod: {
    interp: (a, b) => (b === 0 || (a === I32_MIN && b === -1) ? 0 : wrap(a % b)),
    wgsl: (w, a, b) => w.call('_imod', a, b),
    print: { infix: '%' },
    flops: 1,
    types: 'int',
  },
  // WGSL's pow is undefined for x < 0; the helper follows Math.pow for integer exponents
  pow: { interp: Math.pow, wgsl: (w, a, b) => w.call('_pow', a, b), print: {}, flops: 1, types: 'float' },
  max: { interp: (a, b) => Math.max(a, b), wgsl: (w, a, b) => w.call('max', a, b), print: {}, flops: 1, types: 'arith' },
  min: { interp: (a, b) => Math.min(a, b), wgsl: (w, a, b) => w.call('min', a, b), print: {}, flops: 1, types: 'arith' },
  lt: compare('<', (a, b) => a < b),
  le: compare('<=', (a, b) => a <= b),
  gt: compare('>', (a, b) => a > b),
  ge: compare('>=', (a, b) => a >= b),
  eq: compare('==', (a, b) => a === b),
  ne: compare('!=', (a, b) => a !== b),
  and: infix('&&', (a, b) => +(a !== 0 && b !== 0), 'logic'),
  or: infix('||', (a, b) => +(a !== 0 || b !== 0), 'logic'),
};

export const REDUCE: Readonly<Record<ReduceFn, ReduceOp>> = {
  sum: { interp: (xs) => xs.reduce((s, x) => s + x, 0), wgsl: 'sum', print: { name: 'sum' }, flops: 1 },
  max: {
    interp: (xs) => xs.reduce((m, x) => (Number.isNaN(x) || Number.isNaN(m) ? NaN : Math.max(m, x)), -Infinity),
    wgsl: 'max',
    print: { name: 'max' },
    flops: 1,
  },
  // two plain passes: the max, then log Σ exp(x - max) + max; over only -inf it is -inf
  logsumexp: {
    interp: (xs) => {
      const m = xs.reduce((a, x) => Math.max(a, x), -Infinity);
      if (m === -Infinity || m === Infinity) return m;
      return m + Math.log(xs.reduce((s, x) => s + Math.exp(x - m), 0));
    },
    wgsl: 'logsumexp',
    print: { name: 'logsumexp' },
    flops: 1,
  },
};
