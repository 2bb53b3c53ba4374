/**
 * Step 1 of the flash kernel's tile loop: the scores Sᵢ = Σ_qk Qᵢ·Kᵢ of each contraction for
 * R rows × TK keys, one score tile per contraction. With a static QK extent (up to maxQCache)
 * the query side is cached in registers once and each key costs one uniform K load per qk
 * element, shared by all R rows (`qkBlock` keys at a time); otherwise the qk dims are the outer
 * loops, so each Q element loads once per tile.
 */
import type { Node } from '../../ir/index.ts';
import { add, arrayOf, call, chain, flt, inc, index, let_, line, loop, min, mul, set, sub, u, v, var_, type Expr, type Stmt } from '../../kir/ir.ts';
import { axisEnv, axisVar, offset, packedLanes, productFactors, type Env, type PackedLanes, type Scope } from '../wgsl.ts';
import type { FlashFrame, ScoreRegs } from './frame.ts';
import type { FlashScore } from './match.ts';

/** The statements before the tile loop (the cached query side) and inside it (the score tiles). */
export interface ScoreCode {
  prologue: Stmt[];
  inTile: Stmt[];
}

/** Step 1 for every contraction of the match. */
export function scores(f: FlashFrame): ScoreCode {
  const out: ScoreCode = { prologue: [], inTile: [] };
  f.m.scores.forEach((score, c) => {
    const one = scoreTile(f, score, c);
    out.prologue.push(...one.prologue);
    out.inTile.push(...one.inTile);
  });
  return out;
}

/** The loops over a contraction's qk dims around `inner`, outermost first. */
type Nest = (inner: Stmt[]) => Stmt[];

/**
 * The qk indices of one step of the innermost qk loop: one step per element, or with a K-side
 * i8 buffer read along that dim (a static multiple of 4) four lanes per step, whose i8 values
 * come four to one 32-bit word (`words`, see `PackedLanes`). The K side is then split into its
 * factors: those without qk dims (a per-token dequantisation scale) multiply each key's dot
 * product once (`perKey`, f32 compute only), the others (`inner`) are read per qk element.
 */
interface QkLanes {
  step: number;
  envs: Env[];
  words?: PackedLanes;
  inner: Node[];
  perKey: Node[];
}

function qkLanes(f: FlashFrame, score: FlashScore, c: number, qkEnv: Env): QkLanes {
  const kSide = score.einsum.operands.filter((o) => o.axes.includes(f.m.kv));
  if (!f.packedK[c]) return { step: 1, envs: [qkEnv], inner: kSide, perKey: [] };
  const a = score.qkDims.at(-1)!;
  const words = packedLanes(qkEnv[a]!);
  const factors = f.f16 ? kSide : kSide.flatMap((o) => productFactors(o, f.kb));
  const inQk = hasAny(score.qkDims);
  return { step: 4, envs: words.map((w) => ({ ...qkEnv, [a]: w })), words, inner: factors.filter(inQk), perKey: factors.filter((x) => !inQk(x)) };
}

/**
 * One score contraction: `regs.tile(r)[j]` = S at row r and key t0 + j (keys past the end
 * are clamped to the last one; step 2 masks them).
 */
function scoreTile(f: FlashFrame, score: FlashScore, c: number): ScoreCode {
  const { kb } = f;
  const [regs, dkStatic, block] = [f.scoreRegs[c]!, f.qCached[c], f.qkBlocks[c]!];
  const qkDims = score.qkDims;
  const qkEnv = axisEnv(qkDims);
  const extents = qkDims.map((a) => kb.size(a));
  const nestBy =
    (step: number): Nest =>
    (inner) =>
      qkDims.reduceRight<Stmt[]>((body, a, d) => [loop(axisVar(a), u(0), extents[d]!, body, { typed: true, step: d === qkDims.length - 1 ? step : 1 })], inner);
  if (dkStatic === undefined) return { prologue: [], inTile: streamedScores(f, score, regs, qkEnv, nestBy(1)) };
  const dkFlat = offset({ axes: qkDims }, qkEnv, kb);
  const prologue = cachedQuery(f, score, regs, dkStatic, dkFlat, qkEnv, nestBy(1));
  const lanes = qkLanes(f, score, c, qkEnv);
  const nest = nestBy(lanes.step);
  const inTile = block > 1 ? blockedScores(f, block, score, regs, qkEnv, lanes, nest) : cachedScores(f, score, regs, qkEnv, lanes, nest);
  return { prologue, inTile };
}

