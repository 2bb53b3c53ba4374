/**
 * Elementwise kernels: one invocation per output element (copies, views, fused math).
 * An i8 output is packed four elements to a 32-bit word, and one invocation computes and
 * writes one whole word, so no two invocations ever touch the same word (no byte races).
 */
import type { SizeExpr } from '../../runtime/plan.ts';
import { add, bin, block, call, cdiv, hex, if_, index, let_, lt, mul, par, set, u, v, var_, type Stmt } from '../../kir/ir.ts';
import { axisEnv, axisVar, Scope, type BufferRef } from '../wgsl.ts';
import { WORKGROUP, type KernelBuilder } from './frame.ts';
import type { Node } from '../../ir/index.ts';

/** The WGSL and dispatch size of an elementwise kernel computing `root` into `out`. */
export function pointwiseKernel(kb: KernelBuilder, name: string, header: string[], root: Node, out: BufferRef) {
  if (out.dtype === 'i8') return packedKernel(kb, name, header, root, out);
  const axes = root.axes;
  const env = axisEnv(axes);
  const scope = new Scope(kb, kb.counter);
  const body = kb.decomposeAxes(axes, kb.gid);
  const x = scope.value(root, env);
  body.push(...scope.lines, kb.store(out, env, x));
  const total = kb.count(axes);
  const wgsl = kb.module({ name, header: [...header, `schedule: elementwise, one invocation per element, ${WORKGROUP} per workgroup`], out, total, body });
  const workgroups: SizeExpr = ['cdiv', ['*', 1, ...axes], WORKGROUP];
  return { wgsl, workgroups };
}

/** An i8 output: invocation w computes elements 4w .. 4w+3 (row-major) and stores their bytes as word w. */
function packedKernel(kb: KernelBuilder, name: string, header: string[], root: Node, out: BufferRef) {
  const axes = root.axes;
  const env = axisEnv(axes);
  const count = kb.count(axes);
  const [word, lin] = [kb.internal('word'), kb.internal('lin')];
  const body: Stmt[] = [var_(word, 'u32', u(0))];
  for (let e = 0; e < 4; e++) {
    const scope = new Scope(kb, kb.counter);
    const x = scope.value(root, env);
    const byte = bin('<<', par(bin('&', call('u32', x), hex(0xff))), u(8 * e));
    const inner = [
      ...kb.decompose(
        axes.map((a) => [axisVar(a), kb.size(a)] as const),
        v(lin),
        kb.internal('rest'),
      ),
      ...scope.lines,
      set(v(word), bin('|', v(word), par(byte))),
    ];
    body.push(block(let_(lin, add(mul(kb.gid, u(4)), u(e))), if_(lt(v(lin), count), inner)));
  }
  body.push(set(index(v(out.ident), kb.gid), call('bitcast<i32>', v(word))));
  const total = cdiv(count, 4);
  const schedule = `schedule: elementwise into packed i8, one invocation per 32-bit word (4 elements, little-endian bytes), ${WORKGROUP} per workgroup`;
  const wgsl = kb.module({ name, header: [...header, schedule], out, total, body });
  const workgroups: SizeExpr = ['cdiv', ['cdiv', ['*', 1, ...axes], 4], WORKGROUP];
  return { wgsl, workgroups };
}
