/**
 * Scan kernels (`cumsum`): one invocation per row, one pass along the scanned axis. The
 * invocation keeps the running sum in a register and writes every prefix as it goes, so a row
 * of t elements costs t loads, t adds and t stores: O(t), never O(t²). The operand is an
 * inlined expression (a scaled or masked input costs no extra pass), and an elementwise
 * epilogue of the same axes (`cumsum(x).mul(2)`) is applied before each store.
 */
import type { Node } from '../../ir/index.ts';
import type { SizeExpr } from '../../runtime/plan.ts';
import { inc, loop, u, v, var_ } from '../../kir/ir.ts';
import { axisEnv, axisVar, computeType, literal, Scope, type BufferRef } from '../wgsl.ts';
import { WORKGROUP, type KernelBuilder } from './frame.ts';

type Core = Extract<Node, { op: 'scan' }>;

/** The WGSL and dispatch size of a scan kernel computing `root` (around `core`) into `out`. */
export function scanKernel(kb: KernelBuilder, name: string, header: string[], root: Node, core: Core, out: BufferRef) {
  const rowAxes = root.axes.filter((a) => a !== core.axis);
  const env = axisEnv(root.axes);
  const body = kb.decomposeAxes(rowAxes, kb.gid);
  const main = new Scope(kb, kb.counter);
  const accName = kb.internal('acc');
  const acc = v(accName);
  const ty = computeType(core) === 'i32' ? 'i32' : 'f32';
  const t = axisVar(core.axis);
  // the loop body: the next element (row-invariant parts hoisted into `main`), the running sum, the epilogue, the store
  const s = main.child({ hoist: (n) => !n.axes.includes(core.axis), loopVars: [t] });
  const x = s.value(core.x, env);
  const epi = s.child({ override: (n) => (n === core ? acc : undefined) });
  const value = epi.value(root, env);
  const step = loop(t, u(0), kb.size(core.axis), [...s.lines, inc(acc, x), ...epi.lines, kb.store(out, env, value)], { typed: true });
  // main.lines first: the loop hoisted its row-invariant values into it
  body.push(...main.lines, var_(accName, ty, literal(0, ty)), step);
  const total = kb.count(rowAxes);
  const schedule = `schedule: one invocation per row of '${core.axis}', one pass keeping the running sum (${ty}), ${WORKGROUP} per workgroup`;
  const wgsl = kb.module({ name, header: [...header, schedule], out, total, body });
  const workgroups: SizeExpr = ['cdiv', ['*', 1, ...rowAxes], WORKGROUP];
  return { wgsl, workgroups };
}