const hasAny = (axes: readonly string[]) => (n: Node) => n.axes.some((a) => axes.includes(a));
const rowsOf = <T>(R: number, line: (r: number) => T) => Array.from({ length: R }, (_, r) => line(r));
const qkVars = (qkEnv: Env) => Object.keys(qkEnv).map(axisVar);

/** The query rows' side of the product, loaded once into registers (f16 under f16 compute: half the registers). */
function cachedQuery(f: FlashFrame, score: FlashScore, regs: ScoreRegs, dk: number, dkFlat: Expr, qkEnv: Env, nest: Nest): Stmt[] {
  const { kb, main, f16 } = f;
  const qSide = score.einsum.operands.filter((o) => !o.axes.includes(f.m.kv));
  const qScope = main.child({ hoist: (n) => !hasAny(score.qkDims)(n), loopVars: qkVars(qkEnv) });
  const prologue: Stmt[] = [];
  const fill: Stmt[] = [];
  for (let r = 0; r < f.geo.R; r++) {
    prologue.push(var_(regs.q(r), arrayOf(f16 ? 'f16' : 'f32', Math.max(1, dk))));
    const terms = qSide.map((o) => qScope.value(o, { ...f.envR[r]!, ...qkEnv }));
    fill.push(set(index(v(regs.q(r)), dkFlat), kb.sideProduct(terms)));
  }
  prologue.push(...nest([...qScope.lines, ...fill]));
  return prologue;
}

/** The product of the K-side `nodes` at key index `key`, in the kernel's compute type (f16 rounds it). */
function kValue(f: FlashFrame, nodes: readonly Node[], scope: Scope, qkEnv: Env, key: Expr): Expr {
  return f.kb.sideProduct(nodes.map((o) => scope.value(o, { ...f.batchEnv, ...qkEnv, [f.m.kv]: key })));
}

/** A key's dot product times its per-key factors (see {@link QkLanes}), evaluated once per key in `scope`. */
function withPerKey(f: FlashFrame, lanes: QkLanes, scope: Scope, key: Expr): (dot: Expr) => Expr {
  const scales = lanes.perKey.map((n) => scope.value(n, { ...f.batchEnv, [f.m.kv]: key }));
  return (dot) => chain('*', [dot, ...scales], dot);
}

/** `q * k` of a cached query value and a K value: in f16 under f16 compute, widened for the f32 dot product. */
const qk = (f: FlashFrame, q: Expr, k: Expr): Expr => (f.f16 ? call('f32', mul(q, k)) : mul(q, k));

/** The key index `t0 + j (+ b)` clamped below the end of the key range. */
const keyAt = (f: FlashFrame, offsetExpr: Expr): Expr => min(offsetExpr, sub(f.end, u(1)));

/** Cached Q, one key at a time: each K element (each i8 word) is loaded once for all R rows. */
function cachedScores(f: FlashFrame, score: FlashScore, regs: ScoreRegs, qkEnv: Env, lanes: QkLanes, nest: Nest): Stmt[] {
  const { main, j, tv, t0, geo } = f;
  const jScope = main.child({ hoist: (n) => !n.axes.includes(f.m.kv), loopVars: [tv, j] });
  const kScope = jScope.child({ hoist: (n) => !hasAny(score.qkDims)(n), loopVars: qkVars(qkEnv), words: lanes.words });
  const { dot } = regs;
  const step = lanes.envs.flatMap((env, i) => {
    const kt = kValue(f, lanes.inner, kScope, env, v(tv));
    const kv = lanes.words ? regs.laneKv(undefined, i) : regs.kv;
    const q = (r: number) => index(v(regs.q(r)), offset({ axes: score.qkDims }, env, f.kb));
    return [...kScope.lines.splice(0), let_(kv, kt), ...rowsOf(geo.R, (r) => inc(v(dot(r)), qk(f, q(r), v(kv))))];
  });
  const scaled = withPerKey(f, lanes, jScope, v(tv));
  return [
    loop(j, u(0), u(geo.TK), [
      let_(tv, keyAt(f, add(v(t0), v(j)))),
      ...jScope.lines,
      ...rowsOf(geo.R, (r) => var_(dot(r), undefined, flt(0))),
      ...nest(step),
      ...rowsOf(geo.R, (r) => set(index(v(regs.tile(r)), v(j)), scaled(v(dot(r))))),
    ]),
  ];
}

