/**
 * Steps 2 to 5 of the flash kernel (step 1, the scores, is scores.ts), each a function of the
 * kernel's frame: the key range and block code that open the tile loop, the score mod with
 * bounds and mask (2), the online softmax (3), O = O·alpha + P·V (4) and the finish (5).
 */
import { nodesBetween, type Node } from '../../ir/index.ts';
import type { PlanBuffer } from '../../runtime/plan.ts';
import {
  add, and, div, eq, uadd, umul, exp, flt, gt, if_, inc, incr, index, inline, int, let_, loop, lt, max, min, mul, noted, par, select, set, sub, u, v, var_,
  type Expr, type Stmt,
} from '../kir/ir.ts';
import { axisEnv, axisVar, NEG_INF, offset, rowMajor, type BufferRef } from '../wgsl.ts';
import { BLOCK_EMPTY, BLOCK_PARTIAL } from './context.ts';
import type { FlashFrame } from './frame.ts';
import { keyEnd } from './length.ts';
import { logSumExp, rescale, sinkDenominator } from './softmax-math.ts';

/**
 * The KV tiles this workgroup streams: those of keys below the end of the key range, which is
 * the declared length min(T, kv_len[b]) when the mask has one (keys past it are never read),
 * else T; split-KV shares them among the splits, so a short sequence still spreads over all.
 */
export function keyRange(f: FlashFrame): Stmt[] {
  const { m, lo, hi, nTe, nSp, sp } = f;
  const lines: Stmt[] = [];
  if (m.length) lines.push(keyEnd(f.main, m.length, f.batchEnv, f.T, f.I('tend')));
  if (f.split.on) {
    const per = f.I('per');
    lines.push(
      let_(per, div(par(sub(add(nTe, nSp), u(1))), nSp)),
      let_(lo, mul(v(sp), v(per))),
      let_(hi, min(add(v(lo), v(per)), nTe)),
    );
  } else lines.push(let_(lo, u(0)), let_(hi, nTe));
  if (f.ctx.debugTiles) lines.push(var_(f.loaded, undefined, u(0)));
  return lines;
}

/** The tile loop around `body`: every tile of the range, or with lanes every kvLanes-th from the lane's own. */
export function tileLoop(f: FlashFrame, body: Stmt[]): Stmt[] {
  const { tile, lo, hi, lane, geo } = f;
  return [geo.KL > 1 ? loop(tile, add(v(lo), v(lane)), v(hi), body, { step: geo.KL }) : loop(tile, v(lo), v(hi), body)];
}

/** The tile's first statements: its block code (empty tiles are skipped before K or V is read), the debug count, its first key. */
export function tileHead(f: FlashFrame): Stmt[] {
  const { kb, blocks, tile, partial } = f;
  const lines: Stmt[] = [];
  if (blocks) {
    const code = f.I('code');
    const mb = offset({ axes: f.maskBatch }, f.batchEnv, kb);
    lines.push(
      let_(code, index(v(blocks.ident), uadd(umul(par(uadd(umul(mb, f.nRB), v(f.rblk))), f.nT), v(tile)))),
      noted(inline(if_(eq(v(code), int(BLOCK_EMPTY)), [{ k: 'continue' }])), 'fully masked: K and V of this tile are never read'),
      let_(partial, eq(v(code), int(BLOCK_PARTIAL))),
    );
    kb.read(blocks);
  }
  if (f.ctx.debugTiles) lines.push(incr(v(f.loaded)));
  lines.push(let_(f.t0, mul(v(tile), u(f.geo.TK))));
  return lines;
}

/**
 * Step 2: the score mod with each contraction's tile standing for it, the key bounds and (in
 * partial blocks only: full blocks skip it) the mask; a masked or out-of-range score is -inf.
 */
export function scoreMod(f: FlashFrame): Stmt[] {
  const { m, main, j, tv, t0, end, sc } = f;
  const t = m.kv;
  const mask = m.softmax.mask;
  const inRange = f.I('in');
  const key = add(v(t0), v(j));
  const modLines: Stmt[] = [let_(tv, min(key, sub(end, u(1)))), let_(inRange, lt(key, end))];
  const maskLines: Stmt[] = [];
  const selects: Stmt[] = [];
  const ok = (r: number) => f.I(`ok${r}`);
  const notKey = (n: Node) => !n.axes.includes(t);
  for (let r = 0; r < f.geo.R; r++) {
    const env = { ...f.envR[r]!, [t]: v(tv) };
    const tileOf = new Map<Node, Expr>(m.scores.map((c, i) => [c.einsum, index(v(f.scoreRegs[i]!.tile(r)), v(j))]));
    const epi = main.child({ override: (n) => tileOf.get(n), hoist: notKey, loopVars: [tv, j, inRange] });
    const x = epi.value(m.softmax.x, env);
    modLines.push(...epi.lines, var_(ok(r), undefined, v(inRange)));
    if (mask) {
      const ms = main.child({ hoist: notKey, loopVars: [tv, j, inRange] });
      const mval = ms.value(mask, env);
      maskLines.push(...ms.lines, set(v(ok(r)), and(v(ok(r)), mval)));
    }
    selects.push(set(index(v(sc(r)), v(j)), select(NEG_INF, x, v(ok(r)))));
  }
  const masked = mask ? (f.blocks ? [if_(v(f.partial), maskLines)] : maskLines) : [];
  return [loop(j, u(0), u(f.geo.TK), [...modLines, ...masked, ...selects])];
}

