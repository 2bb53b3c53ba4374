/**
 * The block-mask kernel (FlexAttention's block mask): a code per (row block, KV tile)
 * saying whether the mask leaves it empty, partial or full, computed by evaluating
 * the mask exactly per element, so skipping never changes the meaning.
 */
import type { PlanKernel, SizeExpr } from '../../runtime/plan.ts';
import { indent, KernelBuilder } from '../kernels/frame.ts';
import { axisVar, Scope, type BufferRef, type Env } from '../wgsl.ts';
import { BLOCK_EMPTY, BLOCK_FULL, BLOCK_PARTIAL, named, planKernel, type FlashContext } from './context.ts';
import { keyEnd } from './length.ts';

/** The block-mask kernel: one invocation per (mask batch, row block, KV tile), the mask evaluated exactly per element. */
export function blockMaskKernel(ctx: FlashContext, blocks: BufferRef, maskBatch: string[], BR: number, TK: number, nRowBlocks: SizeExpr, nTiles: SizeExpr, headerBase: string[]): PlanKernel {
  const m = ctx.match;
  const t = m.kv;
  const kb = new KernelBuilder(ctx.staticSizes, ctx.buffers, ctx.axes);
  const I = (w: string) => named(kb, w);
  const Q = kb.count(m.rows);
  const T = kb.size(t);
  const nRB = `((${Q} + ${BR - 1}u) / ${BR}u)`;
  const nT = `((${T} + ${TK - 1}u) / ${TK}u)`;
  const [tile, rblk, i, j, row, any, all] = [I('tile'), I('rblk'), I('i'), I('j'), I('row'), I('any'), I('all')];
  const body = kb.decompose([...maskBatch.map((a) => [axisVar(a), kb.size(a)] as [string, string]), [rblk, nRB], [tile, nT]], kb.gid, I('rest'));
  const rowVars = m.rows.map((a) => axisVar(a));
  const main = new Scope(kb, kb.counter);
  const inner = main.child({ hoist: (n) => !n.axes.includes(t) && !n.axes.some((a) => m.rows.includes(a)) });
  const env: Env = { ...Object.fromEntries(maskBatch.map((a) => [a, axisVar(a)])), ...Object.fromEntries(m.rows.map((a) => [a, axisVar(a)])), [t]: axisVar(t) };
  const mv = inner.value(m.softmax.mask!, env);
  // keys at or past the declared length are masked (the mask says so), and nothing there is read
  const end = m.length ? I('tend') : undefined;
  const endLine = m.length && end ? keyEnd(main, m.length, env, T, end) : undefined;
  body.push(
    ...main.lines,
    ...(endLine ? [endLine] : []),
    `var ${any} = false;`,
    `var ${all} = true;`,
    `for (var ${i} = 0u; ${i} < ${BR}u; ${i}++) {`,
    `  let ${row} = ${rblk} * ${BR}u + ${i};`,
    `  if (${row} >= ${Q}) { break; }`,
    ...indent(kb.decompose(m.rows.map((a, k) => [rowVars[k]!, kb.size(a)]), row, I('rrest')), 1),
    `  for (var ${j} = 0u; ${j} < ${TK}u; ${j}++) {`,
    `    let ${axisVar(t)} = ${tile} * ${TK}u + ${j};`,
    `    if (${axisVar(t)} >= ${T}) { break; }`,
    ...(endLine ? [`    if (${axisVar(t)} >= ${end}) { ${all} = false; break; }`] : []),
    ...indent([...inner.lines, `${any} = ${any} || ${mv};`, `${all} = ${all} && ${mv};`], 2),
    '  }',
    `  if (${any} && !${all}) { break; }`,
    '}',
    `${blocks.ident}[${kb.gid}] = select(select(${BLOCK_PARTIAL}i, ${BLOCK_FULL}i, ${all}), ${BLOCK_EMPTY}i, !${any});`,
  );
  const total = [...maskBatch.map((a) => kb.size(a)), nRB, nT].join(' * ');
  const name = `${ctx.name}_blocks`;
  const header = [...headerBase, `block mask: code per (${[...maskBatch, `${BR} rows`, `${TK} keys of '${t}'`].join(', ')}): ${BLOCK_EMPTY} empty, ${BLOCK_PARTIAL} partial, ${BLOCK_FULL} full; the mask is evaluated exactly per element, so its meaning never depends on the tiling`];
  const wgsl = kb.module({ name, header, out: blocks, total, body });
  const count: SizeExpr = ['*', 1, ...maskBatch, nRowBlocks, nTiles];
  return planKernel(kb, name, wgsl, 64, ['cdiv', count, 64], [blocks]);
}
