/**
 * Steps 2 to 5 of the flash kernel (step 1, the scores, is scores.ts), each a function of the
 * kernel's frame: the key range and block code that open the tile loop, the score mod with
 * bounds and mask (2), the online softmax (3), O = O·alpha + P·V (4) and the finish (5).
 */
import { nodesBetween, type Node } from '../../ir/index.ts';
import type { PlanBuffer } from '../../runtime/plan.ts';
import { indent } from '../kernels/frame.ts';
import { axisVar, NEG_INF, offset, type BufferRef } from '../wgsl.ts';
import { BLOCK_EMPTY, BLOCK_PARTIAL } from './context.ts';
import type { FlashFrame } from './frame.ts';
import { keyEnd } from './length.ts';

/**
 * The KV tiles this workgroup streams: those of keys below the end of the key range, which is
 * the declared length min(T, kv_len[b]) when the mask has one (keys past it are never read),
 * else T; split-KV shares them among the splits, so a short sequence still spreads over all.
 */
export function keyRange(f: FlashFrame): string[] {
  const { m, lo, hi, nTe, nSp, sp } = f;
  const lines: string[] = [];
  if (m.length) lines.push(keyEnd(f.main, m.length, f.batchEnv, f.T, f.end));
  if (f.split.on) {
    const per = f.I('per');
    lines.push(`let ${per} = (${nTe} + ${nSp} - 1u) / ${nSp};`, `let ${lo} = ${sp} * ${per};`, `let ${hi} = min(${lo} + ${per}, ${nTe});`);
  } else lines.push(`let ${lo} = 0u;`, `let ${hi} = ${nTe};`);
  if (f.ctx.debugTiles) lines.push(`var ${f.loaded} = 0u;`);
  return lines;
}

/** The tile loop around `body`: every tile of the range, or with lanes every kvLanes-th from the lane's own. */
export function tileLoop(f: FlashFrame, body: string[]): string[] {
  const { tile, lo, hi, lane, geo } = f;
  const head = geo.KL > 1 ? `for (var ${tile} = ${lo} + ${lane}; ${tile} < ${hi}; ${tile} += ${geo.KL}u) {` : `for (var ${tile} = ${lo}; ${tile} < ${hi}; ${tile}++) {`;
  return [head, ...indent(body, 1), '}'];
}

/** The tile's first statements: its block code (empty tiles are skipped before K or V is read), the debug count, its first key. */
export function tileHead(f: FlashFrame): string[] {
  const { kb, blocks, tile, partial } = f;
  const lines: string[] = [];
  if (blocks) {
    const code = f.I('code');
    const mb = offset({ axes: f.maskBatch }, f.batchEnv, kb);
    lines.push(
      `let ${code} = ${blocks.ident}[(${mb} * ${f.nRB} + ${f.rblk}) * ${f.nT} + ${tile}];`,
      `if (${code} == ${BLOCK_EMPTY}i) { continue; } // fully masked: K and V of this tile are never read`,
      `let ${partial} = ${code} == ${BLOCK_PARTIAL}i;`,
    );
    kb.read(blocks);
  }
  if (f.ctx.debugTiles) lines.push(`${f.loaded}++;`);
  lines.push(`let ${f.t0} = ${tile} * ${f.geo.TK}u;`);
  return lines;
}

/**
 * Step 2: the score mod with each contraction's tile standing for it, the key bounds and (in
 * partial blocks only: full blocks skip it) the mask; a masked or out-of-range score is -inf.
 */
export function scoreMod(f: FlashFrame): string[] {
  const { m, main, j, tv, t0, end, sc } = f;
  const t = m.kv;
  const mask = m.softmax.mask;
  const inRange = f.I('in');
  const modLines = [`let ${tv} = min(${t0} + ${j}, ${end} - 1u);`, `let ${inRange} = ${t0} + ${j} < ${end};`];
  const maskLines: string[] = [];
  const selects: string[] = [];
  const ok = (r: number) => f.I(`ok${r}`);
  const notKey = (n: Node) => !n.axes.includes(t);
  for (let r = 0; r < f.geo.R; r++) {
    const env = { ...f.envR[r]!, [t]: tv };
    const tileOf = new Map<Node, string>(m.scores.map((c, i) => [c.einsum, `${f.scoreRegs[i]!.tile(r)}[${j}]`]));
    const epi = main.child({ override: (n) => tileOf.get(n), hoist: notKey, loopVars: [tv, j, inRange] });
    const x = epi.value(m.softmax.x, env);
    modLines.push(...epi.lines, `var ${ok(r)} = ${inRange};`);
    if (mask) {
      const ms = main.child({ hoist: notKey, loopVars: [tv, j, inRange] });
      const mval = ms.value(mask, env);
      maskLines.push(...ms.lines, `${ok(r)} = ${ok(r)} && ${mval};`);
    }
    selects.push(`${sc(r)}[${j}] = select(${NEG_INF}, ${x}, ${ok(r)});`);
  }
  const masked = mask ? (f.blocks ? [`if (${f.partial}) {`, ...indent(maskLines, 1), '}'] : maskLines) : [];
  return [`for (var ${j} = 0u; ${j} < ${f.geo.TK}u; ${j}++) {`, ...indent([...modLines, ...masked, ...selects], 1), '}'];
}

