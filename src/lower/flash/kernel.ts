/**
 * WGSL emission of the fused attention kernel (unsplit, or one split of split-KV);
 * it adds the block-mask kernel (blocks.ts) and the split-KV merge (merge.ts). The
 * design is described at the top of `index.ts`.
 */
import type { PlanBuffer, PlanKernel, SizeExpr } from '../../runtime/plan.ts';
import { evalSize } from '../../runtime/sizes.ts';
import { addr, call, eq, if_, index, inline, set, u, umul, v, type Stmt } from '../../kir/ir.ts';
import type { BufferRef } from '../wgsl.ts';
import { blockMaskKernel } from './blocks.ts';
import { planKernel, type FlashContext, type FlashEmit } from './context.ts';
import { flashFrame, flashGeometry, packedValues, scoreBlocking, type FlashFrame, type FlashGeometry, type FlashSplit } from './frame.ts';
import { laneMerge } from './lanes.ts';
import type { FlashMap, FlashMatch } from './match.ts';
import { structKey } from './maps.ts';
import { mergeKernel } from './merge.ts';
import type { FlashSchedule } from './schedule.ts';
import { scores } from './scores.ts';
import { finish, keyRange, onlineSoftmax, pvProduct, scoreMod, tileHead, tileLoop } from './steps.ts';

export { BLOCK_EMPTY, BLOCK_FULL, BLOCK_PARTIAL, type FlashContext, type FlashEmit } from './context.ts';
export { flashGeometry } from './frame.ts';

/**
 * The split count the auto rule picks for these sizes (1 = one pass).
 * @example autoSplit(findFlash(mha()).matches[0], { b: 1, h: 8, s: 1, t: 4096, d: 64, dv: 64 }, flashSchedule()) // 4
 */
export function autoSplit(m: FlashMatch, sizes: Record<string, number>, sch: FlashSchedule, staticSizes: Readonly<Record<string, number>> = {}): number {
  return evalSize(flashGeometry(m, sch, staticSizes).autoSplits, sizes);
}

/**
 * Emits the kernels of one matched attention pattern: the block map when the mask has one and
 * the schedule asks for it, the flash kernel (or its split-KV partial), and the split-KV merge.
 * The flash kernel is emitted in the steps its tile loop runs: the scores of each contraction
 * (scores.ts), the score mod, the online softmax, O·alpha + P·V, and the finish (steps.ts),
 * all reading one frame (frame.ts).
 * @example const { kernels } = emitFlash(ctx) // [block map?, flash or its partial, merge?]
 */
export function emitFlash(ctx: FlashContext): FlashEmit {
  const { match: m, schedule: sch, staticSizes } = ctx;
  const geo = flashGeometry(m, sch, staticSizes);
  const maskBatch = m.batch.filter((a) => m.masks.some((x) => x.axes.includes(a)));
  const useBlocks = m.masks.length > 0 && sch.blockMask;
  const derivedSizes: FlashEmit['derivedSizes'] = [];
  const buffers: PlanBuffer[] = [];
  const kernels: PlanKernel[] = [];
  const split = splitOf(ctx);
  if (ctx.split === 'dynamic') derivedSizes.push({ name: split.name, expr: geo.autoSplits });
  const schedText = scheduleText(ctx, geo, split, useBlocks);
  const headerBase = headerLines(ctx);

  let blocks: BufferRef | undefined;
  if (useBlocks) {
    // flash kernels with the same mask and tiles share one block map
    const key = blockMapKey(ctx, maskBatch, geo);
    blocks = ctx.blockMaps?.get(key);
    if (!blocks) {
      const n = ctx.blockMaps?.size ?? 0;
      const name = ctx.internal(n === 0 ? 'blocks' : `blocks${n}`);
      blocks = { name, ident: name, axes: [...maskBatch, `${name}_r`, `${name}_t`], dtype: 'i32' };
      buffers.push({ name, dtype: 'i32', shape: [...maskBatch, geo.nRowBlocks, geo.nTiles], role: 'temp', axes: [...blocks.axes] });
      kernels.push(blockMaskKernel(ctx, blocks, maskBatch, geo.BR, geo.TK, geo.nRowBlocks, geo.nTiles, headerBase));
      ctx.blockMaps?.set(key, blocks);
    }
  }

  const f = flashFrame(ctx, geo, split, blocks, maskBatch);
  const range = keyRange(f);
  const head = tileHead(f);
  const score = scores(f);
  const loop = [...range, ...tileLoop(f, [...head, ...score.inTile, ...scoreMod(f), ...onlineSoftmax(f), ...pvProduct(f)])];
  const lanes = laneStep(f);
  const fin = finish(f);
  buffers.push(...fin.buffers);
  const totalWg: SizeExpr = ['*', geo.batchCount, geo.nChunks, geo.nRowBlocks, split.size];
  const debug = debugTiles(f, totalWg, fin.outs, buffers);
  // only lane 0 of each row tile holds the merged state
  const done = [...fin.lines, ...debug];
  const finished = geo.KL > 1 ? [if_(eq(v(f.lane), u(0)), done)] : done;
  const body = [...f.indices, ...f.main.lines, ...f.state, ...score.prologue, ...loop, ...(lanes?.lines ?? []), ...finished];
  const total = umul(umul(umul(f.kb.count(m.batch), f.nCh), f.nRB), f.nSp);
  const flashName = split.on ? `${ctx.name}_partial` : ctx.name;
  const subgroups = geo.KL > 1 && sch.subgroups;
  const wgsl = f.kb.module({
    name: flashName,
    header: [...headerBase, schedText],
    out: fin.outs,
    total,
    body,
    workgroupSize: geo.WG,
    perWorkgroup: true,
    shared: lanes?.shared ?? [],
    enables: subgroups ? ['subgroups'] : [],
  });
  const flashKernel = planKernel(f.kb, flashName, wgsl, geo.WG, totalWg, fin.outs);
  // its features (subgroups, shader-f16) come from the builder, which enabled them
  if (subgroups) Object.assign(flashKernel, { subgroupLanes: geo.KL });
  kernels.push(flashKernel);
  if (split.on) kernels.push(mergeKernel(ctx, fin.parts, split.size, split.name, headerBase));
  return { kernels, buffers, derivedSizes, summary: schedText };
}