/** Step 3: the online softmax, per row: the new running max, the rescale factor alpha, the tile's probabilities and sum. */
export function onlineSoftmax(f: FlashFrame): Stmt[] {
  const { j, mv, lv, sc } = f;
  const TK = u(f.geo.TK);
  const lines: Stmt[] = [];
  for (let r = 0; r < f.geo.R; r++) {
    const [mt, alpha, ps, p] = [f.I(`mt${r}`), alphaOf(f, r), f.I(`ps${r}`), f.I(`p${r}`)];
    const s = index(v(sc(r)), v(j));
    lines.push(
      var_(mt, undefined, v(mv(r))),
      loop(j, u(0), TK, [set(v(mt), max(v(mt), s))], { inline: true }),
      // with nothing live yet (mt = -inf) the sum and accumulator are 0 and alpha is moot
      let_(alpha, select(exp(sub(v(mv(r)), v(mt))), flt(1), eq(v(mt), NEG_INF))),
      var_(ps, undefined, flt(0)),
      loop(j, u(0), TK, [let_(p, rescale(s, v(mt))), set(s, v(p)), inc(v(ps), v(p))], { inline: true }),
      set(v(lv(r)), add(mul(v(lv(r)), v(alpha)), v(ps))),
      set(v(mv(r)), v(mt)),
    );
  }
  return lines;
}

/** Row r's rescale factor exp(m_old - m_new) of the current tile. */
const alphaOf = (f: FlashFrame, r: number) => f.I(`alpha${r}`);

/** Whether the value chunks cover the static value head dim exactly (no column past it: no guard, no clamp). */
const exactChunks = (f: FlashFrame) => f.geo.dvStatic !== undefined && f.geo.DVC * Math.ceil(f.geo.dvStatic / f.geo.DVC) === f.geo.dvStatic;

/** The statements that split the flat value column `dv` into the value head dims' variables. */
function valueColumns(f: FlashFrame): { dvFlat: string; decl: Stmt[] } {
  const dvFlat = f.I('dv');
  const decl = f.m.vDims.length === 1 ? [let_(axisVar(f.m.vDims[0]!), v(dvFlat))] : f.kb.decompose(f.m.vDims.map((a) => [axisVar(a), f.kb.size(a)]), v(dvFlat), f.I('dvrest'));
  return { dvFlat, decl };
}

/** Step 4: O = O·alpha + P·V, one value column at a time in registers, V loaded once per (key, column) for all R rows. */
export function pvProduct(f: FlashFrame): Stmt[] {
  const { m, main, j, tv, t0, end, cc, c0, acc, sc, kb } = f;
  const t = m.kv;
  const column = add(v(c0), v(cc));
  const dvClamp = exactChunks(f) ? column : min(column, sub(f.DVn, u(1)));
  const cScope = main.child({ hoist: (n) => !n.axes.some((a) => m.vDims.includes(a)), loopVars: [cc, ...m.vDims.map((a) => axisVar(a))] });
  const vScope = cScope.child({ hoist: (n) => !n.axes.includes(t), loopVars: [tv, j] });
  const { dvFlat, decl } = valueColumns(f);
  const vEnv = { ...f.batchEnv, [t]: v(tv), ...axisEnv(m.vDims) };
  const vVal = vScope.value(m.value, vEnv);
  const o = (r: number) => f.I(`o${r}`);
  const rows = <T>(each: (r: number) => T) => Array.from({ length: f.geo.R }, (_, r) => each(r));
  return [
    loop(cc, u(0), u(f.geo.DVC), [
      let_(dvFlat, dvClamp),
      ...decl,
      ...cScope.lines,
      ...rows((r) => var_(o(r), undefined, mul(index(v(acc(r)), v(cc)), v(alphaOf(f, r))))),
      loop(j, u(0), u(f.geo.TK), [
        let_(tv, min(add(v(t0), v(j)), sub(end, u(1)))),
        ...vScope.lines,
        ...rows((r) => inc(v(o(r)), kb.product([index(v(sc(r)), v(j)), vVal]))),
      ]),
      ...rows((r) => set(index(v(acc(r)), v(cc)), v(o(r)))),
    ]),
  ];
}

