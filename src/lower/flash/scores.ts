/**
 * Step 1 of the flash kernel's tile loop: the scores Sᵢ = Σ_qk Qᵢ·Kᵢ of each contraction for
 * R rows × TK keys, one score tile per contraction. With a static QK extent (up to maxQCache)
 * the query side is cached in registers once and each key costs one uniform K load per qk
 * element, shared by all R rows (`qkBlock` keys at a time); otherwise the qk dims are the outer
 * loops, so each Q element loads once per tile.
 */
import type { Node } from '../../ir/index.ts';
import { add, arrayOf, call, flt, inc, index, let_, line, loop, loopNest, min, mul, set, sub, u, v, var_, type Expr, type Stmt } from '../../kir/ir.ts';
import { axisEnv, axisVar, offset, type Env, type Scope } from '../wgsl.ts';
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
    const one = scoreTile(f, score, f.scoreRegs[c]!, f.qCached[c], f.qkBlocks[c]!);
    out.prologue.push(...one.prologue);
    out.inTile.push(...one.inTile);
  });
  return out;
}

/** The loops over a contraction's qk dims around `inner`, outermost first. */
type Nest = (inner: Stmt[]) => Stmt[];

/**
 * One score contraction: `regs.tile(r)[j]` = S at row r and key t0 + j (keys past the end
 * are clamped to the last one; step 2 masks them).
 */
function scoreTile(f: FlashFrame, score: FlashScore, regs: ScoreRegs, dkStatic: number | undefined, block: number): ScoreCode {
  const { kb } = f;
  const qkDims = score.qkDims;
  const qkEnv = axisEnv(qkDims);
  const extents = qkDims.map((a) => kb.size(a));
  const nest: Nest = (inner) =>
    loopNest(
      qkDims.map((a, d) => [axisVar(a), extents[d]!] as const),
      inner,
    );
  if (dkStatic === undefined) return { prologue: [], inTile: streamedScores(f, score, regs, qkEnv, nest) };
  const dkFlat = offset({ axes: qkDims }, qkEnv, kb);
  const prologue = cachedQuery(f, score, regs, dkStatic, dkFlat, qkEnv, nest);
  const inTile = block > 1 ? blockedScores(f, block, score, regs, dkFlat, qkEnv, nest) : cachedScores(f, score, regs, dkFlat, qkEnv, nest);
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

/** The K side of the product at key index `key`, in the kernel's compute type (f16 rounds it). */
function kValue(f: FlashFrame, score: FlashScore, scope: Scope, qkEnv: Env, key: Expr): Expr {
  const kSide = score.einsum.operands.filter((o) => o.axes.includes(f.m.kv));
  const kVals = kSide.map((o) => scope.value(o, { ...f.batchEnv, ...qkEnv, [f.m.kv]: key }));
  return f.kb.sideProduct(kVals);
}

/** `q * k` of a cached query value and a K value: in f16 under f16 compute, widened for the f32 dot product. */
const qk = (f: FlashFrame, q: Expr, k: Expr): Expr => (f.f16 ? call('f32', mul(q, k)) : mul(q, k));

/** The key index `t0 + j (+ b)` clamped below the end of the key range. */
const keyAt = (f: FlashFrame, offsetExpr: Expr): Expr => min(offsetExpr, sub(f.end, u(1)));

/** Cached Q, one key at a time: each K element is loaded once for all R rows. */
function cachedScores(f: FlashFrame, score: FlashScore, regs: ScoreRegs, dkFlat: Expr, qkEnv: Env, nest: Nest): Stmt[] {
  const { main, j, tv, t0, geo } = f;
  const jScope = main.child({ hoist: (n) => !n.axes.includes(f.m.kv), loopVars: [tv, j] });
  const kScope = jScope.child({ hoist: (n) => !hasAny(score.qkDims)(n), loopVars: qkVars(qkEnv) });
  const kt = kValue(f, score, kScope, qkEnv, v(tv));
  const { dot, kv } = regs;
  return [
    loop(j, u(0), u(geo.TK), [
      let_(tv, keyAt(f, add(v(t0), v(j)))),
      ...jScope.lines,
      ...rowsOf(geo.R, (r) => var_(dot(r), undefined, flt(0))),
      ...nest([...kScope.lines, let_(kv, kt), ...rowsOf(geo.R, (r) => inc(v(dot(r)), qk(f, index(v(regs.q(r)), dkFlat), v(kv))))]),
      ...rowsOf(geo.R, (r) => set(index(v(regs.tile(r)), v(j)), v(dot(r)))),
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
function blockedScores(f: FlashFrame, B: number, score: FlashScore, regs: ScoreRegs, dkFlat: Expr, qkEnv: Env, nest: Nest): Stmt[] {
  const { main, j, t0, geo } = f;
  const keys = Array.from({ length: B }, (_, b) => b);
  const tks = keys.map((b) => regs.blockKey(b));
  const jScope = main.child({ hoist: (n) => !n.axes.includes(f.m.kv), loopVars: [j, ...tks] });
  const kScope = jScope.child({ hoist: (n) => !hasAny(score.qkDims)(n), loopVars: qkVars(qkEnv) });
  const kts = keys.map((b) => kValue(f, score, kScope, qkEnv, v(tks[b]!)));
  const q = (r: number) => index(v(regs.q(r)), dkFlat);
  const rows = Array.from({ length: geo.R }, (_, r) => r);
  return [
    loop(
      j,
      u(0),
      u(geo.TK),
      [
        ...keys.map((b) => let_(tks[b]!, keyAt(f, add(add(v(t0), v(j)), u(b))))),
        ...jScope.lines,
        ...rows.map((r) => line(...keys.map((b) => var_(regs.blockDot(r, b), undefined, flt(0))))),
        ...nest([
          ...kScope.lines,
          ...keys.map((b) => let_(regs.blockKv(b), kts[b]!)),
          ...rows.map((r) => line(...keys.map((b) => inc(v(regs.blockDot(r, b)), qk(f, q(r), v(regs.blockKv(b))))))),
        ]),
        ...rows.map((r) => line(...keys.map((b) => set(index(v(regs.tile(r)), add(v(j), u(b))), v(regs.blockDot(r, b)))))),
      ],
      { step: B },
    ),
  ];
}
