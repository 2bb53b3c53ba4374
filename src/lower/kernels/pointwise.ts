/** Elementwise kernels: one invocation per output element (copies, views, fused math). */
import type { SizeExpr } from '../../runtime/plan.ts';
import { axisVar, Scope, type BufferRef } from '../wgsl.ts';
import { WORKGROUP, type KernelBuilder } from './frame.ts';
import type { Node } from '../../ir/index.ts';

/** The WGSL and dispatch size of an elementwise kernel computing `root` into `out`. */
export function pointwiseKernel(kb: KernelBuilder, name: string, header: string[], root: Node, out: BufferRef) {
  const axes = root.axes;
  const env = Object.fromEntries(axes.map((a) => [a, axisVar(a)]));
  const scope = new Scope(kb, kb.counter);
  const body = kb.decomposeAxes(axes, kb.gid);
  const v = scope.value(root, env);
  body.push(...scope.lines, kb.store(out, env, v));
  const total = kb.count(axes);
  const wgsl = kb.module({ name, header: [...header, `schedule: elementwise, one invocation per element, ${WORKGROUP} per workgroup`], out, total, body });
  const workgroups: SizeExpr = ['cdiv', ['*', 1, ...axes], WORKGROUP];
  return { wgsl, workgroups };
}