/**
 * What a block map depends on: the mask's structure (inputs and materialised tensors by name),
 * its batch axes, the query-row and key axes, and the tile geometry.
 */
function blockMapKey(ctx: FlashContext, maskBatch: string[], geo: FlashGeometry): string {
  const m = ctx.match;
  const masks = m.masks.map((x) => structKey(x, (n) => ctx.buffers.get(n.id)?.name));
  return JSON.stringify({ masks, maskBatch, rows: m.rows, kv: m.kv, BR: geo.BR, TK: geo.TK });
}

/** How the KV axis is split: the context's fixed count, or the auto count as the derived size `_splits`. */
function splitOf(ctx: FlashContext): FlashSplit {
  const name = ctx.internal('splits');
  const size: SizeExpr = ctx.split === 'dynamic' ? name : Math.max(ctx.split, 1);
  return { on: size !== 1, size, name };
}

/** Step 4b: with lanes, the lanes of one row tile merge each map's (m, l, acc) and lane 0 continues (lanes.ts). */
function laneStep(f: FlashFrame) {
  const { geo } = f;
  if (geo.KL === 1) return undefined;
  const merges = f.maps.map((g, k) =>
    laneMerge({
      kb: f.kb,
      R: geo.R,
      WG: geo.WG,
      KL: geo.KL,
      DVC: geo.DVC,
      lane: f.lane,
      rinv: f.rinv,
      acc: g.acc,
      tag: g.tag,
      ...(g.mv ? { m: g.mv } : {}),
      ...(g.lv ? { l: g.lv } : {}),
      subgroups: f.sch.subgroups,
      debugLoaded: f.ctx.debugTiles && k === 0 ? { loaded: f.loaded, total: f.loadedAll } : undefined,
    }),
  );
  return { lines: merges.flatMap((x) => x.lines), shared: merges.flatMap((x) => x.shared) };
}

/** With `debugTiles`: the output `_flash_tiles`, the KV tiles each workgroup loaded, written by its first invocation. */
function debugTiles(f: FlashFrame, totalWg: SizeExpr, outs: BufferRef[], buffers: PlanBuffer[]): Stmt[] {
  if (!f.ctx.debugTiles) return [];
  const name = '_flash_tiles';
  const buf: BufferRef = { name, ident: f.ctx.internal('flash_tiles'), axes: ['_wg'], dtype: 'i32' };
  buffers.push({ name, dtype: 'i32', shape: [totalWg], role: 'output', axes: ['_wg'] });
  outs.push(buf);
  const count = f.geo.KL > 1 ? call('atomicLoad', addr(v(f.loadedAll))) : v(f.loaded);
  return [inline(if_(eq(v(f.lid), u(0)), [set(index(v(buf.ident), v(f.wg)), call('i32', count))]))];
}

