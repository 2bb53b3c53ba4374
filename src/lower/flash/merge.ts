/**
 * The split-KV ("flash-decoding") merge kernel: per attention map, combines the splits'
 * partials (a softmax's normalised outputs by their log-sum-exp weights; plain weights'
 * outputs and row sums by adding them), then the sink, the weights' combination of the maps
 * and the epilogue.
 */
import type { Node } from '../../ir/index.ts';
import type { PlanKernel, SizeExpr } from '../../runtime/plan.ts';
import {
  div,
  eq,
  exp,
  flt,
  gt,
  if_,
  inc,
  index,
  inline,
  let_,
  loop,
  max,
  mul,
  ne,
  par,
  select,
  set,
  sub,
  u,
  uadd,
  umul,
  v,
  var_,
  type Expr,
  type Stmt,
} from '../../kir/ir.ts';
import { KernelBuilder } from '../kernels/frame.ts';
import { axisEnv, axisVar, NEG_INF, rowMajor, Scope, type Env } from '../wgsl.ts';
import { named, planKernel, type FlashContext } from './context.ts';
import type { FlashMap } from './match.ts';
import { logSumExp, sinkDenominator } from './softmax-math.ts';
import type { MapPartial } from './steps.ts';

/** What the merge of one map leaves: its statements, its merged output (per element) and, for a softmax, its max and sum. */
interface MergedMap {
  lines: Stmt[];
  o: Expr;
  rowSum?: Expr;
  lse?: Expr;
}

/** The split-KV merge: one invocation per output element, combining each map's splits, then the epilogue. */
export function mergeKernel(ctx: FlashContext, parts: MapPartial[], splitSize: SizeExpr, splitName: string, headerBase: string[]): PlanKernel {
  const m = ctx.match;
  const kb = new KernelBuilder(ctx.staticSizes, ctx.buffers, ctx.axes);
  const I = (w: string) => named(kb, w);
  for (const p of parts) for (const b of [p.o, ...(p.l ? [p.l] : [])]) kb.read(b);
  const Q = kb.count(m.rows);
  const B = kb.count(m.batch);
  const DVn = kb.count(m.vDims);
  const nSp = typeof splitSize === 'number' ? u(splitSize) : kb.size(splitName);
  const [dv, row, bflat, sp] = [I('dv'), I('row'), I('bflat'), I('sp')];
  const body = kb.decompose(
    [
      [bflat, B],
      [row, Q],
      [dv, DVn],
    ],
    kb.gid,
    I('rest'),
  );
  body.push(
    ...kb.decompose(
      m.batch.map((a) => [axisVar(a), kb.size(a)]),
      v(bflat),
      I('brest'),
    ),
  );
  body.push(
    ...kb.decompose(
      m.rows.map((a) => [axisVar(a), kb.size(a)]),
      v(row),
      I('rrest'),
    ),
  );
  body.push(
    ...kb.decompose(
      m.vDims.map((a) => [axisVar(a), kb.size(a)]),
      v(dv),
      I('dvrest'),
    ),
  );
  const env = axisEnv([...m.batch, ...m.rows, ...m.vDims]);
  const rowLin = uadd(umul(par(uadd(umul(v(sp), B), v(bflat))), Q), v(row));
  const main = new Scope(kb, kb.counter);
  const lines: Stmt[] = [];
  const value = new Map<Node, Expr>();
  const merged = m.maps.map((map, k) => {
    const one = (map.kind === 'softmax' ? mergeSoftmax : mergePlain)({
      kb,
      I,
      tag: k === 0 ? '' : `p${k}`,
      map,
      part: parts[k]!,
      main,
      env,
      sp,
      nSp,
      rowLin,
      dv,
      DVn,
    });
    lines.push(...one.lines);
    value.set(map.node, one.o);
    for (const s of map.sums) if (one.rowSum) value.set(s, one.rowSum);
    return one;
  });
  // one invocation per element: nothing to hoist, so the maps' merged values stand for them wherever they are read
  const store: Scope = main.child({ override: (n, e) => (n === m.out ? store.value(m.weights, e) : value.get(n)) });
  const out = store.value(ctx.root, env);
  lines.push(...store.lines, kb.store(ctx.out, env, out));
  let i = 0;
  m.maps.forEach((map, k) => {
    for (const _ of map.lse) lines.push(inline(if_(eq(v(dv), u(0)), [kb.store(ctx.lse[i++]!, env, merged[k]!.lse!)])));
  });
  body.push(...main.lines, ...lines);
  const total = umul(umul(B, Q), DVn);
  const name = `${ctx.name}_merge`;
  const how =
    m.maps.length === 1 && m.maps[0]!.kind === 'softmax'
      ? 'o = sum_i exp(lse_i - max) o_i / sum_i exp(lse_i - max), then the epilogue'
      : `per map, softmax: o = sum_i exp(lse_i - max) o_i / sum_i exp(lse_i - max), plain weights: o = sum_i o_i; then the weights' combination and the epilogue`;
  const header = [...headerBase, `split-KV merge over ${typeof splitSize === 'number' ? splitSize : `'${splitName}'`} splits: ${how}`];
  const outs = [ctx.out, ...ctx.lse];
  const wgsl = kb.module({ name, header, out: outs, total, body });
  return planKernel(kb, name, wgsl, 64, ['cdiv', ['*', 1, ...m.batch, ...m.rows, ...m.vDims], 64], outs);
}