/** Step 3: the online softmax, per row: the new running max, the rescale factor alpha, the tile's probabilities and sum. */
export function onlineSoftmax(f: FlashFrame): string[] {
  const { j, mv, lv, sc } = f;
  const TK = f.geo.TK;
  const lines: string[] = [];
  for (let r = 0; r < f.geo.R; r++) {
    const [mt, alpha, ps, p] = [f.I(`mt${r}`), alphaOf(f, r), f.I(`ps${r}`), f.I(`p${r}`)];
    lines.push(
      `var ${mt} = ${mv(r)};`,
      `for (var ${j} = 0u; ${j} < ${TK}u; ${j}++) { ${mt} = max(${mt}, ${sc(r)}[${j}]); }`,
      // with nothing live yet (mt = -inf) the sum and accumulator are 0 and alpha is moot
      `let ${alpha} = select(exp(${mv(r)} - ${mt}), 1.0, ${mt} == ${NEG_INF});`,
      `var ${ps} = 0.0;`,
      `for (var ${j} = 0u; ${j} < ${TK}u; ${j}++) { let ${p} = select(exp(${sc(r)}[${j}] - ${mt}), 0.0, ${sc(r)}[${j}] == ${NEG_INF}); ${sc(r)}[${j}] = ${p}; ${ps} += ${p}; }`,
      `${lv(r)} = ${lv(r)} * ${alpha} + ${ps};`,
      `${mv(r)} = ${mt};`,
    );
  }
  return lines;
}

/** Row r's rescale factor exp(m_old - m_new) of the current tile. */
const alphaOf = (f: FlashFrame, r: number) => f.I(`alpha${r}`);

/** Whether the value chunks cover the static value head dim exactly (no column past it: no guard, no clamp). */
const exactChunks = (f: FlashFrame) => f.geo.dvStatic !== undefined && f.geo.DVC * Math.ceil(f.geo.dvStatic / f.geo.DVC) === f.geo.dvStatic;

/** The statements that split the flat value column `dv` into the value head dims' variables. */
function valueColumns(f: FlashFrame): { dvFlat: string; decl: string[] } {
  const dvFlat = f.I('dv');
  const vars = f.m.vDims.map((a) => axisVar(a));
  const decl = f.m.vDims.length === 1 ? [`let ${vars[0]} = ${dvFlat};`] : f.kb.decompose(f.m.vDims.map((a) => [axisVar(a), f.kb.size(a)]), dvFlat, f.I('dvrest'));
  return { dvFlat, decl };
}

/** Step 4: O = O·alpha + P·V, one value column at a time in registers, V loaded once per (key, column) for all R rows. */
export function pvProduct(f: FlashFrame): string[] {
  const { m, main, j, tv, t0, end, cc, c0, acc, sc, kb } = f;
  const t = m.kv;
  const dvClamp = exactChunks(f) ? `${c0} + ${cc}` : `min(${c0} + ${cc}, ${f.DVn} - 1u)`;
  const cScope = main.child({ hoist: (n) => !n.axes.some((a) => m.vDims.includes(a)), loopVars: [cc, ...m.vDims.map((a) => axisVar(a))] });
  const vScope = cScope.child({ hoist: (n) => !n.axes.includes(t), loopVars: [tv, j] });
  const { dvFlat, decl } = valueColumns(f);
  const vEnv = { ...f.batchEnv, [t]: tv, ...Object.fromEntries(m.vDims.map((a) => [a, axisVar(a)])) };
  const vVal = vScope.value(m.value, vEnv);
  const o = (r: number) => f.I(`o${r}`);
  const rows = (line: (r: number) => string) => Array.from({ length: f.geo.R }, (_, r) => line(r));
  return [
    `for (var ${cc} = 0u; ${cc} < ${f.geo.DVC}u; ${cc}++) {`,
    `  let ${dvFlat} = ${dvClamp};`,
    ...indent([...decl, ...cScope.lines], 1),
    ...rows((r) => `  var ${o(r)} = ${acc(r)}[${cc}] * ${alphaOf(f, r)};`),
    `  for (var ${j} = 0u; ${j} < ${f.geo.TK}u; ${j}++) {`,
    `    let ${tv} = min(${t0} + ${j}, ${end} - 1u);`,
    ...indent([...vScope.lines, ...rows((r) => `${o(r)} += ${kb.product([`${sc(r)}[${j}]`, vVal])};`)], 2),
    '  }',
    ...rows((r) => `  ${acc(r)}[${cc}] = ${o(r)};`),
    '}',
  ];
}

