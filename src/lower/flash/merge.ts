/**
 * The split-KV ("flash-decoding") merge kernel: combines the splits' normalised
 * partial outputs by their log-sum-exp weights, then the sink and the epilogue.
 */
import type { PlanKernel, SizeExpr } from '../../runtime/plan.ts';
import { KernelBuilder } from '../kernels/frame.ts';
import { axisVar, NEG_INF, Scope, type BufferRef, type Env } from '../wgsl.ts';
import { named, planKernel, type FlashContext } from './context.ts';

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
  const nSp = typeof splitSize === 'number' ? `${splitSize}u` : kb.size(splitName);
  const [dv, row, bflat, sp, mx, den, acc, w, l] = [I('dv'), I('row'), I('bflat'), I('sp'), I('mx'), I('den'), I('acc'), I('w'), I('lse')];
  const body = kb.decompose([[bflat, B], [row, Q], [dv, DVn]], kb.gid, I('rest'));
  body.push(...kb.decompose(m.batch.map((a) => [axisVar(a), kb.size(a)]), bflat, I('brest')));
  body.push(...kb.decompose(m.rows.map((a) => [axisVar(a), kb.size(a)]), row, I('rrest')));
  body.push(...kb.decompose(m.vDims.map((a) => [axisVar(a), kb.size(a)]), dv, I('dvrest')));
  const env: Env = Object.fromEntries([...m.batch, ...m.rows, ...m.vDims].map((a) => [a, axisVar(a)]));
  const rowLin = `(${sp} * ${B} + ${bflat}) * ${Q} + ${row}`;
  const main = new Scope(kb, kb.counter);
  const lines = [
    `var ${mx}: f32 = ${NEG_INF};`,
    `for (var ${sp} = 0u; ${sp} < ${nSp}; ${sp}++) { ${mx} = max(${mx}, ${lpart.ident}[${rowLin}]); }`,
    `var ${den} = 0.0;`,
    `var ${acc} = 0.0;`,
    `for (var ${sp} = 0u; ${sp} < ${nSp}; ${sp}++) {`,
    `  let ${l} = ${lpart.ident}[${rowLin}];`,
    `  if (${l} != ${NEG_INF}) { let ${w} = exp(${l} - ${mx}); ${den} += ${w}; ${acc} += ${w} * ${opart.ident}[(${rowLin}) * ${DVn} + ${dv}]; }`,
    '}',
  ];
  let scale = '1.0';
  let denom = den;
  if (m.softmax.sink) {
    const sk = main.value(m.softmax.sink, env);
    const [m2, f, ln] = [I('msink'), I('fsink'), I('lsink')];
    lines.push(
      `let ${m2} = max(${mx}, ${sk});`,
      `let ${f} = select(exp(${mx} - ${m2}), 0.0, ${mx} == ${NEG_INF});`,
      `let ${ln} = ${den} * ${f} + select(exp(${sk} - ${m2}), 0.0, ${sk} == ${NEG_INF});`,
    );
    scale = f;
    denom = ln;
  }
  const o = I('o');
  lines.push(`let ${o} = select(0.0, ${acc} * ${scale} / ${denom}, ${denom} > 0.0);`);
  const store = main.child({ override: (n) => (n === m.out ? o : undefined) });
  const v = store.value(ctx.root, env);
  lines.push(...store.lines, kb.store(ctx.out, env, v));
  for (const lb of ctx.lse) lines.push(`if (${dv} == 0u) { ${kb.store(lb, env, `select(${NEG_INF}, ${mx} + log(${den}), ${den} > 0.0)`)} }`);
  body.push(...main.lines, ...lines);
  const total = `${B} * ${Q} * ${DVn}`;
  const name = `${ctx.name}_merge`;
  const header = [...headerBase, `split-KV merge over ${typeof splitSize === 'number' ? splitSize : `'${splitName}'`} splits: o = sum_i exp(lse_i - max) o_i / sum_i exp(lse_i - max), then the epilogue`];
  const outs = [ctx.out, ...ctx.lse];
  const wgsl = kb.module({ name, header, out: outs, total, body });
  return planKernel(kb, name, wgsl, 64, ['cdiv', ['*', 1, ...m.batch, ...m.rows, ...m.vDims], 64], outs);
}