/** The header lines every kernel of the match shares: the expression, its parts and its axes. */
function headerLines(ctx: FlashContext): string[] {
  const m = ctx.match;
  const d = ctx.describe;
  const maps =
    d.weights === undefined
      ? [`scores = ${d.scores}`]
      : [
          `weights = ${d.weights}`,
          ...m.maps.map(
            (x, k) =>
              `  map ${k} (${mapKind(x)}) of ${d.maps[k]!.x}${!m.mask && d.maps[k]!.mask ? `, mask ${d.maps[k]!.mask}` : ''}${d.maps[k]!.sink ? `, sink ${d.maps[k]!.sink}` : ''}`,
          ),
        ];
  return [
    ...ctx.header,
    ...maps,
    // several contractions: each streamed into its own score tile (contraction c's registers are named _c<c>…)
    ...(m.scores.length > 1 ? m.scores.map((c, i) => `  contraction ${i} over [${c.qkDims.join(' ')}]: ${d.contractions[i]}`) : []),
    ...(d.mask ? [`mask = ${d.mask}`] : []),
    ...(d.sink && d.weights === undefined ? [`sink = ${d.sink}`] : []),
    `axes: batch [${m.batch.join(' ')}], rows [${m.rows.join(' ')}], kv '${m.kv}', qk dims ${m.scores.map((c) => `[${c.qkDims.join(' ')}]`).join(', ')}, v dims [${m.vDims.join(' ')}]`,
  ];
}

/** How the header names a map's kind. */
function mapKind(x: FlashMap): string {
  if (x.kind === 'softmax') return 'softmax';
  return x.sums.length ? 'weights normalised by their row sum in the epilogue' : 'weights, no normaliser';
}

/** The one-line schedule summary of the flash kernel. */
function scheduleText(ctx: FlashContext, geo: FlashGeometry, split: FlashSplit, useBlocks: boolean): string {
  const { match: m, schedule: sch } = ctx;
  const { R, TK, WG, KL, BR, dvStatic, DVC } = geo;
  const { qkBlocks, packedK } = scoreBlocking(ctx);
  const packed = [...(packedK.some(Boolean) ? ['K'] : []), ...(packedValues(ctx, geo) ? ['V'] : [])];
  return (
    `schedule: ${R} row${R > 1 ? 's' : ''} x ${WG / KL} invocations per workgroup (${BR} query rows of [${m.rows.join(' ') || '-'}])` +
    `${KL > 1 ? `, ${KL} invocations per row tile each streaming every ${KL}th KV tile` : ''}, ` +
    `KV tile ${TK} of '${m.kv}' streamed through registers with ${streamedWith(m)}, ` +
    `value columns ${DVC} per invocation${dvStatic !== undefined && DVC >= dvStatic ? '' : ' (chunked)'}` +
    `${qkBlocks.some((b) => b > 1) ? `, scores in register blocks of ${qkBlocks.join(' / ')} key${qkBlocks.length > 1 ? 's per contraction' : 's'}` : ''}` +
    `${packed.length ? `, i8 ${packed.join(' and ')} read four values per 32-bit word` : ''}` +
    `${useBlocks ? ', block mask (empty tiles skipped, full tiles unmasked)' : m.maps.some((x) => x.mask) ? ', mask per element' : ''}` +
    `${m.masks.length > 1 ? ` (${m.masks.length} masks: a tile is empty where every one is, full where every one is)` : ''}` +
    `${m.masks.length === 0 && m.maps.some((x) => x.mask) ? ' (a map without a mask: no block map and no declared length)' : ''}` +
    `${m.length ? `, keys end at the declared length ${ctx.describe.length ?? ''} (nothing past it is read)` : ''}` +
    `${split.on ? `, split-KV into ${typeof split.size === 'number' ? split.size : 'auto'} parts + merge` : ''}` +
    `${KL > 1 ? (sch.subgroups ? `, lanes merged by subgroup shuffles (no workgroup memory)` : `, lanes merged through workgroup memory (one barrier)`) : ', no workgroup memory'}`
  );
}

/** What the tile loop keeps per row: an online softmax, plain sums, or one state per map. */
function streamedWith(m: FlashMatch): string {
  if (m.maps.length > 1)
    return `one state per attention map (${m.maps.map((x) => (x.kind === 'softmax' ? 'online softmax' : x.sums.length ? 'sums' : 'no normaliser')).join(', ')})`;
  const x = m.maps[0]!;
  return x.kind === 'softmax'
    ? 'an online softmax'
    : x.sums.length
      ? 'plain weights and their row sum (no rescale)'
      : 'plain weights (no normaliser, no rescale)';
}
