/**
 * Top-k kernels: one invocation per row, k passes over the ranked axis (O(k·m) for a row of m;
 * k and m are small where it is used, e.g. MoBA's key blocks). Pass j finds the largest entry
 * that ranks after the one pass j-1 found: smaller, or equal at a higher position. Scanning
 * in index order and taking only a strictly larger value keeps ties at the lower position.
 * NaN ranks as -inf (on its bits: compilers may fold `x != x`). Nothing is stored but the
 * previous winner, so the row needs no memory of its own. Past the axis (k > m) a pass finds
 * nothing and stores -1, and the previous winner stays, so every later pass finds nothing too.
 */
import type { Node } from '../../ir/index.ts';
import type { SizeExpr } from '../../runtime/plan.ts';
import { and, call, eq, flt, ge, gt, if_, int, let_, loop, lt, or, select, set, u, v, var_, type Expr } from '../../kir/ir.ts';
import { axisEnv, axisVar, computeType, literal, NEG_INF, Scope, type BufferRef } from '../wgsl.ts';
import { WORKGROUP, type KernelBuilder } from './frame.ts';

type Core = Extract<Node, { op: 'topk' }>;

/** The WGSL and dispatch size of a top-k kernel computing `root` (around `core`) into `out`. */
export function topkKernel(kb: KernelBuilder, name: string, header: string[], root: Node, core: Core, out: BufferRef) {
  const rowAxes = root.axes.filter((a) => a !== core.into);
  const env = axisEnv([...root.axes, core.axis]);
  const body = kb.decomposeAxes(rowAxes, kb.gid);
  const main = new Scope(kb, kb.counter);
  const isInt = computeType(core.x) === 'i32';
  const ty = isInt ? 'i32' : 'f32';
  const [prevV, prevI, bestV, bestI, key] = ['prev_val', 'prev_at', 'best_val', 'best_at', 'key'].map((w) => kb.internal(w)) as [
    string,
    string,
    string,
    string,
    string,
  ];
  const [m, j] = [axisVar(core.axis), axisVar(core.into)];
  const at = call('i32', v(m));
  // one pass: the best entry that ranks after (prev_val, prev_at)
  const s = main.child({ hoist: (n) => !n.axes.includes(core.axis), loopVars: [m, j] });
  const x = s.value(core.x, env);
  const keyOf: Expr = isInt ? x : select(x, NEG_INF, call('_is_nan', x));
  const after = or(lt(v(key), v(prevV)), and(eq(v(key), v(prevV)), gt(at, v(prevI))));
  const better = or(lt(v(bestI), int(0)), gt(v(key), v(bestV)));
  const scan = loop(m, u(0), kb.size(core.axis), [...s.lines, let_(key, keyOf), if_(and(after, better), [set(v(bestV), v(key)), set(v(bestI), at)])], {
    typed: true,
  });
  // the epilogue sees the winner's position, then the next pass starts after it
  const epi = main.child({ override: (n) => (n === core ? v(bestI) : undefined), loopVars: [j] });
  const value = epi.value(root, env);
  const pass = loop(
    j,
    u(0),
    kb.size(core.into),
    [
      var_(bestV, ty, literal(0, ty)),
      var_(bestI, 'i32', int(-1)),
      scan,
      ...epi.lines,
      kb.store(out, env, value),
      // past the axis (k > m) a pass finds nothing and stores -1; the rest must find nothing too
      if_(ge(v(bestI), int(0)), [set(v(prevV), v(bestV)), set(v(prevI), v(bestI))]),
    ],
    { typed: true },
  );
  // the first pass ranks after (+inf or the largest i32, position -1): every entry
  const top = isInt ? literal(2147483647, 'i32') : flt(Infinity);
  body.push(...main.lines, var_(prevV, ty, top), var_(prevI, 'i32', int(-1)), pass);
  const total = kb.count(rowAxes);
  const schedule = `schedule: one invocation per row of '${core.axis}', ${core.k} passes (the next largest each), ${WORKGROUP} per workgroup`;
  const wgsl = kb.module({ name, header: [...header, schedule], out, total, body });
  const workgroups: SizeExpr = ['cdiv', ['*', 1, ...rowAxes], WORKGROUP];
  return { wgsl, workgroups };
}
