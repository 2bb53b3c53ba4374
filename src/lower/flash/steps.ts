/**
 * Steps 2 to 5 of the flash kernel (step 1, the scores, is scores.ts), each a function of the
 * kernel's frame: the key range and block code that open the tile loop, the score mod with
 * bounds and mask (2), the online softmax (3), O = O·alpha + P·V (4) and the finish (5).
 */
import { nodesBetween, type Node } from '../../ir/index.ts';
import type { PlanBuffer } from '../../runtime/plan.ts';
import {
  add,
  and,
  chain,
  div,
  eq,
  uadd,
  umul,
  exp,
  flt,
  gt,
  if_,
  inc,
  incr,
  index,
  inline,
  int,
  let_,
  loop,
  lt,
  max,
  min,
  mul,
  noted,
  par,
  select,
  set,
  sub,
  u,
  v,
  var_,
  type Expr,
  type Stmt,
} from '../../kir/ir.ts';
import { axisEnv, axisVar, NEG_INF, offset, packedLanes, productFactors, rowMajor, type BufferRef, type PackedLanes, type Scope } from '../wgsl.ts';
import { BLOCK_EMPTY, BLOCK_PARTIAL } from './context.ts';
import type { FlashFrame, MapRegs } from './frame.ts';
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
    lines.push(let_(per, div(par(sub(add(nTe, nSp), u(1))), nSp)), let_(lo, mul(v(sp), v(per))), let_(hi, min(add(v(lo), v(per)), nTe)));
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
 * partial blocks only: full blocks skip it) the mask; a masked or out-of-range score is -inf
 * (softmax maps) or weight 0 (plain maps). Every map's expression is computed before any tile
 * is written: map 0 writes contraction 0's tile, last.
 */
export function scoreMod(f: FlashFrame): Stmt[] {
  const { m, main, j, tv, t0, end } = f;
  const t = m.kv;
  const inRange = f.I('in');
  const key = add(v(t0), v(j));
  const modLines: Stmt[] = [let_(tv, min(key, sub(end, u(1)))), let_(inRange, lt(key, end))];
  const maskLines: Stmt[] = [];
  const selects: Stmt[] = [];
  const notKey = (n: Node) => !n.axes.includes(t);
  // one `ok` per distinct mask (maps with structurally equal masks share one node, see match.ts)
  const masks = [...new Set(f.maps.map((g) => g.map.mask).filter((x): x is Node => x !== undefined))];
  const okName = (i: number, r: number) => f.I(`${i === 0 ? '' : `p${i}`}ok${r}`);
  for (let r = 0; r < f.geo.R; r++) {
    const env = { ...f.envR[r]!, [t]: v(tv) };
    const tileOf = new Map<Node, Expr>(m.scores.map((c, i) => [c.einsum, index(v(f.scoreRegs[i]!.tile(r)), v(j))]));
    const epi = main.child({ override: (n) => tileOf.get(n), hoist: notKey, loopVars: [tv, j, inRange] });
    const xs = f.maps.map((g) => epi.value(g.map.x, env));
    modLines.push(...epi.lines);
    const oks = masks.map((_, i) => okName(i, r));
    modLines.push(...(masks.length ? oks : [okName(0, r)]).map((o) => var_(o, undefined, v(inRange))));
    const ms = main.child({ hoist: notKey, loopVars: [tv, j, inRange] });
    masks.forEach((mask, i) => {
      const mval = ms.value(mask, env);
      maskLines.push(...ms.lines.splice(0), set(v(oks[i]!), and(v(oks[i]!), mval)));
    });
    // a map reads the `ok` of its mask; a map without a mask (others have one) reads the key bound
    const okOf = (g: MapRegs) => (!g.map.mask ? v(masks.length ? inRange : okName(0, r)) : v(oks[masks.indexOf(g.map.mask)]!));
    for (let k = f.maps.length - 1; k >= 0; k--) {
      const g = f.maps[k]!;
      selects.push(set(index(v(g.w(r)), v(j)), select(g.map.kind === 'softmax' ? NEG_INF : flt(0), xs[k]!, okOf(g))));
    }
  }
  const masked = maskLines.length ? (f.blocks ? [if_(v(f.partial), maskLines)] : maskLines) : [];
  return [loop(j, u(0), u(f.geo.TK), [...modLines, ...masked, ...selects])];
}

