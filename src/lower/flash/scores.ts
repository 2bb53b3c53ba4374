/**
 * Step 1 of the flash kernel's tile loop: the scores Sᵢ = Σ_qk Qᵢ·Kᵢ of each contraction for
 * R rows × TK keys, one score tile per contraction. With a static QK extent (up to maxQCache)
 * the query side is cached in registers once and each key costs one uniform K load per qk
 * element, shared by all R rows (`qkBlock` keys at a time); otherwise the qk dims are the outer
 * loops, so each Q element loads once per tile.
 */
import type { Node } from '../../ir/index.ts';
import { indent } from '../kernels/frame.ts';
import { axisVar, offset, type Env, type Scope } from '../wgsl.ts';
import type { FlashFrame, ScoreRegs } from './frame.ts';
import type { FlashScore } from './match.ts';

/** The statements before the tile loop (the cached query side) and inside it (the score tiles). */
export interface ScoreCode {
  prologue: string[];
  inTile: string[];
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
type Nest = (inner: string[]) => string[];

/**
 * One score contraction: `regs.tile(r)[j]` = S at row r and key t0 + j (keys past the end
 * are clamped to the last one; step 2 masks them).
 */
function scoreTile(f: FlashFrame, score: FlashScore, regs: ScoreRegs, dkStatic: number | undefined, block: number): ScoreCode {
  const { kb } = f;
  const qkDims = score.qkDims;
  const qkEnv = Object.fromEntries(qkDims.map((a) => [a, axisVar(a)]));
  const opens = qkDims.map((a) => `for (var ${axisVar(a)}: u32 = 0u; ${axisVar(a)} < ${kb.size(a)}; ${axisVar(a)}++) {`);
  const nest: Nest = (inner) => [
    ...opens.map((o, d) => '  '.repeat(d) + o),
    ...indent(inner, opens.length),
    ...opens.map((_, d) => '  '.repeat(opens.length - 1 - d) + '}'),
  ];
  if (dkStatic === undefined) return { prologue: [], inTile: streamedScores(f, score, regs, qkEnv, nest) };
  const dkFlat = offset({ axes: qkDims }, qkEnv, kb);
  const prologue = cachedQuery(f, score, regs, dkStatic, dkFlat, qkEnv, nest);
  const inTile = block > 1 ? blockedScores(f, block, score, regs, dkFlat, qkEnv, nest) : cachedScores(f, score, regs, dkFlat, qkEnv, nest);
  return { prologue, inTile };
}

const hasAny = (axes: readonly string[]) => (n: Node) => n.axes.some((a) => axes.includes(a));
const rowsOf = (R: number, line: (r: number) => string) => Array.from({ length: R }, (_, r) => line(r));

/** The query rows' side of the product, loaded once into registers (f16 under f16 compute: half the registers). */
function cachedQuery(f: FlashFrame, score: FlashScore, regs: ScoreRegs, dk: number, dkFlat: string, qkEnv: Env, nest: Nest): string[] {
  const { kb, main, f16 } = f;
  const qSide = score.einsum.operands.filter((o) => !o.axes.includes(f.m.kv));
  const qScope = main.child({ hoist: (n) => !hasAny(score.qkDims)(n), loopVars: Object.values(qkEnv) });
  const prologue: string[] = [];
  const fill: string[] = [];
  for (let r = 0; r < f.geo.R; r++) {
    prologue.push(`var ${regs.q(r)}: array<${f16 ? 'f16' : 'f32'}, ${Math.max(1, dk)}>;`);
    const terms = qSide.map((o) => qScope.value(o, { ...f.envR[r]!, ...qkEnv }));
    fill.push(`${regs.q(r)}[${dkFlat}] = ${f16 ? `f16(${kb.product(terms)})` : terms.join(' * ') || '1.0'};`);
  }
  prologue.push(...nest([...qScope.lines, ...fill]));
  return prologue;
}

/** The K side of the product at key index `key`, in the kernel's compute type (f16 rounds it). */
function kValue(f: FlashFrame, score: FlashScore, scope: Scope, qkEnv: Env, key: string): string {
  const kSide = score.einsum.operands.filter((o) => o.axes.includes(f.m.kv));
  const kVals = kSide.map((o) => scope.value(o, { ...f.batchEnv, ...qkEnv, [f.m.kv]: key }));
  return f.f16 ? `f16(${f.kb.product(kVals)})` : kVals.join(' * ') || '1.0';
}

/** Cached Q, one key at a time: each K element is loaded once for all R rows. */
function cachedScores(f: FlashFrame, score: FlashScore, regs: ScoreRegs, dkFlat: string, qkEnv: Env, nest: Nest): string[] {
  const { main, j, tv, t0, end, f16, geo } = f;
  const jScope = main.child({ hoist: (n) => !n.axes.includes(f.m.kv), loopVars: [tv, j] });
  const kScope = jScope.child({ hoist: (n) => !hasAny(score.qkDims)(n), loopVars: Object.values(qkEnv) });
  const kt = kValue(f, score, kScope, qkEnv, tv);
  const { dot, kv } = regs;
  const fma = (r: number) => `${dot(r)} += ${f16 ? `f32(${regs.q(r)}[${dkFlat}] * ${kv})` : `${regs.q(r)}[${dkFlat}] * ${kv}`};`;
  return [
    `for (var ${j} = 0u; ${j} < ${geo.TK}u; ${j}++) {`,
    `  let ${tv} = min(${t0} + ${j}, ${end} - 1u);`,
    ...indent(jScope.lines, 1),
    ...rowsOf(geo.R, (r) => `  var ${dot(r)} = 0.0;`),
    ...indent(nest([...kScope.lines, `let ${kv} = ${kt};`, ...rowsOf(geo.R, fma)]), 1),
    ...rowsOf(geo.R, (r) => `  ${regs.tile(r)}[${j}] = ${dot(r)};`),
    '}',
  ];
}

/** Q not cached (qk dims known only at dispatch): qk dims outermost, so each Q element loads once per tile. */
function streamedScores(f: FlashFrame, score: FlashScore, regs: ScoreRegs, qkEnv: Env, nest: Nest): string[] {
  const { kb, main, j, tv, t0, end, geo } = f;
  const t = f.m.kv;
  const dkScope = main.child({ hoist: (n) => !hasAny(score.qkDims)(n), loopVars: Object.values(qkEnv) });
  const jScope = dkScope.child({ hoist: (n) => !n.axes.includes(t), loopVars: [tv, j] });
  const dots: string[] = [];
  for (let r = 0; r < geo.R; r++) {
    const env = { ...f.envR[r]!, ...qkEnv, [t]: tv };
    const terms = score.einsum.operands.map((o) => (o.axes.includes(t) ? jScope : dkScope).value(o, env));
    dots.push(`${regs.tile(r)}[${j}] += ${kb.product(terms)};`);
  }
  return [
    `for (var ${j} = 0u; ${j} < ${geo.TK}u; ${j}++) { ${rowsOf(geo.R, (r) => `${regs.tile(r)}[${j}] = 0.0;`).join(' ')} }`,
    ...nest([
      ...dkScope.lines,
      `for (var ${j} = 0u; ${j} < ${geo.TK}u; ${j}++) {`,
      `  let ${tv} = min(${t0} + ${j}, ${end} - 1u);`,
      ...indent([...jScope.lines, ...dots], 1),
      '}',
    ]),
  ];
}

/**
 * The cached-Q product with `qkBlock` keys per register block: per qk element, the R cached
 * query values and the block's K values are loaded once and feed R × qkBlock running dot
 * products, all named registers (unrolled in the WGSL text, so no private array is indexed).
 * Fewer loads per multiply-add than one key at a time (R + B loads for R·B of them instead
 * of R + 1 for R); on lavapipe 16 keys × 8 rows made MHA prefill about 10% faster.
 */
function blockedScores(f: FlashFrame, B: number, score: FlashScore, regs: ScoreRegs, dkFlat: string, qkEnv: Env, nest: Nest): string[] {
  const { main, j, t0, end, f16, geo } = f;
  const keys = Array.from({ length: B }, (_, b) => b);
  const tks = keys.map((b) => regs.blockKey(b));
  const jScope = main.child({ hoist: (n) => !n.axes.includes(f.m.kv), loopVars: [j, ...tks] });
  const kScope = jScope.child({ hoist: (n) => !hasAny(score.qkDims)(n), loopVars: Object.values(qkEnv) });
  const kts = keys.map((b) => kValue(f, score, kScope, qkEnv, tks[b]!));
  const q = (r: number) => `${regs.q(r)}[${dkFlat}]`;
  const fma = (r: number, b: number) => `${regs.blockDot(r, b)} += ${f16 ? `f32(${q(r)} * ${regs.blockKv(b)})` : `${q(r)} * ${regs.blockKv(b)}`};`;
  const rows = Array.from({ length: geo.R }, (_, r) => r);
  return [
    `for (var ${j} = 0u; ${j} < ${geo.TK}u; ${j} += ${B}u) {`,
    ...keys.map((b) => `  let ${tks[b]} = min(${t0} + ${j} + ${b}u, ${end} - 1u);`),
    ...indent(jScope.lines, 1),
    ...rows.map((r) => `  ${keys.map((b) => `var ${regs.blockDot(r, b)} = 0.0;`).join(' ')}`),
    ...indent(nest([...kScope.lines, ...keys.map((b) => `let ${regs.blockKv(b)} = ${kts[b]};`), ...rows.map((r) => keys.map((b) => fma(r, b)).join(' '))]), 1),
    ...rows.map((r) => `  ${keys.map((b) => `${regs.tile(r)}[${j} + ${b}u] = ${regs.blockDot(r, b)};`).join(' ')}`),
    '}',
  ];
}
