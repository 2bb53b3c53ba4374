/**
 * The online-softmax arithmetic the flash kernels share: a running max m and sum l of
 * exp(x - m) become a log-sum-exp, a sink logit joins the denominator, and a stale max is
 * rescaled. Each is written once here, as kernel IR.
 */
import { add, eq, exp, flt, gt, let_, log, max, mul, select, sub, v, type Expr, type Stmt } from '../../kir/ir.ts';
import { NEG_INF } from '../wgsl.ts';

/**
 * log Σ exp of a row from its running max `m` and sum `l`: -inf for a row with nothing live.
 * @example renderExpr(logSumExp(kir.v('m'), kir.v('l'))) // 'select(_f32_bits(0xff800000u), m + log(l), l > 0.0)'
 */
export const logSumExp = (m: Expr, l: Expr): Expr => select(NEG_INF, add(m, log(l)), gt(l, flt(0)));

/** exp(m - to): the weight of a running max `m` against a new max `to`, 0 where nothing was live (m = -inf). */
export const rescale = (m: Expr, to: Expr): Expr => select(exp(sub(m, to)), flt(0), eq(m, NEG_INF));

/**
 * A sink logit `sk` joins the denominator only: with the combined max `mMax = max(m, sk)`, the
 * row's values are scaled by `f = exp(m - mMax)` and the denominator is `l·f + exp(sk - mMax)`.
 * Returns the statements and the scale and denominator the output is normalised with.
 */
export function sinkDenominator(names: { max: string; scale: string; denom: string }, m: Expr, l: Expr, sk: Expr): { lines: Stmt[]; scale: Expr; denom: Expr } {
  const [mMax, f, d] = [v(names.max), v(names.scale), v(names.denom)];
  return {
    lines: [let_(names.max, max(m, sk)), let_(names.scale, rescale(m, mMax)), let_(names.denom, add(mul(l, f), rescale(sk, mMax)))],
    scale: f,
    denom: d,
  };
}