/**
 * Step 3, per map and row: the online softmax (the new running max, the rescale factor alpha,
 * the tile's probabilities and sum); plain weights only add their sum when the epilogue
 * reads their row sum, and need no rescale.
 */
export function onlineSoftmax(f: FlashFrame): Stmt[] {
  const { j } = f;
  const TK = u(f.geo.TK);
  const lines: Stmt[] = [];
  for (const g of f.maps)
    for (let r = 0; r < f.geo.R; r++) {
      const [mt, alpha, ps, p] = [f.I(`${g.tag}mt${r}`), alphaOf(f, g, r), f.I(`${g.tag}ps${r}`), f.I(`${g.tag}p${r}`)];
      const s = index(v(g.w(r)), v(j));
      if (!g.mv) {
        if (g.lv) lines.push(var_(ps, undefined, flt(0)), loop(j, u(0), TK, [inc(v(ps), s)], { inline: true }), inc(v(g.lv(r)), v(ps)));
        continue;
      }
      const [mv, lv] = [g.mv(r), g.lv!(r)];
      lines.push(
        var_(mt, undefined, v(mv)),
        loop(j, u(0), TK, [set(v(mt), max(v(mt), s))], { inline: true }),
        // with nothing live yet (mt = -inf) the sum and accumulator are 0 and alpha is moot
        let_(alpha, select(exp(sub(v(mv), v(mt))), flt(1), eq(v(mt), NEG_INF))),
        var_(ps, undefined, flt(0)),
        loop(j, u(0), TK, [let_(p, rescale(s, v(mt))), set(s, v(p)), inc(v(ps), v(p))], { inline: true }),
        set(v(lv), add(mul(v(lv), v(alpha)), v(ps))),
        set(v(mv), v(mt)),
      );
    }
  return lines;
}

/** Row r's rescale factor exp(m_old - m_new) of the current tile, for a softmax map. */
const alphaOf = (f: FlashFrame, g: MapRegs, r: number) => f.I(`${g.tag}alpha${r}`);

/** Whether the value chunks cover the static value head dim exactly (no column past it: no guard, no clamp). */
const exactChunks = (f: FlashFrame) => f.geo.dvStatic !== undefined && f.geo.DVC * Math.ceil(f.geo.dvStatic / f.geo.DVC) === f.geo.dvStatic;

/** The statements that split the flat value column `dv` into the value head dims' variables. */
function valueColumns(f: FlashFrame): { dvFlat: string; decl: Stmt[] } {
  const dvFlat = f.I('dv');
  const decl =
    f.m.vDims.length === 1
      ? [let_(axisVar(f.m.vDims[0]!), v(dvFlat))]
      : f.kb.decompose(
          f.m.vDims.map((a) => [axisVar(a), f.kb.size(a)]),
          v(dvFlat),
          f.I('dvrest'),
        );
  return { dvFlat, decl };
}

/**
 * How the P·V loop reads V: by default one value column per step. When V reads an i8 buffer
 * along the last value dim, four columns per step (`words`: their i8 values from one word per
 * key, see `PackedLanes`; the chunks must cover a static value head dim exactly, in multiples
 * of 4 columns), and under f32 compute V is split into its factors: those without value dims
 * (a per-token dequantisation scale) scale the weights once per key (`perKey`), the others
 * (`inner`) are read per column.
 */
interface ValueLanes {
  words?: PackedLanes;
  inner: Node[];
  perKey: Node[];
}

