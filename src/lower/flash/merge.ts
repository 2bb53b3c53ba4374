/**
 * The split-KV ("flash-decoding") merge kernel: combines the splits' normalised
 * partial outputs by their log-sum-exp weights, then the sink and the epilogue.
 */
import type { PlanKernel, SizeExpr } from '../../runtime/plan.ts';
import {
  div, eq, exp, flt, gt, if_, inc, index, inline, let_, loop, max, mul, ne, par, select, set, sub, u, uadd, umul, v, var_,
  type Expr, type Stmt,
} from '../kir/ir.ts';
import { KernelBuilder } from '../kernels/frame.ts';
import { axisEnv, axisVar, NEG_INF, rowMajor, Scope, type BufferRef } from '../wgsl.ts';
import { named, planKernel, type FlashContext } from './context.ts';
import { logSumExp, sinkDenominator } from './softmax-math.ts';

/** The split-KV merge: one invocation per output element, combining the splits' (o, lse) by their weights. */
export function mergeKernel(ctx: FlashContext, opart: BufferRef, lpart: BufferRef, splitSize: SizeExpr, splitName: string, headerBase: string[]): PlanKernel {
  const m = ctx.match;
  const kb = new KernelBuilder(ctx.staticSizes, ctx.buffers, ctx.axes);
  const I = (w: string) => named(kb, w);
  kb.read(opart);
  kb.read(lpart);
  const Q = kb.count(m.rows);
  const B = kb.count(m.batch);
  const DVn = kb.count(m.vDims);
  const nSp = typeof splitSize === 'number' ? u(splitSize) : kb.size(splitName);
  const [dv, row, bflat, sp, mx, den, acc, w, l] = [I('dv'), I('row'), I('bflat'), I('sp'), I('mx'), I('den'), I('acc'), I('w'), I('lse')];
  const body = kb.decompose([[bflat, B], [row, Q], [dv, DVn]], kb.gid, I('rest'));
  body.push(...kb.decompose(m.batch.map((a) => [axisVar(a), kb.size(a)]), v(bflat), I('brest')));
  body.push(...kb.decompose(m.rows.map((a) => [axisVar(a), kb.size(a)]), v(row), I('rrest')));
  body.push(...kb.decompose(m.vDims.map((a) => [axisVar(a), kb.size(a)]), v(dv), I('dvrest')));
  const env = axisEnv([...m.batch, ...m.rows, ...m.vDims]);
  const rowLin = uadd(umul(par(uadd(umul(v(sp), B), v(bflat))), Q), v(row));
  const main = new Scope(kb, kb.counter);
  const lines: Stmt[] = [
    var_(mx, 'f32', NEG_INF),
    loop(sp, u(0), nSp, [set(v(mx), max(v(mx), index(v(lpart.ident), rowLin)))], { inline: true }),
    var_(den, undefined, flt(0)),
    var_(acc, undefined, flt(0)),
    loop(sp, u(0), nSp, [
      let_(l, index(v(lpart.ident), rowLin)),
      inline(if_(ne(v(l), NEG_INF), [
        let_(w, exp(sub(v(l), v(mx)))),
        inc(v(den), v(w)),
        inc(v(acc), mul(v(w), index(v(opart.ident), rowMajor(rowLin, DVn, v(dv))))),
      ])),
    ]),
  ];
  let scale: Expr = flt(1);
  let denom: Expr = v(den);
  const sinkNode = m.maps[0]!.sink; // split-KV serves one softmax map only
  if (sinkNode) {
    const sk = main.value(sinkNode, env);
    const sink = sinkDenominator({ max: I('msink'), scale: I('fsink'), denom: I('lsink') }, v(mx), v(den), sk);
    lines.push(...sink.lines);
    [scale, denom] = [sink.scale, sink.denom];
  }
  const o = I('o');
  lines.push(let_(o, select(flt(0), div(mul(v(acc), scale), denom), gt(denom, flt(0)))));
  const store = main.child({ override: (n) => (n === m.out ? v(o) : undefined) });
  const value = store.value(ctx.root, env);
  lines.push(...store.lines, kb.store(ctx.out, env, value));
  for (const lb of ctx.lse) lines.push(inline(if_(eq(v(dv), u(0)), [kb.store(lb, env, logSumExp(v(mx), v(den)))])));
  body.push(...main.lines, ...lines);
  const total = umul(umul(B, Q), DVn);
  const name = `${ctx.name}_merge`;
  const header = [...headerBase, `split-KV merge over ${typeof splitSize === 'number' ? splitSize : `'${splitName}'`} splits: o = sum_i exp(lse_i - max) o_i / sum_i exp(lse_i - max), then the epilogue`];
  const outs = [ctx.out, ...ctx.lse];
  const wgsl = kb.module({ name, header, out: outs, total, body });
  return planKernel(kb, name, wgsl, 64, ['cdiv', ['*', 1, ...m.batch, ...m.rows, ...m.vDims], 64], outs);
}
