/**
 * The block-mask kernel (FlexAttention's block mask): a code per (row block, KV tile)
 * saying whether the mask leaves it empty, partial or full, computed by evaluating
 * the mask exactly per element, so skipping never changes the meaning.
 */
import type { PlanKernel, SizeExpr } from '../../runtime/plan.ts';
import { add, and, bool, cdiv, chain, ge, if_, index, inline, int, let_, loop, mul, not, or, select, set, u, v, var_, type Expr } from '../../kir/ir.ts';
import { KernelBuilder } from '../kernels/frame.ts';
import { axisEnv, axisVar, Scope, type BufferRef } from '../wgsl.ts';
import { BLOCK_EMPTY, BLOCK_FULL, BLOCK_PARTIAL, named, planKernel, type FlashContext } from './context.ts';
import { keyEnd } from './length.ts';

/** The block-mask kernel: one invocation per (mask batch, row block, KV tile), the mask evaluated exactly per element. */
export function blockMaskKernel(
  ctx: FlashContext,
  blocks: BufferRef,
  maskBatch: string[],
  BR: number,
  TK: number,
  nRowBlocks: SizeExpr,
  nTiles: SizeExpr,
  headerBase: string[],
): PlanKernel {
  const m = ctx.match;
  const t = m.kv;
  const kb = new KernelBuilder(ctx.staticSizes, ctx.buffers, ctx.axes);
  const I = (w: string) => named(kb, w);
  const Q = kb.count(m.rows);
  const T = kb.size(t);
  const nRB = cdiv(Q, BR);
  const nT = cdiv(T, TK);
  const [tile, rblk, i, j, row, any, all] = [I('tile'), I('rblk'), I('i'), I('j'), I('row'), I('any'), I('all')];
  const body = kb.decompose([...maskBatch.map((a) => [axisVar(a), kb.size(a)] as [string, Expr]), [rblk, nRB], [tile, nT]], kb.gid, I('rest'));
  const main = new Scope(kb, kb.counter);
  const inner = main.child({ hoist: (n) => !n.axes.includes(t) && !n.axes.some((a) => m.rows.includes(a)) });
  const env = { ...axisEnv(maskBatch), ...axisEnv(m.rows), [t]: v(axisVar(t)) };
  // several masks (one per attention map): a key is live where any is true, and a tile full where all are
  const mvs = m.masks.map((x) => inner.value(x, env));
  const [anyOf, allOf] = [mvs.slice(1).reduce((a, b) => or(a, b), mvs[0]!), mvs.slice(1).reduce((a, b) => and(a, b), mvs[0]!)];
  // keys at or past the declared length are masked (the mask says so), and nothing there is read
  const end = m.length ? I('tend') : undefined;
  const endLine = m.length && end ? keyEnd(main, m.length, env, T, end) : undefined;
  const key = v(axisVar(t));
  body.push(
    ...main.lines,
    ...(endLine ? [endLine] : []),
    var_(any, undefined, bool(false)),
    var_(all, undefined, bool(true)),
    loop(i, u(0), u(BR), [
      let_(row, add(mul(v(rblk), u(BR)), v(i))),
      inline(if_(ge(v(row), Q), [{ k: 'break' }])),
      ...kb.decompose(
        m.rows.map((a) => [axisVar(a), kb.size(a)]),
        v(row),
        I('rrest'),
      ),
      loop(j, u(0), u(TK), [
        let_(axisVar(t), add(mul(v(tile), u(TK)), v(j))),
        inline(if_(ge(key, T), [{ k: 'break' }])),
        ...(endLine && end ? [inline(if_(ge(key, v(end)), [set(v(all), bool(false)), { k: 'break' }]))] : []),
        ...inner.lines,
        set(v(any), or(v(any), anyOf)),
        set(v(all), and(v(all), allOf)),
      ]),
      inline(if_(and(v(any), not(v(all))), [{ k: 'break' }])),
    ]),
    set(index(v(blocks.ident), kb.gid), select(select(int(BLOCK_PARTIAL), int(BLOCK_FULL), v(all)), int(BLOCK_EMPTY), not(v(any)))),
  );
  const total = chain('*', [...maskBatch.map((a) => kb.size(a)), nRB, nT], u(1));
  const name = `${ctx.name}_blocks`;
  const header = [
    ...headerBase,
    `block mask: code per (${[...maskBatch, `${BR} rows`, `${TK} keys of '${t}'`].join(', ')}): ${BLOCK_EMPTY} empty, ${BLOCK_PARTIAL} partial, ${BLOCK_FULL} full; the mask is evaluated exactly per element, so its meaning never depends on the tiling`,
  ];
  const wgsl = kb.module({ name, header, out: blocks, total, body });
  const count: SizeExpr = ['*', 1, ...maskBatch, nRowBlocks, nTiles];
  return planKernel(kb, name, wgsl, 64, ['cdiv', count, 64], [blocks]);
}
