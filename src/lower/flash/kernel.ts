/**
 * WGSL emission of the fused attention kernel (unsplit, or one split of split-KV);
 * it adds the block-mask kernel (blocks.ts) and the split-KV merge (merge.ts). The
 * design is described at the top of `index.ts`.
 */
import { nodesBetween, staticSize, type Node } from '../../ir/index.ts';
import type { PlanBuffer, PlanKernel, SizeExpr } from '../../runtime/plan.ts';
import { evalSize } from '../../runtime/sizes.ts';
import { indent, KernelBuilder } from '../kernels/frame.ts';
import { axisVar, NEG_INF, offset, Scope, type BufferRef, type Env } from '../wgsl.ts';
import { blockMaskKernel } from './blocks.ts';
import { BLOCK_EMPTY, BLOCK_PARTIAL, named, planKernel, type FlashContext, type FlashEmit } from './context.ts';
import { keyEnd } from './length.ts';
import type { FlashMatch, FlashScore } from './match.ts';
import { laneMerge } from './lanes.ts';
import { mergeKernel } from './merge.ts';
import { qkBlockOf, type FlashSchedule } from './schedule.ts';

export { BLOCK_EMPTY, BLOCK_FULL, BLOCK_PARTIAL, type FlashContext, type FlashEmit } from './context.ts';
const prod = (xs: readonly SizeExpr[]): SizeExpr => (xs.length === 0 ? 1 : xs.length === 1 ? xs[0]! : ['*', ...xs]);

/** The tiling of one match under one schedule, as numbers and size expressions. */
export function flashGeometry(m: FlashMatch, sch: FlashSchedule, staticSizes: Readonly<Record<string, number>>) {
  const R = m.rows.length ? sch.rows : 1; // without query rows every row would be the same one
  const TK = sch.kvTile;
  const WG = sch.workgroup;
  const KL = sch.kvLanes;
  const BR = R * (WG / KL);
  const dvStatic = m.vDims.every((a) => staticSize(staticSizes, a) !== undefined) ? m.vDims.reduce((p, a) => p * staticSizes[a]!, 1) : undefined;
  // a static value head dim is taken whole, or in equal chunks of at most maxDvChunk
  const DVC = dvStatic !== undefined ? Math.ceil(dvStatic / Math.ceil(dvStatic / sch.maxDvChunk)) : sch.dvChunk;
  const qRows: SizeExpr = prod(m.rows);
  const dvCount: SizeExpr = prod(m.vDims);
  const nRowBlocks: SizeExpr = ['cdiv', qRows, BR];
  const nChunks: SizeExpr = dvStatic !== undefined ? Math.ceil(dvStatic / DVC) : ['cdiv', dvCount, DVC];
  const nTiles: SizeExpr = ['cdiv', m.kv, TK];
  const batchCount: SizeExpr = prod(m.batch);
  // enough splits to reach the target workgroup count, never fewer tiles per split than asked
  const unsplit: SizeExpr = ['*', batchCount, nChunks, nRowBlocks];
  const autoSplits: SizeExpr = ['max', 1, ['min', ['cdiv', sch.targetWorkgroups, unsplit], ['cdiv', nTiles, sch.minTilesPerSplit]]];
  return { R, TK, WG, KL, BR, dvStatic, DVC, qRows, dvCount, nRowBlocks, nChunks, nTiles, batchCount, autoSplits };
}

/**
 * The split count the auto rule picks for these sizes (1 = one pass).
 * @example autoSplit(findFlash(mha()).matches[0], { b: 1, h: 8, s: 1, t: 4096, d: 64, dv: 64 }, flashSchedule()) // 4
 */
export function autoSplit(m: FlashMatch, sizes: Record<string, number>, sch: FlashSchedule, staticSizes: Readonly<Record<string, number>> = {}): number {
  return evalSize(flashGeometry(m, sch, staticSizes).autoSplits, sizes);
}

/**
 * Emits the kernels of one matched attention pattern.
 * @example const { kernels } = emitFlash(ctx) // [block mask?, flash, merge?]
 */
