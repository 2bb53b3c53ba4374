/**
 * Size expressions of an {@link ExecPlan}, evaluated at dispatch time. Errors name the
 * size and the plan, since a caller who gets one usually passed the wrong `dims`.
 */
import { EinattnError } from '../errors.ts';
import { own } from './own.ts';
import type { ExecPlan, SizeExpr } from './plan.ts';

/** Concrete values of named sizes. */
export type SizeMap = Record<string, number>;

/**
 * Renders a size expression as text for messages.
 * @example formatSizeExpr(['cdiv', 't', 64]) // 'cdiv(t, 64)'
 */
export function formatSizeExpr(expr: SizeExpr): string {
  if (typeof expr === 'number' || typeof expr === 'string') return String(expr);
  const [op, ...args] = expr;
  if (op === '*' || op === '+') return args.length === 0 ? (op === '*' ? '1' : '0') : `(${args.map(formatSizeExpr).join(` ${op} `)})`;
  return `${op}(${args.map(formatSizeExpr).join(', ')})`;
}

/**
 * Evaluates a size expression; an unknown size name is BAD_SIZE.
 * @example evalSize(['*', 'g', ['cdiv', 't', 64]], { g: 2, t: 100 }) // 4
 */
export function evalSize(expr: SizeExpr, sizes: SizeMap): number {
  if (typeof expr === 'number') {
    if (!Number.isSafeInteger(expr)) throw new EinattnError('BAD_SIZE', `size constant ${expr} is not an integer`);
    return expr;
  }
  if (typeof expr === 'string') {
    const v = own(sizes, expr);
    if (v === undefined) {
      const known = Object.keys(sizes);
      throw new EinattnError('BAD_SIZE', `unknown size '${expr}' (known sizes: ${known.length ? known.join(', ') : 'none'})`);
    }
    return v;
  }
  if (!Array.isArray(expr)) throw new EinattnError('BAD_SIZE', `malformed size expression ${JSON.stringify(expr)}`);
  const [op, ...args] = expr;
  const vals = args.map((a) => evalSize(a, sizes));
  let r: number;
  switch (op) {
    case '*':
      r = vals.reduce((a, b) => a * b, 1);
      break;
    case '+':
      r = vals.reduce((a, b) => a + b, 0);
      break;
    case 'cdiv':
    case 'div': {
      if (vals.length !== 2) throw new EinattnError('BAD_SIZE', `${op} takes 2 arguments: ${formatSizeExpr(expr)}`);
      const [a, b] = vals;
      if (b === 0) throw new EinattnError('BAD_SIZE', `division by zero in ${formatSizeExpr(expr)} with ${describeSizes(expr, sizes)}`);
      r = op === 'cdiv' ? Math.ceil(a / b) : Math.floor(a / b);
      break;
    }
    case 'min':
    case 'max':
      if (vals.length !== 2) throw new EinattnError('BAD_SIZE', `${op} takes 2 arguments: ${formatSizeExpr(expr)}`);
      r = op === 'min' ? Math.min(vals[0], vals[1]) : Math.max(vals[0], vals[1]);
      break;
    default:
      throw new EinattnError('BAD_SIZE', `unknown size operation '${String(op)}' in ${JSON.stringify(expr)}`);
  }
  if (!Number.isSafeInteger(r)) throw new EinattnError('BAD_SIZE', `${formatSizeExpr(expr)} = ${r} is not a safe integer (${describeSizes(expr, sizes)})`);
  return r;
}

function namesIn(expr: SizeExpr, out = new Set<string>()): Set<string> {
  if (typeof expr === 'string') out.add(expr);
  else if (Array.isArray(expr)) for (const a of expr.slice(1) as SizeExpr[]) namesIn(a, out);
  return out;
}

function describeSizes(expr: SizeExpr, sizes: SizeMap): string {
  const parts = [...namesIn(expr)].map((n) => `${n}=${Object.hasOwn(sizes, n) ? sizes[n] : '?'}`);
  return parts.length ? parts.join(', ') : 'no named sizes';
}