/** What step 5 adds: its statements, the buffers the kernel writes, and the temporaries it declares. */
export interface Finish {
  lines: Stmt[];
  outs: BufferRef[];
  buffers: PlanBuffer[];
  /** with split-KV: the partial outputs and log-sum-exps the merge kernel reads */
  opart?: BufferRef;
  lpart?: BufferRef;
}

/** Step 5: per row, normalise once, then the sink, the epilogue and the store; with split-KV a partial (o, lse) instead. */
export function finish(f: FlashFrame): Finish {
  const { m, ctx } = f;
  const out: Finish = { lines: [], outs: [], buffers: [] };
  if (f.split.on) {
    const [on, ln] = [ctx.internal('opart'), ctx.internal('lsepart')];
    out.opart = { name: on, ident: on, axes: [f.split.name, ...m.batch, ...m.rows, ...m.vDims], dtype: 'f32' };
    out.lpart = { name: ln, ident: ln, axes: [f.split.name, ...m.batch, ...m.rows], dtype: 'f32' };
    out.buffers.push(
      { name: on, dtype: 'f32', shape: [f.split.size, ...m.batch, ...m.rows, ...m.vDims], role: 'temp', axes: [...out.opart.axes] },
      { name: ln, dtype: 'f32', shape: [f.split.size, ...m.batch, ...m.rows], role: 'temp', axes: [...out.lpart.axes] },
    );
    out.outs.push(out.opart, out.lpart);
  } else out.outs.push(ctx.out, ...ctx.lse);
  const B = f.kb.count(m.batch);
  for (let r = 0; r < f.geo.R; r++) {
    const inner = f.split.on ? writePartial(f, r, B, out.opart!, out.lpart!) : writeRow(f, r);
    out.lines.push(if_(lt(v(f.row(r)), f.Q), inner));
  }
  return out;
}

/** log Σ exp of row r's scores, -inf for a row with nothing live. */
const lseOf = (f: FlashFrame, r: number): Expr => logSumExp(v(f.mv(r)), v(f.lv(r)));

/** A split's normalised partial output and log-sum-exp of row r. */
function writePartial(f: FlashFrame, r: number, B: Expr, opart: BufferRef, lpart: BufferRef): Stmt[] {
  const { cc, c0, lv, acc } = f;
  const inv = f.I(`inv${r}`);
  const dvFlat = f.I('dv');
  const rowLin = uadd(umul(par(uadd(umul(v(f.sp), B), v(f.bflat))), f.Q), v(f.row(r)));
  return [
    let_(inv, select(flt(0), div(flt(1), v(lv(r))), gt(v(lv(r)), flt(0)))),
    loop(cc, u(0), u(f.geo.DVC), [
      let_(dvFlat, add(v(c0), v(cc))),
      inline(if_(lt(v(dvFlat), f.DVn), [set(index(v(opart.ident), rowMajor(rowLin, f.DVn, v(dvFlat))), mul(index(v(acc(r)), v(cc)), v(inv)))])),
    ]),
    inline(if_(eq(v(f.chunk), u(0)), [set(index(v(lpart.ident), rowLin), lseOf(f, r))])),
  ];
}

/** Row r's output: 1/l (with the sink: rescaled, and its exp joining the denominator), the epilogue, the stores, the lse. */
function writeRow(f: FlashFrame, r: number): Stmt[] {
  const { m, ctx, kb, main, cc, c0, lv, mv, acc } = f;
  const lines: Stmt[] = [];
  const inv = f.I(`inv${r}`);
  let scale = flt(1);
  let denom = v(lv(r));
  if (m.softmax.sink) {
    const sk = main.value(m.softmax.sink, f.envR[r]!);
    const sink = sinkDenominator({ max: f.I(`msink${r}`), scale: f.I(`fsink${r}`), denom: f.I(`lsink${r}`) }, v(mv(r)), v(lv(r)), sk);
    lines.push(...sink.lines);
    [scale, denom] = [sink.scale, sink.denom];
  }
  lines.push(let_(inv, select(flt(0), div(scale, denom), gt(denom, flt(0)))));
  const path = nodesBetween(ctx.root, m.out);
  const store = main.child({
    override: (n) => (n === m.out ? par(mul(index(v(acc(r)), v(cc)), v(inv))) : undefined),
    hoist: (n) => !path.has(n.id) && !n.axes.some((a) => m.vDims.includes(a)),
  });
  const env = { ...f.envR[r]!, ...axisEnv(m.vDims) };
  const value = store.value(ctx.root, env);
  const { dvFlat, decl } = valueColumns(f);
  const write = [...decl, ...store.lines, kb.store(ctx.out, env, value)];
  lines.push(loop(cc, u(0), u(f.geo.DVC), [let_(dvFlat, add(v(c0), v(cc))), ...(exactChunks(f) ? write : [if_(lt(v(dvFlat), f.DVn), write)])]));
  for (const l of ctx.lse) lines.push(inline(if_(eq(v(f.chunk), u(0)), [kb.store(l, f.envR[r]!, lseOf(f, r))])));
  return lines;
}