function valueLanes(f: FlashFrame): ValueLanes {
  const { m, kb } = f;
  if (!f.packedV) return { inner: [m.value], perKey: [] };
  const factors = f.f16 ? [m.value] : productFactors(m.value, kb);
  const inV = (x: Node) => x.axes.some((a) => m.vDims.includes(a));
  return { words: packedLanes(v(axisVar(m.vDims.at(-1)!))), inner: factors.filter(inV), perKey: factors.filter((x) => !inV(x)) };
}

/** Every map's weights of the tile times V's per-key factors (see {@link ValueLanes}), once per key. */
function scaleWeights(f: FlashFrame, perKey: readonly Node[]): Stmt[] {
  if (!perKey.length) return [];
  const { m, j, tv, t0, end } = f;
  const kScope = f.main.child({ hoist: (n) => !n.axes.includes(m.kv), loopVars: [tv, j] });
  const scales = perKey.map((n) => kScope.value(n, { ...f.batchEnv, [m.kv]: v(tv) }));
  const ws = f.maps.flatMap((g) => Array.from({ length: f.geo.R }, (_, r) => index(v(g.w(r)), v(j))));
  return [
    loop(j, u(0), u(f.geo.TK), [let_(tv, min(add(v(t0), v(j)), sub(end, u(1)))), ...kScope.lines, ...ws.map((w) => set(w, chain('*', [w, ...scales], w)))]),
  ];
}

/**
 * Step 4: per map, O = O·alpha + P·V (plain maps: O + W·V), one value column at a time in
 * registers (four with i8 V, one word per key), V loaded once per (key, column) for all R
 * rows and every map.
 */
export function pvProduct(f: FlashFrame): Stmt[] {
  const { m, main, j, tv, t0, end, cc, c0, kb } = f;
  const t = m.kv;
  const lanes = valueLanes(f);
  const column = add(v(c0), v(cc));
  const dvClamp = exactChunks(f) ? column : min(column, sub(f.DVn, u(1)));
  const cScope = main.child({ hoist: (n) => !n.axes.some((a) => m.vDims.includes(a)), loopVars: [cc, ...m.vDims.map((a) => axisVar(a))] });
  const vScope = cScope.child({ hoist: (n) => !n.axes.includes(t), loopVars: [tv, j], words: lanes.words });
  const { dvFlat, decl } = valueColumns(f);
  const vEnv = { ...f.batchEnv, [t]: v(tv), ...axisEnv(m.vDims) };
  const envs = lanes.words ? lanes.words.map((l) => ({ ...vEnv, [m.vDims.at(-1)!]: l })) : [vEnv];
  const o = (g: MapRegs, r: number, i: number) => f.I(lanes.words ? `${g.tag}o${r}c${i}` : `${g.tag}o${r}`);
  const col = (i: number) => (i === 0 ? v(cc) : add(v(cc), u(i)));
  const rows = f.maps.flatMap((g) => Array.from({ length: f.geo.R }, (_, r) => [g, r] as const));
  const each = <T>(make: (g: MapRegs, r: number, i: number) => T) => rows.flatMap(([g, r]) => envs.map((_, i) => make(g, r, i)));
  const start = (g: MapRegs, r: number, i: number) => (g.mv ? mul(index(v(g.acc(r)), col(i)), v(alphaOf(f, g, r))) : index(v(g.acc(r)), col(i)));
  // per column: its V value (one `let` per factor read), then every row's multiply-add
  const step = envs.flatMap((env, i) => {
    const vVal = chain(
      '*',
      lanes.inner.map((n) => vScope.value(n, env)),
      flt(1),
    );
    return [...vScope.lines.splice(0), ...rows.map(([g, r]) => inc(v(o(g, r, i)), kb.product([index(v(g.w(r)), v(j)), vVal])))];
  });
  return [
    ...scaleWeights(f, lanes.perKey),
    loop(
      cc,
      u(0),
      u(f.geo.DVC),
      [
        let_(dvFlat, dvClamp),
        ...decl,
        ...cScope.lines,
        ...each((g, r, i) => var_(o(g, r, i), undefined, start(g, r, i))),
        loop(j, u(0), u(f.geo.TK), [let_(tv, min(add(v(t0), v(j)), sub(end, u(1)))), ...step]),
        ...each((g, r, i) => set(index(v(g.acc(r)), col(i)), v(o(g, r, i)))),
      ],
      { step: envs.length },
    ),
  ];
}

