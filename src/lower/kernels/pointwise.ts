/**
 * Elementwise kernels: one invocation per output element (copies, views, fused math).
 * An i8 output is packed four elements to a 32-bit word, and one invocation computes and
 * writes one whole word, so no two invocations ever touch the same word (no byte races).
 */
import type { SizeExpr } from '../../runtime/plan.ts';
import { axisVar, Scope, type BufferRef } from '../wgsl.ts';
import { indent, WORKGROUP, type KernelBuilder } from './frame.ts';
import type { Node } from '../../ir/index.ts';

/** The WGSL and dispatch size of an elementwise kernel computing `root` into `out`. */
export function pointwiseKernel(kb: KernelBuilder, name: string, header: string[], root: Node, out: BufferRef) {
  if (out.dtype === 'i8') return packedKernel(kb, name, header, root, out);
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

/** An i8 output: invocation w computes elements 4w .. 4w+3 (row-major) and stores their bytes as word w. */
function packedKernel(kb: KernelBuilder, name: string, header: string[], root: Node, out: BufferRef) {
  const axes = root.axes;
  const env = Object.fromEntries(axes.map((a) => [a, axisVar(a)]));
  const count = kb.count(axes);
  const [word, lin] = [kb.internal('word'), kb.internal('lin')];
  const body = [`var ${word}: u32 = 0u;`];
  for (let e = 0; e < 4; e++) {
    const scope = new Scope(kb, kb.counter);
    const v = scope.value(root, env);
    const inner = [...kb.decompose(axes.map((a) => [axisVar(a), kb.size(a)] as const), lin, kb.internal('rest')), ...scope.lines, `${word} = ${word} | ((u32(${v}) & 0xffu) << ${8 * e}u);`];
    body.push(`{`, ...indent([`let ${lin} = ${kb.gid} * 4u + ${e}u;`, `if (${lin} < ${count}) {`, ...indent(inner, 1), '}'], 1), '}');
  }
  body.push(`${out.ident}[${kb.gid}] = bitcast<i32>(${word});`);
  const total = `((${count} + 3u) / 4u)`;
  const schedule = `schedule: elementwise into packed i8, one invocation per 32-bit word (4 elements, little-endian bytes), ${WORKGROUP} per workgroup`;
  const wgsl = kb.module({ name, header: [...header, schedule], out, total, body });
  const workgroups: SizeExpr = ['cdiv', ['cdiv', ['*', 1, ...axes], 4], WORKGROUP];
  return { wgsl, workgroups };
}