export function emitFlash(ctx: FlashContext): FlashEmit {
  const { match: m, schedule: sch, staticSizes } = ctx;
  const t = m.kv;
  const { R, TK, WG, KL, BR, dvStatic, DVC, nRowBlocks, nChunks, nTiles, batchCount, autoSplits } = flashGeometry(m, sch, staticSizes);
  const mask = m.softmax.mask;
  const maskBatch = mask ? m.batch.filter((a) => mask.axes.includes(a)) : [];
  const useBlocks = !!mask && sch.blockMask;

  const derivedSizes: FlashEmit['derivedSizes'] = [];
  const buffers: PlanBuffer[] = [];
  const kernels: PlanKernel[] = [];
  let splitSize: SizeExpr = 1;
  const splitName = ctx.internal('splits');
  if (ctx.split === 'dynamic') {
    derivedSizes.push({ name: splitName, expr: autoSplits });
    splitSize = splitName;
  } else if (ctx.split > 1) splitSize = ctx.split;
  const split = splitSize !== 1;

  // per contraction: the static QK extent when its Q side is cached in registers, and the keys
  // per register block of its score product (blocked only where Q is cached)
  const qCached = m.scores.map((c) => cachedQk(c, staticSizes, sch.maxQCache));
  const qkBlocks = qCached.map((dk) => (dk === undefined ? 1 : qkBlockOf(sch, dk)));
  const schedText =
    `schedule: ${R} row${R > 1 ? 's' : ''} x ${WG / KL} invocations per workgroup (${BR} query rows of [${m.rows.join(' ') || '-'}])` +
    `${KL > 1 ? `, ${KL} invocations per row tile each streaming every ${KL}th KV tile` : ''}, ` +
    `KV tile ${TK} of '${t}' streamed through registers with an online softmax, ` +
    `value columns ${DVC} per invocation${dvStatic !== undefined && DVC >= dvStatic ? '' : ' (chunked)'}` +
    `${qkBlocks.some((b) => b > 1) ? `, scores in register blocks of ${qkBlocks.join(' / ')} key${qkBlocks.length > 1 ? 's per contraction' : 's'}` : ''}` +
    `${useBlocks ? ', block mask (empty tiles skipped, full tiles unmasked)' : mask ? ', mask per element' : ''}` +
    `${m.length ? `, keys end at the declared length ${ctx.describe.length ?? ''} (nothing past it is read)` : ''}` +
    `${split ? `, split-KV into ${typeof splitSize === 'number' ? splitSize : 'auto'} parts + merge` : ''}` +
    `${KL > 1 ? (sch.subgroups ? `, lanes merged by subgroup shuffles (no workgroup memory)` : `, lanes merged through workgroup memory (one barrier)`) : ', no workgroup memory'}`;
  const headerBase = [
    ...ctx.header,
    `scores = ${ctx.describe.scores}`,
    // several contractions: each streamed into its own score tile (contraction c's registers are named _c<c>…)
    ...(m.scores.length > 1 ? m.scores.map((c, i) => `  contraction ${i} over [${c.qkDims.join(' ')}]: ${ctx.describe.contractions[i]}`) : []),
    ...(ctx.describe.mask ? [`mask = ${ctx.describe.mask}`] : []),
    ...(ctx.describe.sink ? [`sink = ${ctx.describe.sink}`] : []),
    `${ctx.out.name} = ${ctx.describe.out}`,
    `axes: batch [${m.batch.join(' ')}], rows [${m.rows.join(' ')}], kv '${t}', qk dims ${m.scores.map((c) => `[${c.qkDims.join(' ')}]`).join(', ')}, v dims [${m.vDims.join(' ')}]`,
  ];

  // ---- block mask ------------------------------------------------------------------
  let blocks: BufferRef | undefined;
  if (useBlocks) {
    const name = ctx.internal('blocks');
    blocks = { name, ident: name, axes: [...maskBatch, `${name}_r`, `${name}_t`], dtype: 'i32' };
    buffers.push({ name, dtype: 'i32', shape: [...maskBatch, nRowBlocks, nTiles], role: 'temp', axes: [...blocks.axes] });
    kernels.push(blockMaskKernel(ctx, blocks, maskBatch, BR, TK, nRowBlocks, nTiles, headerBase));
  }

  // ---- the flash kernel ------------------------------------------------------------
  const kb = new KernelBuilder(staticSizes, ctx.buffers, ctx.axes, ctx.compute);
  const f16 = ctx.compute === 'f16';
  const I = (w: string) => named(kb, w);
  const T = kb.size(t);
  const Q = kb.count(m.rows);
  const DVn = kb.count(m.vDims);
  const nRB = `((${Q} + ${BR - 1}u) / ${BR}u)`;
  const nT = `((${T} + ${TK - 1}u) / ${TK}u)`;
  const nCh = dvStatic !== undefined ? `${Math.ceil(dvStatic / DVC)}u` : `((${DVn} + ${DVC - 1}u) / ${DVC}u)`;
  const nSp = split ? (typeof splitSize === 'number' ? `${splitSize}u` : kb.size(splitName)) : '1u';
  const [wg, lid] = [I('wg'), I('lid')];
  const [rblk, chunk, sp, bflat, c0] = [I('rblk'), I('chunk'), I('split'), I('bflat'), I('c0')];
  const body: string[] = [];
  const rest = I('rest');
  body.push(
    `var ${rest} = ${wg};`,
    `let ${rblk} = ${rest} % ${nRB}; ${rest} = ${rest} / ${nRB};`,
    `let ${chunk} = ${rest} % ${nCh}; ${rest} = ${rest} / ${nCh};`,
    ...(split ? [`let ${sp} = ${rest} % ${nSp}; ${rest} = ${rest} / ${nSp};`] : []),
    `let ${bflat} = ${rest};`,
    ...kb.decompose(m.batch.map((a) => [axisVar(a), kb.size(a)]), bflat, I('brest')),
    `let ${c0} = ${chunk} * ${DVC}u;`,
  );
  // with kvLanes > 1, invocation lid = (row tile, lane): lanes of one row tile split its KV tiles
  const [lane, rinv] = [I('lane'), I('rinv')];
  if (KL > 1) body.push(`let ${lane} = ${lid} % ${KL}u;`, `let ${rinv} = ${lid} / ${KL}u;`);
  const batchEnv: Record<string, string> = Object.fromEntries(m.batch.map((a) => [a, axisVar(a)]));
  const rowVar = (r: number) => I(`row${r}`);
  const envR: Env[] = [];
  for (let r = 0; r < R; r++) {
    const rv = rowVar(r);
    body.push(`let ${rv} = ${rblk} * ${BR}u + ${KL > 1 ? rinv : lid} * ${R}u + ${r}u;`);
    const vars = m.rows.map((a) => I(`${a}_${r}`));
    body.push(...kb.decompose(m.rows.map((a, i) => [vars[i]!, kb.size(a)]), `min(${rv}, ${Q} - 1u)`, I(`rrest${r}`)));
    envR.push({ ...batchEnv, ...Object.fromEntries(m.rows.map((a, i) => [a, vars[i]!])) });
  }
  const main = new Scope(kb, kb.counter);
  const [mv, lv, acc, sc] = [(r: number) => I(`m${r}`), (r: number) => I(`l${r}`), (r: number) => I(`acc${r}`), (r: number) => I(`s${r}`)];
  const state: string[] = [];
  for (let r = 0; r < R; r++)
    state.push(`var ${mv(r)}: f32 = ${NEG_INF};`, `var ${lv(r)}: f32 = 0.0;`, `var ${acc(r)}: array<f32, ${DVC}>;`, `var ${sc(r)}: array<f32, ${TK}>;`);
  // the registers of score contraction c: contraction 0's score tile is sc (which then holds the
  // logits and the probabilities), every other one has a tile of its own; c > 0 names start with c<c>
  const scoreRegs = m.scores.map((_, c): ScoreRegs => {
    const reg = (word: string) => I(c === 0 ? word : `c${c}${word}`);
    return { tile: (r) => reg(`s${r}`), q: (r) => reg(`q${r}`), dot: (r) => reg(`dot${r}`), kv: reg('kv'), blockDot: (r, b) => reg(`dot${r}k${b}`), blockKey: (b) => reg(`tk${b}`), blockKv: (b) => reg(`kv${b}`) };
  });
  for (const regs of scoreRegs.slice(1)) for (let r = 0; r < R; r++) state.push(`var ${regs.tile(r)}: array<f32, ${TK}>;`);

  // the KV tiles this workgroup streams: those of keys below the end of the key range, which is
  // the declared length min(T, kv_len[b]) when the mask has one (keys past it are never read), else T
  const [tile, lo, hi, t0, j, tv, cc] = [I('tile'), I('lo'), I('hi'), I('t0'), I('j'), axisVar(t), I('c')];
  const loop: string[] = [];
  const end = m.length ? I('tend') : T;
  if (m.length) loop.push(keyEnd(main, m.length, batchEnv, T, end));
  const nTe = m.length ? `((${end} + ${TK - 1}u) / ${TK}u)` : nT;
  if (split) {
    // the splits share the tiles up to the end, so a short sequence still spreads over all of them
    const per = I('per');
    loop.push(`let ${per} = (${nTe} + ${nSp} - 1u) / ${nSp};`, `let ${lo} = ${sp} * ${per};`, `let ${hi} = min(${lo} + ${per}, ${nTe});`);
  } else loop.push(`let ${lo} = 0u;`, `let ${hi} = ${nTe};`);
  const loaded = I('loaded');
  const loadedAll = I('loaded_all');
  if (ctx.debugTiles) loop.push(`var ${loaded} = 0u;`);
  const inTile: string[] = [];
  const partial = I('partial');
  if (blocks) {
    const code = I('code');
    const mb = offset({ axes: maskBatch }, batchEnv, kb);
    inTile.push(
      `let ${code} = ${blocks.ident}[(${mb} * ${nRB} + ${rblk}) * ${nT} + ${tile}];`,
      `if (${code} == ${BLOCK_EMPTY}i) { continue; } // fully masked: K and V of this tile are never read`,
      `let ${partial} = ${code} == ${BLOCK_PARTIAL}i;`,
    );
    kb.read(blocks);
  }
  if (ctx.debugTiles) inTile.push(`${loaded}++;`);
  inTile.push(`let ${t0} = ${tile} * ${TK}u;`);

  // 1. scores Sᵢ = Σ_qk Qᵢ·Kᵢ for R rows × TK keys, one tile per contraction
  const frame: ScoreFrame = { kb, main, R, TK, t, T: end, t0, j, tv, batchEnv, envR, f16 };
  const prologue: string[] = [];
  m.scores.forEach((score, c) => {
    const emitted = scoreTile(frame, score, scoreRegs[c]!, qCached[c], qkBlocks[c]!);
    prologue.push(...emitted.prologue);
    inTile.push(...emitted.inTile);
  });

  // 2. score mod, key bounds and (in partial blocks only) the mask
  const modLines: string[] = [];
  const inRange = I('in');
  modLines.push(`let ${tv} = min(${t0} + ${j}, ${end} - 1u);`, `let ${inRange} = ${t0} + ${j} < ${end};`);
  const maskLines: string[] = [];
  const selects: string[] = [];
  const ok = (r: number) => I(`ok${r}`);
  for (let r = 0; r < R; r++) {
    const env = { ...envR[r]!, [t]: tv };
    // each contraction stands for itself through its score tile
    const tileOf = new Map<Node, string>(m.scores.map((c, i) => [c.einsum, `${scoreRegs[i]!.tile(r)}[${j}]`]));
    const epi = main.child({ override: (n) => tileOf.get(n), hoist: (n) => !n.axes.includes(t), loopVars: [tv, j, inRange] });
    const x = epi.value(m.softmax.x, env);
    modLines.push(...epi.lines, `var ${ok(r)} = ${inRange};`);
    if (mask) {
      const ms = main.child({ hoist: (n) => !n.axes.includes(t), loopVars: [tv, j, inRange] });
      const mval = ms.value(mask, env);
      maskLines.push(...ms.lines, `${ok(r)} = ${ok(r)} && ${mval};`);
    }
    selects.push(`${sc(r)}[${j}] = select(${NEG_INF}, ${x}, ${ok(r)});`);
  }
  // full blocks skip the mask: it is evaluated only where the block code says partial
  const modBody = [...modLines, ...(mask ? (blocks ? [`if (${partial}) {`, ...indent(maskLines, 1), '}'] : maskLines) : []), ...selects];
  inTile.push(`for (var ${j} = 0u; ${j} < ${TK}u; ${j}++) {`, ...indent(modBody, 1), '}');

  // 3. online softmax: new running max, rescale the sum (the accumulator is rescaled in 4)
  const alphaVar = (r: number) => I(`alpha${r}`);
  for (let r = 0; r < R; r++) {
    const [mt, alpha, ps, p] = [I(`mt${r}`), alphaVar(r), I(`ps${r}`), I(`p${r}`)];
    inTile.push(
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

  // 4. O = O * alpha + P·V, one column at a time held in registers, V loaded once per (key, column) for all R rows
  const dvClamp = dvStatic !== undefined && DVC * Math.ceil(dvStatic / DVC) === dvStatic ? `${c0} + ${cc}` : `min(${c0} + ${cc}, ${DVn} - 1u)`;
  const cScope = main.child({ hoist: (n) => !n.axes.some((a) => m.vDims.includes(a)), loopVars: [cc, ...m.vDims.map((a) => axisVar(a))] });
  const vScope = cScope.child({ hoist: (n) => !n.axes.includes(t), loopVars: [tv, j] });
  const dvFlat = I('dv');
  const dvVars = m.vDims.map((a) => axisVar(a));
  const dvDecl = m.vDims.length === 1
    ? [`let ${dvVars[0]} = ${dvFlat};`]
    : kb.decompose(m.vDims.map((a) => [axisVar(a), kb.size(a)]), dvFlat, I('dvrest'));
  const vEnv = { ...batchEnv, [t]: tv, ...Object.fromEntries(m.vDims.map((a) => [a, axisVar(a)])) };
  const vVal = vScope.value(m.value, vEnv);
  const o = (r: number) => I(`o${r}`);
  inTile.push(
    `for (var ${cc} = 0u; ${cc} < ${DVC}u; ${cc}++) {`,
    `  let ${dvFlat} = ${dvClamp};`,
    ...indent([...dvDecl, ...cScope.lines], 1),
    ...Array.from({ length: R }, (_, r) => `  var ${o(r)} = ${acc(r)}[${cc}] * ${alphaVar(r)};`),
    `  for (var ${j} = 0u; ${j} < ${TK}u; ${j}++) {`,
    `    let ${tv} = min(${t0} + ${j}, ${end} - 1u);`,
    ...indent([...vScope.lines, ...Array.from({ length: R }, (_, r) => `${o(r)} += ${kb.product([`${sc(r)}[${j}]`, vVal])};`)], 2),
    '  }',
    ...Array.from({ length: R }, (_, r) => `  ${acc(r)}[${cc}] = ${o(r)};`),
    '}',
  );
  loop.push(KL > 1 ? `for (var ${tile} = ${lo} + ${lane}; ${tile} < ${hi}; ${tile} += ${KL}u) {` : `for (var ${tile} = ${lo}; ${tile} < ${hi}; ${tile}++) {`, ...indent(inTile, 1), '}');

  // 4b. lanes of one row tile merge (m, l, acc); lane 0 continues
  const subgroups = KL > 1 && sch.subgroups;
  const lanes = KL > 1 ? laneMerge({ kb, R, WG, KL, DVC, lane, rinv, m: mv, l: lv, acc, subgroups, debugLoaded: ctx.debugTiles ? { loaded, total: loadedAll } : undefined }) : undefined;
  const merge = lanes?.lines ?? [];
  const shared = lanes?.shared ?? [];
  const sharedBytes = lanes?.bytes ?? 0;
  // 5. finish: normalise once, apply the sink, the epilogue and write; or write a partial (o, lse)
  const outs: BufferRef[] = [];
  const finish: string[] = [];
  let opart: BufferRef | undefined;
  let lpart: BufferRef | undefined;
  if (split) {
    const on = ctx.internal('opart');
    const ln = ctx.internal('lsepart');
    opart = { name: on, ident: on, axes: [splitName, ...m.batch, ...m.rows, ...m.vDims], dtype: 'f32' };
    lpart = { name: ln, ident: ln, axes: [splitName, ...m.batch, ...m.rows], dtype: 'f32' };
    buffers.push(
      { name: on, dtype: 'f32', shape: [splitSize, ...m.batch, ...m.rows, ...m.vDims], role: 'temp', axes: [...opart.axes] },
      { name: ln, dtype: 'f32', shape: [splitSize, ...m.batch, ...m.rows], role: 'temp', axes: [...lpart.axes] },
    );
    outs.push(opart, lpart);
  } else outs.push(ctx.out, ...ctx.lse);
  const B = kb.count(m.batch);
  for (let r = 0; r < R; r++) {
    const rv = rowVar(r);
    const inner: string[] = [];
    const inv = I(`inv${r}`);
    if (split) {
      const rowLin = `(${sp} * ${B} + ${bflat}) * ${Q} + ${rv}`;
      inner.push(
        `let ${inv} = select(0.0, 1.0 / ${lv(r)}, ${lv(r)} > 0.0);`,
        `for (var ${cc} = 0u; ${cc} < ${DVC}u; ${cc}++) {`,
        `  let ${dvFlat} = ${c0} + ${cc};`,
        `  if (${dvFlat} < ${DVn}) { ${opart!.ident}[(${rowLin}) * ${DVn} + ${dvFlat}] = ${acc(r)}[${cc}] * ${inv}; }`,
        '}',
        `if (${chunk} == 0u) { ${lpart!.ident}[${rowLin}] = select(${NEG_INF}, ${mv(r)} + log(${lv(r)}), ${lv(r)} > 0.0); }`,
      );
    } else {
      let scale = `1.0`;
      let denom = lv(r);
      if (m.softmax.sink) {
        const sk = main.value(m.softmax.sink, envR[r]!);
        const [m2, f, ln] = [I(`msink${r}`), I(`fsink${r}`), I(`lsink${r}`)];
        inner.push(
          `let ${m2} = max(${mv(r)}, ${sk});`,
          `let ${f} = select(exp(${mv(r)} - ${m2}), 0.0, ${mv(r)} == ${NEG_INF});`,
          `let ${ln} = ${lv(r)} * ${f} + select(exp(${sk} - ${m2}), 0.0, ${sk} == ${NEG_INF});`,
        );
        scale = f;
        denom = ln;
      }
      inner.push(`let ${inv} = select(0.0, ${scale} / ${denom}, ${denom} > 0.0);`);
      const path = nodesBetween(ctx.root, m.out);
      const store = main.child({
        override: (n) => (n === m.out ? `(${acc(r)}[${cc}] * ${inv})` : undefined),
        hoist: (n) => !path.has(n.id) && !n.axes.some((a) => m.vDims.includes(a)),
      });
      const env = { ...envR[r]!, ...Object.fromEntries(m.vDims.map((a) => [a, axisVar(a)])) };
      const v = store.value(ctx.root, env);
      const guard = dvStatic !== undefined && DVC * Math.ceil(dvStatic / DVC) === dvStatic;
      inner.push(
        `for (var ${cc} = 0u; ${cc} < ${DVC}u; ${cc}++) {`,
        `  let ${dvFlat} = ${c0} + ${cc};`,
        ...indent(guard ? [...dvDecl, ...store.lines, kb.store(ctx.out, env, v)]
          : [`if (${dvFlat} < ${DVn}) {`, ...indent([...dvDecl, ...store.lines, kb.store(ctx.out, env, v)], 1), '}'], 1),
        '}',
      );
      for (const l of ctx.lse)
        inner.push(`if (${chunk} == 0u) { ${kb.store(l, envR[r]!, `select(${NEG_INF}, ${mv(r)} + log(${lv(r)}), ${lv(r)} > 0.0)`)} }`);
    }
    finish.push(`if (${rv} < ${Q}) {`, ...indent(inner, 1), '}');
  }
  let tilesBuf: BufferRef | undefined;
  const totalWg: SizeExpr = ['*', batchCount, nChunks, nRowBlocks, splitSize];
  if (ctx.debugTiles) {
    const name = '_flash_tiles';
    tilesBuf = { name, ident: ctx.internal('flash_tiles'), axes: ['_wg'], dtype: 'i32' };
    buffers.push({ name, dtype: 'i32', shape: [totalWg], role: 'output', axes: ['_wg'] });
    outs.push(tilesBuf);
    finish.push(`if (${lid} == 0u) { ${tilesBuf.ident}[${wg}] = i32(${KL > 1 ? `atomicLoad(&${loadedAll})` : loaded}); }`);
  }
  // only lane 0 of each row tile holds the merged state
  const finished = KL > 1 ? [`if (${lane} == 0u) {`, ...indent(finish, 1), '}'] : finish;
  body.push(...main.lines, ...state, ...prologue, ...loop, ...merge, ...finished);
  const total = `${kb.count(m.batch)} * ${nCh} * ${nRB} * ${nSp}`;
  const flashName = split ? `${ctx.name}_partial` : ctx.name;
  const wgsl = kb.module({ name: flashName, header: [...headerBase, schedText], out: outs, total, body, workgroupSize: WG, perWorkgroup: true, shared, enables: subgroups ? ['subgroups'] : [] });
  const flashKernel = planKernel(kb, flashName, wgsl, WG, totalWg, outs);
  if (subgroups) Object.assign(flashKernel, { features: [...(flashKernel.features ?? []), 'subgroups'], subgroupLanes: KL });
  kernels.push({ ...flashKernel, workgroupStorageBytes: sharedBytes });

  if (split) kernels.push(mergeKernel(ctx, opart!, lpart!, splitSize, splitName, headerBase));
  return { kernels, buffers, derivedSizes, summary: schedText };
}

/** What emitting one score contraction needs from the flash kernel around it. */
interface ScoreFrame {
  kb: KernelBuilder;
  /** the kernel's outermost scope: values that vary with neither key nor qk dims are hoisted into it */
  main: Scope;
  R: number;
  TK: number;
  /**
   * the KV axis; WGSL of the end of its key range (its size, or the declared length: keys are
   * clamped below it), the tile's first key, the key counter and the key index
   */
  t: string;
  T: string;
  t0: string;
  j: string;
  tv: string;
  batchEnv: Env;
  /** per row of the register tile: the batch and query-row index variables */
  envR: Env[];
  f16: boolean;
}

/** The static QK extent of a contraction whose query side is cached in registers (undefined: not cached). */
function cachedQk(c: FlashScore, staticSizes: Readonly<Record<string, number>>, maxQCache: number): number | undefined {
  if (!c.qkDims.every((a) => staticSize(staticSizes, a) !== undefined)) return undefined;
  const dk = c.qkDims.reduce((p, a) => p * staticSizes[a]!, 1);
  return dk <= maxQCache ? dk : undefined;
}

/** The WGSL names of one contraction's registers: its score tile, cached query side, dot products and K value. */
interface ScoreRegs {
  tile: (r: number) => string;
  q: (r: number) => string;
  dot: (r: number) => string;
  kv: string;
  /** with qkBlock > 1: the dot product of row r and key b of the block, key b's index and K value */
  blockDot: (r: number, b: number) => string;
  blockKey: (b: number) => string;
  blockKv: (b: number) => string;
}

/**
 * Step 1 of the tile loop for one score contraction `S = Σ_qk Q·K…`: `regs.tile(r)[j]` = S at
 * row r and key t0 + j, for R rows × TK keys (keys past the end are clamped to the last one;
 * step 2 masks them). With `dkStatic` (the static qk extent, when Q is cached) the query rows'
 * side is loaded once into registers (the prologue) and each key then costs one uniform K
 * load per qk element, shared by all R rows (`block` keys at a time); otherwise the qk dims
 * are the outer loops, so each Q element loads once per tile.
 */
function scoreTile(f: ScoreFrame, score: FlashScore, regs: ScoreRegs, dkStatic: number | undefined, block: number): { prologue: string[]; inTile: string[] } {
  const { kb, main, R, TK, t, T, t0, j, tv, batchEnv, envR, f16 } = f;
  const { einsum: s, qkDims } = score;
  const qkEnv = Object.fromEntries(qkDims.map((a) => [a, axisVar(a)]));
  const qkVars = Object.values(qkEnv);
  const qSide = s.operands.filter((o) => !o.axes.includes(t));
  const kSide = s.operands.filter((o) => o.axes.includes(t));
  const opens = qkDims.map((a) => `for (var ${axisVar(a)}: u32 = 0u; ${axisVar(a)} < ${kb.size(a)}; ${axisVar(a)}++) {`);
  const nest = (inner: string[]) => [
    ...opens.map((o, d) => '  '.repeat(d) + o),
    ...indent(inner, opens.length),
    ...opens.map((_, d) => '  '.repeat(opens.length - 1 - d) + '}'),
  ];
  const rows = (line: (r: number) => string) => Array.from({ length: R }, (_, r) => line(r));
  const hasQk = (n: Node) => n.axes.some((a) => qkDims.includes(a));
  const prologue: string[] = [];
  const inTile: string[] = [];
  if (dkStatic !== undefined) {
    // the query rows' side of the product is loaded once into registers; each key then
    // costs one uniform K load per qk element, shared by all R rows
    const dkFlat = offset({ axes: qkDims }, qkEnv, kb);
    const qScope = main.child({ hoist: (n) => !hasQk(n), loopVars: qkVars });
    const fill: string[] = [];
    for (let r = 0; r < R; r++) {
      // under f16 compute the cached query side is f16: half the registers
      prologue.push(`var ${regs.q(r)}: array<${f16 ? 'f16' : 'f32'}, ${Math.max(1, dkStatic)}>;`);
      const terms = qSide.map((o) => qScope.value(o, { ...envR[r]!, ...qkEnv }));
      fill.push(`${regs.q(r)}[${dkFlat}] = ${f16 ? `f16(${kb.product(terms)})` : terms.join(' * ') || '1.0'};`);
    }
    prologue.push(...nest([...qScope.lines, ...fill]));
    if (block > 1) {
      inTile.push(...blockedScores(f, block, score, regs, dkFlat, qkEnv, nest));
      return { prologue, inTile };
    }
    const jScope = main.child({ hoist: (n) => !n.axes.includes(t), loopVars: [tv, j] });
    const kScope = jScope.child({ hoist: (n) => !hasQk(n), loopVars: qkVars });
    const kVals = kSide.map((o) => kScope.value(o, { ...batchEnv, ...qkEnv, [t]: tv }));
    const kt = f16 ? `f16(${kb.product(kVals)})` : kVals.join(' * ') || '1.0';
    const { dot, kv } = regs;
    inTile.push(
      `for (var ${j} = 0u; ${j} < ${TK}u; ${j}++) {`,
      `  let ${tv} = min(${t0} + ${j}, ${T} - 1u);`,
      ...indent(jScope.lines, 1),
      ...rows((r) => `  var ${dot(r)} = 0.0;`),
      ...indent(nest([...kScope.lines, `let ${kv} = ${kt};`, ...rows((r) => `${dot(r)} += ${f16 ? `f32(${regs.q(r)}[${dkFlat}] * ${kv})` : `${regs.q(r)}[${dkFlat}] * ${kv}`};`)]), 1),
      ...rows((r) => `  ${regs.tile(r)}[${j}] = ${dot(r)};`),
      '}',
    );
  } else {
    // qk dims known only at dispatch: qk dims outermost, so each Q element loads once per tile
    const dkScope = main.child({ hoist: (n) => !hasQk(n), loopVars: qkVars });
    const jScope = dkScope.child({ hoist: (n) => !n.axes.includes(t), loopVars: [tv, j] });
    const dots: string[] = [];
    for (let r = 0; r < R; r++) {
      const env = { ...envR[r]!, ...qkEnv, [t]: tv };
      const terms = s.operands.map((o) => (o.axes.includes(t) ? jScope : dkScope).value(o, env));
      dots.push(`${regs.tile(r)}[${j}] += ${kb.product(terms)};`);
    }
    inTile.push(
      `for (var ${j} = 0u; ${j} < ${TK}u; ${j}++) { ${rows((r) => `${regs.tile(r)}[${j}] = 0.0;`).join(' ')} }`,
      ...nest([
        ...dkScope.lines,
        `for (var ${j} = 0u; ${j} < ${TK}u; ${j}++) {`,
        `  let ${tv} = min(${t0} + ${j}, ${T} - 1u);`,
        ...indent([...jScope.lines, ...dots], 1),
        '}',
      ]),
    );
  }
  return { prologue, inTile };
}

/**
 * The cached-Q product with `qkBlock` keys per register block: per qk element, the R cached
 * query values and the block's K values are loaded once and feed R × qkBlock running dot
 * products, all named registers (unrolled in the WGSL text, so no private array is indexed).
 * Fewer loads per multiply-add than one key at a time (R + B loads for R·B of them instead
 * of R + 1 for R); on lavapipe 16 keys × 8 rows made MHA prefill about 10% faster.
 */
function blockedScores(f: ScoreFrame, B: number, score: FlashScore, regs: ScoreRegs, dkFlat: string, qkEnv: Env, nest: (inner: string[]) => string[]): string[] {
  const { kb, main, R, TK, t, T, t0, j, batchEnv, f16 } = f;
  const qkDims = score.qkDims;
  const keys = Array.from({ length: B }, (_, b) => b);
  const tks = keys.map((b) => regs.blockKey(b));
  const jScope = main.child({ hoist: (n) => !n.axes.includes(t), loopVars: [j, ...tks] });
  const kScope = jScope.child({ hoist: (n) => !n.axes.some((a) => qkDims.includes(a)), loopVars: Object.values(qkEnv) });
  const kSide = score.einsum.operands.filter((o) => o.axes.includes(t));
  const kts = keys.map((b) => {
    const kVals = kSide.map((o) => kScope.value(o, { ...batchEnv, ...qkEnv, [t]: tks[b]! }));
    return f16 ? `f16(${kb.product(kVals)})` : kVals.join(' * ') || '1.0';
  });
  const q = (r: number) => `${regs.q(r)}[${dkFlat}]`;
  const fma = (r: number, b: number) => `${regs.blockDot(r, b)} += ${f16 ? `f32(${q(r)} * ${regs.blockKv(b)})` : `${q(r)} * ${regs.blockKv(b)}`};`;
  const rows = Array.from({ length: R }, (_, r) => r);
  return [
    `for (var ${j} = 0u; ${j} < ${TK}u; ${j} += ${B}u) {`,
    ...keys.map((b) => `  let ${tks[b]} = min(${t0} + ${j} + ${b}u, ${T} - 1u);`),
    ...indent(jScope.lines, 1),
    ...rows.map((r) => `  ${keys.map((b) => `var ${regs.blockDot(r, b)} = 0.0;`).join(' ')}`),
    ...indent(nest([...kScope.lines, ...keys.map((b) => `let ${regs.blockKv(b)} = ${kts[b]};`), ...rows.map((r) => keys.map((b) => fma(r, b)).join(' '))]), 1),
    ...rows.map((r) => `  ${keys.map((b) => `${regs.tile(r)}[${j} + ${b}u] = ${regs.blockDot(r, b)};`).join(' ')}`),
    '}',
  ];
}