/** One map's split-KV partials: its output per split (normalised for a softmax, raw for plain weights) and its lse or raw row sum. */
export interface MapPartial {
  o: BufferRef;
  l?: BufferRef;
}

/** What step 5 adds: its statements, the buffers the kernel writes, and the temporaries it declares. */
export interface Finish {
  lines: Stmt[];
  outs: BufferRef[];
  buffers: PlanBuffer[];
  /** with split-KV, per map: the partial outputs and log-sum-exps (or row sums) the merge kernel reads */
  parts: MapPartial[];
}

/**
 * The split-KV partial buffers of every map: map 0's `_opart` and `_lsepart`, map k's
 * `_opart<k>` and `_lsepart<k>`; plain weights without a row sum have no second one.
 */
function partials(f: FlashFrame, out: Finish): void {
  const { m, ctx } = f;
  f.maps.forEach((g, k) => {
    const [on, ln] = [ctx.internal(k === 0 ? 'opart' : `opart${k}`), ctx.internal(k === 0 ? 'lsepart' : `lsepart${k}`)];
    const part: MapPartial = { o: { name: on, ident: on, axes: [f.split.name, ...m.batch, ...m.rows, ...m.vDims], dtype: 'f32' } };
    out.buffers.push({ name: on, dtype: 'f32', shape: [f.split.size, ...m.batch, ...m.rows, ...m.vDims], role: 'temp', axes: [...part.o.axes] });
    if (g.lv) {
      part.l = { name: ln, ident: ln, axes: [f.split.name, ...m.batch, ...m.rows], dtype: 'f32' };
      out.buffers.push({ name: ln, dtype: 'f32', shape: [f.split.size, ...m.batch, ...m.rows], role: 'temp', axes: [...part.l.axes] });
    }
    out.parts.push(part);
  });
  // the bindings in the order map 0's o and l, map 1's …
  out.outs.push(...out.parts.flatMap((p) => [p.o, ...(p.l ? [p.l] : [])]));
}

/** Step 5: per row, normalise once, then the sink, the epilogue and the store; with split-KV each map's partial instead. */
export function finish(f: FlashFrame): Finish {
  const { m, ctx } = f;
  const out: Finish = { lines: [], outs: [], buffers: [], parts: [] };
  if (f.split.on) partials(f, out);
  else out.outs.push(ctx.out, ...ctx.lse);
  const B = f.kb.count(m.batch);
  for (let r = 0; r < f.geo.R; r++) {
    const inner = f.split.on ? f.maps.flatMap((g, k) => writePartial(f, g, r, B, out.parts[k]!)) : writeRow(f, r);
    out.lines.push(if_(lt(v(f.row(r)), f.Q), inner));
  }
  return out;
}

/** log Σ exp of row r's scores of a softmax map, -inf for a row with nothing live. */
const lseOf = (g: MapRegs, r: number): Expr => logSumExp(v(g.mv!(r)), v(g.lv!(r)));

/**
 * A split's partial of row r for one map: a softmax's normalised output and log-sum-exp, or
 * plain weights' raw accumulator and row sum (the splits' partials of those simply add).
 */