/** What step 5 adds: its statements, the buffers the kernel writes, and the temporaries it declares. */
export interface Finish {
  lines: string[];
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
    out.lines.push(`if (${f.row(r)} < ${f.Q}) {`, ...indent(inner, 1), '}');
  }
  return out;
}

/** A split's normalised partial output and log-sum-exp of row r. */
function writePartial(f: FlashFrame, r: number, B: string, opart: BufferRef, lpart: BufferRef): string[] {
  const { cc, c0, lv, mv, acc } = f;
  const inv = f.I(`inv${r}`);
  const dvFlat = f.I('dv');
  const rowLin = `(${f.sp} * ${B} + ${f.bflat}) * ${f.Q} + ${f.row(r)}`;
  return [
    `let ${inv} = select(0.0, 1.0 / ${lv(r)}, ${lv(r)} > 0.0);`,
    `for (var ${cc} = 0u; ${cc} < ${f.geo.DVC}u; ${cc}++) {`,
    `  let ${dvFlat} = ${c0} + ${cc};`,
    `  if (${dvFlat} < ${f.DVn}) { ${opart.ident}[(${rowLin}) * ${f.DVn} + ${dvFlat}] = ${acc(r)}[${cc}] * ${inv}; }`,
    '}',
    `if (${f.chunk} == 0u) { ${lpart.ident}[${rowLin}] = select(${NEG_INF}, ${mv(r)} + log(${lv(r)}), ${lv(r)} > 0.0); }`,
  ];
}

/** Row r's output: 1/l (with the sink: rescaled, and its exp joining the denominator), the epilogue, the stores, the lse. */
function writeRow(f: FlashFrame, r: number): string[] {
  const { m, ctx, kb, main, cc, c0, lv, mv, acc } = f;
  const lines: string[] = [];
  const inv = f.I(`inv${r}`);
  let scale = '1.0';
  let denom = lv(r);
  if (m.softmax.sink) {
    const sk = main.value(m.softmax.sink, f.envR[r]!);
    const [m2, fs, ls] = [f.I(`msink${r}`), f.I(`fsink${r}`), f.I(`lsink${r}`)];
    lines.push(
      `let ${m2} = max(${mv(r)}, ${sk});`,
      `let ${fs} = select(exp(${mv(r)} - ${m2}), 0.0, ${mv(r)} == ${NEG_INF});`,
      `let ${ls} = ${lv(r)} * ${fs} + select(exp(${sk} - ${m2}), 0.0, ${sk} == ${NEG_INF});`,
    );
    [scale, denom] = [fs, ls];
  }
  lines.push(`let ${inv} = select(0.0, ${scale} / ${denom}, ${denom} > 0.0);`);
  const path = nodesBetween(ctx.root, m.out);
  const store = main.child({
    override: (n) => (n === m.out ? `(${acc(r)}[${cc}] * ${inv})` : undefined),
    hoist: (n) => !path.has(n.id) && !n.axes.some((a) => m.vDims.includes(a)),
  });
  const env = { ...f.envR[r]!, ...Object.fromEntries(m.vDims.map((a) => [a, axisVar(a)])) };
  const v = store.value(ctx.root, env);
  const { dvFlat, decl } = valueColumns(f);
  const write = [...decl, ...store.lines, kb.store(ctx.out, env, v)];
  lines.push(
    `for (var ${cc} = 0u; ${cc} < ${f.geo.DVC}u; ${cc}++) {`,
    `  let ${dvFlat} = ${c0} + ${cc};`,
    ...indent(exactChunks(f) ? write : [`if (${dvFlat} < ${f.DVn}) {`, ...indent(write, 1), '}'], 1),
    '}',
  );
  for (const l of ctx.lse) lines.push(`if (${f.chunk} == 0u) { ${kb.store(l, f.envR[r]!, `select(${NEG_INF}, ${mv(r)} + log(${lv(r)}), ${lv(r)} > 0.0)`)} }`);
  return lines;
}