/** What merging one map reads. */
interface MergeArgs {
  kb: KernelBuilder;
  I: (w: string) => string;
  tag: string;
  map: FlashMap;
  part: MapPartial;
  main: Scope;
  env: Env;
  sp: string;
  nSp: Expr;
  rowLin: Expr;
  dv: string;
  DVn: Expr;
}

/** A softmax map: the splits' outputs weighted by exp(lse_i - max), then the sink and 1 / denominator. */
function mergeSoftmax(a: MergeArgs): MergedMap {
  const { I, tag, part, sp, nSp, rowLin } = a;
  const [mx, den, acc, w, l] = [I(`${tag}mx`), I(`${tag}den`), I(`${tag}acc`), I(`${tag}w`), I(`${tag}lse`)];
  const lines: Stmt[] = [
    var_(mx, 'f32', NEG_INF),
    loop(sp, u(0), nSp, [set(v(mx), max(v(mx), index(v(part.l!.ident), rowLin)))], { inline: true }),
    var_(den, undefined, flt(0)),
    var_(acc, undefined, flt(0)),
    loop(sp, u(0), nSp, [
      let_(l, index(v(part.l!.ident), rowLin)),
      inline(
        if_(ne(v(l), NEG_INF), [
          let_(w, exp(sub(v(l), v(mx)))),
          inc(v(den), v(w)),
          inc(v(acc), mul(v(w), index(v(part.o.ident), rowMajor(rowLin, a.DVn, v(a.dv))))),
        ]),
      ),
    ]),
  ];
  let scale: Expr = flt(1);
  let denom: Expr = v(den);
  if (a.map.sink) {
    const sk = a.main.value(a.map.sink, a.env);
    const sink = sinkDenominator({ max: I(`${tag}msink`), scale: I(`${tag}fsink`), denom: I(`${tag}lsink`) }, v(mx), v(den), sk);
    lines.push(...sink.lines);
    [scale, denom] = [sink.scale, sink.denom];
  }
  const o = I(`${tag}o`);
  lines.push(let_(o, select(flt(0), div(mul(v(acc), scale), denom), gt(denom, flt(0)))));
  return { lines, o: v(o), lse: logSumExp(v(mx), v(den)) };
}

/** Plain weights: the splits' raw outputs and row sums add. */
function mergePlain(a: MergeArgs): MergedMap {
  const { I, tag, part, sp, nSp, rowLin } = a;
  const [acc, sum] = [I(`${tag}acc`), I(`${tag}rowsum`)];
  const lines: Stmt[] = [
    var_(acc, undefined, flt(0)),
    ...(part.l ? [var_(sum, undefined, flt(0))] : []),
    loop(sp, u(0), nSp, [
      inc(v(acc), index(v(part.o.ident), rowMajor(rowLin, a.DVn, v(a.dv)))),
      ...(part.l ? [inc(v(sum), index(v(part.l.ident), rowLin))] : []),
    ]),
  ];
  return { lines, o: v(acc), ...(part.l ? { rowSum: v(sum) } : {}) };
}