function writePartial(f: FlashFrame, g: MapRegs, r: number, B: Expr, part: MapPartial): Stmt[] {
  const { cc, c0 } = f;
  const inv = f.I(`${g.tag}inv${r}`);
  const dvFlat = f.I('dv');
  const rowLin = uadd(umul(par(uadd(umul(v(f.sp), B), v(f.bflat))), f.Q), v(f.row(r)));
  const acc = index(v(g.acc(r)), v(cc));
  const lv = g.lv;
  return [
    ...(g.mv ? [let_(inv, select(flt(0), div(flt(1), v(lv!(r))), gt(v(lv!(r)), flt(0))))] : []),
    loop(cc, u(0), u(f.geo.DVC), [
      let_(dvFlat, add(v(c0), v(cc))),
      inline(if_(lt(v(dvFlat), f.DVn), [set(index(v(part.o.ident), rowMajor(rowLin, f.DVn, v(dvFlat))), g.mv ? mul(acc, v(inv)) : acc)])),
    ]),
    ...(part.l && lv ? [inline(if_(eq(v(f.chunk), u(0)), [set(index(v(part.l.ident), rowLin), g.mv ? lseOf(g, r) : v(lv(r)))]))] : []),
  ];
}

/**
 * Row r's 1/l per softmax map (with the sink: rescaled, and its exp joining the denominator):
 * the statements, and what each map's normalised output is (softmax: acc·inv; plain: acc).
 */
function normalisers(f: FlashFrame, r: number): { lines: Stmt[]; value: Map<Node, Expr> } {
  const lines: Stmt[] = [];
  const value = new Map<Node, Expr>();
  for (const g of f.maps) {
    const acc = index(v(g.acc(r)), v(f.cc));
    if (!g.mv) {
      value.set(g.map.node, acc);
      for (const s of g.map.sums) value.set(s, v(g.lv!(r)));
      continue;
    }
    const inv = f.I(`${g.tag}inv${r}`);
    let scale = flt(1);
    let denom = v(g.lv!(r));
    if (g.map.sink) {
      const sk = f.main.value(g.map.sink, f.envR[r]!);
      const names = { max: f.I(`${g.tag}msink${r}`), scale: f.I(`${g.tag}fsink${r}`), denom: f.I(`${g.tag}lsink${r}`) };
      const sink = sinkDenominator(names, v(g.mv(r)), v(g.lv!(r)), sk);
      lines.push(...sink.lines);
      [scale, denom] = [sink.scale, sink.denom];
    }
    lines.push(let_(inv, select(flt(0), div(scale, denom), gt(denom, flt(0)))));
    value.set(g.map.node, par(mul(acc, v(inv))));
  }
  return { lines, value };
}

/**
 * Row r's output: each map normalised, the weights' combination of them (Σ cᵢ·Oᵢ: the
 * coefficients have no key axis, so they factor out of P·V), the epilogue (which may read a
 * plain map's row sum), the stores and the lse outputs.
 */
function writeRow(f: FlashFrame, r: number): Stmt[] {
  const { m, ctx, kb, main, cc, c0 } = f;
  const { lines, value } = normalisers(f, r);
  // the nodes the kernel supplies (maps, row sums) and every node computed from them: never hoisted
  const derived = nodesBetween(ctx.root, m.out);
  for (const n of [...value.keys()]) for (const id of [...nodesBetween(ctx.root, n), ...nodesBetween(m.weights, n)]) derived.add(id);
  const store: Scope = main.child({
    override: (n, env) => (n === m.out ? store.value(m.weights, env) : value.get(n)),
    hoist: (n) => !derived.has(n.id) && !n.axes.some((a) => m.vDims.includes(a)),
  });
  const env = { ...f.envR[r]!, ...axisEnv(m.vDims) };
  const out = store.value(ctx.root, env);
  const { dvFlat, decl } = valueColumns(f);
  const write = [...decl, ...store.lines, kb.store(ctx.out, env, out)];
  lines.push(loop(cc, u(0), u(f.geo.DVC), [let_(dvFlat, add(v(c0), v(cc))), ...(exactChunks(f) ? write : [if_(lt(v(dvFlat), f.DVn), write)])]));
  let i = 0;
  for (const g of f.maps) for (const _ of g.map.lse) lines.push(inline(if_(eq(v(f.chunk), u(0)), [kb.store(ctx.lse[i++]!, f.envR[r]!, lseOf(g, r))])));
  return lines;
}