/**
 * Checks `dims` against a plan (BAD_SIZE, SIZE_CONFLICT) and returns all its sizes: static, dynamic, derived.
 * @example bindSizes(compile(graph('scores', { o: einsum('s d, t d -> s t', input('q', 's d'), input('k', 't d')) }, { sizes: { d: 64 } })).plan, { s: 128, t: 128 }) // { d: 64, s: 128, t: 128 }
 */
export function bindSizes(plan: ExecPlan, dims: Record<string, number>): SizeMap {
  if (dims === null || typeof dims !== 'object' || Array.isArray(dims)) {
    throw new EinattnError(
      'BAD_SIZE',
      `plan '${plan.name}' needs sizes as an object like { ${plan.dynamicSizes.map((s) => `${s}: …`).join(', ')} }, got ${dims === null ? 'null' : Array.isArray(dims) ? 'an array' : typeof dims}`,
    );
  }
  const dynamic = new Set(plan.dynamicSizes);
  const derived = new Set(plan.derivedSizes.map((d) => d.name));
  const knownList = () =>
    `plan '${plan.name}' takes sizes: ${plan.dynamicSizes.length ? plan.dynamicSizes.join(', ') : 'none'}` +
    (Object.keys(plan.staticSizes).length
      ? `; static: ${Object.entries(plan.staticSizes)
          .map(([k, v]) => `${k}=${v}`)
          .join(', ')}`
      : '');

  const sizes: SizeMap = { ...plan.staticSizes };
  for (const [name, value] of Object.entries(dims)) {
    if (!dynamic.has(name) && !Object.hasOwn(plan.staticSizes, name) && !derived.has(name)) {
      throw new EinattnError('BAD_SIZE', `unknown size '${name}' (${knownList()})`);
    }
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new EinattnError(
        'BAD_SIZE',
        `size '${name}' must be a positive integer, got ${typeof value === 'number' ? value : `${typeof value} ${JSON.stringify(value)}`}`,
      );
    }
    if (Object.hasOwn(plan.staticSizes, name) && plan.staticSizes[name] !== value) {
      throw new EinattnError('SIZE_CONFLICT', `size '${name}' was fixed to ${plan.staticSizes[name]} when plan '${plan.name}' was generated, got ${value}`);
    }
  }
  const missing = plan.dynamicSizes.filter((s) => !Object.hasOwn(dims, s));
  if (missing.length) {
    throw new EinattnError('BAD_SIZE', `missing size${missing.length > 1 ? 's' : ''} ${missing.map((m) => `'${m}'`).join(', ')} (${knownList()})`);
  }
  for (const s of plan.dynamicSizes) sizes[s] = dims[s];
  for (const { name, expr } of plan.derivedSizes) {
    const v = evalSize(expr, sizes);
    if (v < 0) throw new EinattnError('BAD_SIZE', `derived size '${name}' = ${formatSizeExpr(expr)} = ${v} is negative (${describeSizes(expr, sizes)})`);
    // A caller may pass a derived size too, as a check of its own arithmetic.
    if (Object.hasOwn(dims, name) && dims[name] !== v) {
      throw new EinattnError(
        'SIZE_CONFLICT',
        `size '${name}' is derived as ${formatSizeExpr(expr)} = ${v} (${describeSizes(expr, sizes)}), but ${dims[name]} was given`,
      );
    }
    sizes[name] = v;
  }
  for (const { lhs, rhs, what } of plan.constraints) {
    const l = evalSize(lhs, sizes);
    const r = evalSize(rhs, sizes);
    if (l !== r) {
      throw new EinattnError(
        'SIZE_CONFLICT',
        `${what}: ${formatSizeExpr(lhs)} = ${l} but ${formatSizeExpr(rhs)} = ${r} (${describeSizes(['+', lhs, rhs], sizes)})`,
      );
    }
  }
  return sizes;
}
