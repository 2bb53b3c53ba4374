/**
 * Softmax kernels: one invocation per row, three passes over the row (max, sum,
 * write) recomputing the inlined logits instead of storing them. Entries whose
 * mask is false or whose logit is -inf get weight exactly 0; a row with none left
 * is all zeros; a sink logit joins the max and the denominator only.
 */
import type { Node } from '../../ir/index.ts';
import type { SizeExpr } from '../../runtime/plan.ts';
import { and, div, exp, flt, if_, inc, inline, let_, loop, max, ne, select, set, sub, u, v, var_, type Expr, type Stmt } from '../../kir/ir.ts';
import { axisEnv, axisVar, NEG_INF, Scope, type BufferRef } from '../wgsl.ts';
import { WORKGROUP, type KernelBuilder } from './frame.ts';

type Core = Extract<Node, { op: 'softmax' }>;

/** The WGSL and dispatch size of a softmax kernel computing `root` (around `core`) into `out`. */
export function softmaxKernel(kb: KernelBuilder, name: string, header: string[], root: Node, core: Core, out: BufferRef) {
  const rowAxes = root.axes.filter((a) => a !== core.axis);
  const env = axisEnv(root.axes);
  const body = kb.decomposeAxes(rowAxes, kb.gid);
  const main = new Scope(kb, kb.counter);
  const [mxName, sumName] = [kb.internal('row_max'), kb.internal('row_sum')];
  const [mx, sum] = [v(mxName), v(sumName)];
  const sink = core.sink ? main.value(core.sink, env) : undefined;
  const t = axisVar(core.axis);
  const T = kb.size(core.axis);
  const pass = (use: (x: Expr, live: Expr, s: Scope) => Stmt[]): Stmt => {
    const s = main.child({ hoist: (n) => !n.axes.includes(core.axis), loopVars: [t] });
    const x = s.value(core.x, env);
    const liveExpr = core.mask ? and(s.value(core.mask, env), ne(x, NEG_INF)) : ne(x, NEG_INF);
    const live = kb.internal(`live${kb.counter.n++}`);
    s.lines.push(let_(live, liveExpr));
    const tail = use(x, v(live), s);
    return loop(t, u(0), T, [...s.lines, ...tail], { typed: true });
  };
  const when = (c: Expr, s: Stmt) => inline(if_(c, [s]));
  const maxPass = pass((x, live) => [when(live, set(mx, max(mx, x)))]);
  const sumPass = pass((x, live) => [when(live, inc(sum, exp(sub(x, mx))))]);
  const writePass = pass((x, live, s) => {
    const p = kb.internal(`p${kb.counter.n++}`);
    const lines = [let_(p, select(flt(0), div(exp(sub(x, mx)), sum), live))];
    const epi = s.child({ override: (n) => (n === core ? v(p) : undefined) });
    const value = epi.value(root, env);
    return [...lines, ...epi.lines, kb.store(out, env, value)];
  });
  // main.lines last: the passes hoisted their row-invariant values into it
  body.push(...main.lines, var_(mxName, 'f32', sink ?? NEG_INF), maxPass, var_(sumName, 'f32', sink ? exp(sub(sink, mx)) : flt(0)), sumPass, writePass);
  const total = kb.count(rowAxes);
  const schedule = `schedule: one invocation per row of '${core.axis}', three passes (max, sum, write), ${WORKGROUP} per workgroup`;
  const wgsl = kb.module({ name, header: [...header, schedule], out, total, body });
  const workgroups: SizeExpr = ['cdiv', ['*', 1, ...rowAxes], WORKGROUP];
  return { wgsl, workgroups };
}