/** Q not cached (qk dims known only at dispatch): qk dims outermost, so each Q element loads once per tile. */
function streamedScores(f: FlashFrame, score: FlashScore, regs: ScoreRegs, qkEnv: Env, nest: Nest): Stmt[] {
  const { kb, main, j, tv, t0, geo } = f;
  const t = f.m.kv;
  const dkScope = main.child({ hoist: (n) => !hasAny(score.qkDims)(n), loopVars: qkVars(qkEnv) });
  const jScope = dkScope.child({ hoist: (n) => !n.axes.includes(t), loopVars: [tv, j] });
  const dots: Stmt[] = [];
  for (let r = 0; r < geo.R; r++) {
    const env = { ...f.envR[r]!, ...qkEnv, [t]: v(tv) };
    const terms = score.einsum.operands.map((o) => (o.axes.includes(t) ? jScope : dkScope).value(o, env));
    dots.push(inc(index(v(regs.tile(r)), v(j)), kb.product(terms)));
  }
  return [
    loop(
      j,
      u(0),
      u(geo.TK),
      rowsOf(geo.R, (r) => set(index(v(regs.tile(r)), v(j)), flt(0))),
      { inline: true },
    ),
    ...nest([...dkScope.lines, loop(j, u(0), u(geo.TK), [let_(tv, keyAt(f, add(v(t0), v(j)))), ...jScope.lines, ...dots])]),
  ];
}

/**
 * The cached-Q product with `qkBlock` keys per register block: per qk element, the R cached
 * query values and the block's K values are loaded once and feed R × qkBlock running dot
 * products, all named registers (unrolled in the WGSL text, so no private array is indexed).
 * Fewer loads per multiply-add than one key at a time (R + B loads for R·B of them instead
 * of R + 1 for R); on lavapipe 16 keys × 8 rows made MHA prefill about 10% faster.
 */
function blockedScores(f: FlashFrame, B: number, score: FlashScore, regs: ScoreRegs, qkEnv: Env, lanes: QkLanes, nest: Nest): Stmt[] {
  const { main, j, t0, geo } = f;
  const keys = Array.from({ length: B }, (_, b) => b);
  const tks = keys.map((b) => regs.blockKey(b));
  const jScope = main.child({ hoist: (n) => !n.axes.includes(f.m.kv), loopVars: [j, ...tks] });
  const kScope = jScope.child({ hoist: (n) => !hasAny(score.qkDims)(n), loopVars: qkVars(qkEnv), words: lanes.words });
  const rows = Array.from({ length: geo.R }, (_, r) => r);
  const step = lanes.envs.flatMap((env, i) => {
    const kts = keys.map((b) => kValue(f, lanes.inner, kScope, env, v(tks[b]!)));
    const kv = (b: number) => (lanes.words ? regs.laneKv(b, i) : regs.blockKv(b));
    const q = (r: number) => index(v(regs.q(r)), offset({ axes: score.qkDims }, env, f.kb));
    return [
      ...kScope.lines.splice(0),
      ...keys.map((b) => let_(kv(b), kts[b]!)),
      ...rows.map((r) => line(...keys.map((b) => inc(v(regs.blockDot(r, b)), qk(f, q(r), v(kv(b))))))),
    ];
  });
  const scaled = keys.map((b) => withPerKey(f, lanes, jScope, v(tks[b]!)));
  return [
    loop(
      j,
      u(0),
      u(geo.TK),
      [
        ...keys.map((b) => let_(tks[b]!, keyAt(f, add(add(v(t0), v(j)), u(b))))),
        ...jScope.lines,
        ...rows.map((r) => line(...keys.map((b) => var_(regs.blockDot(r, b), undefined, flt(0))))),
        ...nest(step),
        ...rows.map((r) => line(...keys.map((b) => set(index(v(regs.tile(r)), add(v(j), u(b))), scaled[b]!(v(regs.blockDot(r, b))))))),
      ],
      { step: B },
    ),
  ];
}
