/**
 * The frame of one flash kernel: what its emission steps (scores, score mod, online softmax,
 * P·V, finish; see kernel.ts) share. It holds the geometry, the WGSL of the sizes and counts,
 * the names of the kernel's variables, the index environments of the register rows and the
 * kernel's outermost expression scope. Building it claims names and sizes in the order the
 * kernel uses them, so the WGSL is the same however the steps are arranged.
 */
import { staticSize, type Node } from '../../ir/index.ts';
import type { SizeExpr } from '../../runtime/plan.ts';
import { add, arrayOf, cdiv, div, flt, let_, line, min, mod, mul, set, sub as minus, u, v, var_, type Expr, type Stmt } from '../../kir/ir.ts';
import { KernelBuilder } from '../kernels/frame.ts';
import { axisEnv, axisVar, NEG_INF, readsPacked, Scope, type BufferRef, type Env } from '../wgsl.ts';
import { named, type FlashContext } from './context.ts';
import type { FlashMap, FlashMatch, FlashScore } from './match.ts';
import { qkBlockOf, type FlashSchedule } from './schedule.ts';

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

export type FlashGeometry = ReturnType<typeof flashGeometry>;

/** How the KV axis is split (flash-decoding): `size` splits, 1 = one pass; `name` is the derived size of an auto split. */
export interface FlashSplit {
  on: boolean;
  size: SizeExpr;
  name: string;
}

/** The WGSL names of one contraction's registers: its score tile, cached query side, dot products and K value. */
export interface ScoreRegs {
  tile: (r: number) => string;
  q: (r: number) => string;
  dot: (r: number) => string;
  kv: string;
  /** with qkBlock > 1: the dot product of row r and key b of the block, key b's index and K value */
  blockDot: (r: number, b: number) => string;
  blockKey: (b: number) => string;
  blockKv: (b: number) => string;
  /** with i8 K values four to a word: the K value of lane i (x, y, z, w) of key b of the block (undefined: unblocked) */
  laneKv: (b: number | undefined, i: number) => string;
}

/**
 * The registers of one attention map (maps.ts) per register row r: its running max (softmax),
 * row sum (softmax; plain weights whose row sum the epilogue reads), accumulator and weight
 * tile. Map 0's are `_m0`, `_l0`, `_acc0` and contraction 0's score tile `_s0` (logits, then
 * weights); map k > 0 prefixes its names with `p<k>` (`_p1m0`, `_p1acc0`, its own tile `_p1s0`).
 */
export interface MapRegs {
  map: FlashMap;
  /** '' for map 0, `p<k>` after: the prefix of the map's other names (alpha, sink, inv …) */
  tag: string;
  mv?: (r: number) => string;
  lv?: (r: number) => string;
  acc: (r: number) => string;
  w: (r: number) => string;
}

/** What every step of the flash kernel reads. */
export interface FlashFrame {
  ctx: FlashContext;
  m: FlashMatch;
  sch: FlashSchedule;
  geo: FlashGeometry;
  split: FlashSplit;
  kb: KernelBuilder;
  /** a name of the kernel (see `named`) */
  I: (word: string) => string;
  f16: boolean;
  /** the block-code buffer when the block mask is on */
  blocks?: BufferRef;
  /** the batch axes the mask uses (the block map's batch axes) */
  maskBatch: string[];
  /** u32 expressions: the KV length, query rows, value columns, and the counts of row blocks, KV tiles, chunks, splits */
  T: Expr;
  Q: Expr;
  DVn: Expr;
  nRB: Expr;
  nT: Expr;
  nCh: Expr;
  nSp: Expr;
  /** the end of the key range: the declared length `_tend` when the mask has one, else T; and its tile count */
  end: Expr;
  nTe: Expr;
  /** variables of the workgroup: its index, the invocation, row block, value chunk, split, flat batch index, first column */
  wg: string;
  lid: string;
  rblk: string;
  chunk: string;
  sp: string;
  bflat: string;
  c0: string;
  /** with lanes: the invocation's lane within its row tile and its row tile */
  lane: string;
  rinv: string;
  /** variables of the tile loop: tile, its range, first key, key counter, key index, value column; the debug tile counters */
  tile: string;
  lo: string;
  hi: string;
  t0: string;
  j: string;
  tv: string;
  cc: string;
  partial: string;
  loaded: string;
  loadedAll: string;
  /** batch axes → their variables; per register row: batch and query-row variables */
  batchEnv: Env;
  envR: Env[];
  /** the kernel's outermost scope: values that vary with neither the key nor a loop are hoisted into it */
  main: Scope;
  /** per register row r: its flat row index */
  row: (r: number) => string;
  /** per attention map: its registers */
  maps: MapRegs[];
  /** per contraction: its registers, its static cached qk extent (undefined: not cached) and keys per register block */
  scoreRegs: ScoreRegs[];
  qCached: (number | undefined)[];
  qkBlocks: number[];
  /** per contraction: K read four i8 values per word load (scores.ts); the same for V (steps.ts) */
  packedK: boolean[];
  packedV: boolean;
  /** the statements that locate the workgroup's rows, and the declarations of the running state */
  indices: Stmt[];
  state: Stmt[];
}

/** The static QK extent of a contraction whose query side is cached in registers (undefined: not cached). */
function cachedQk(c: FlashScore, staticSizes: Readonly<Record<string, number>>, maxQCache: number): number | undefined {
  if (!c.qkDims.every((a) => staticSize(staticSizes, a) !== undefined)) return undefined;
  const dk = c.qkDims.reduce((p, a) => p * staticSizes[a]!, 1);
  return dk <= maxQCache ? dk : undefined;
}

/** A node's reads of an i8 buffer along `axis` four values per word: the axis static and a multiple of 4 (see `PackedLanes`). */
function packedAlong(ctx: FlashContext, n: Node, axis: string | undefined): boolean {
  const size = axis === undefined ? undefined : staticSize(ctx.staticSizes, axis);
  return size !== undefined && size % 4 === 0 && readsPacked(n, axis!, { buffer: (x) => ctx.buffers.get(x.id) });
}

/**
 * Per contraction: the static QK extent when its Q side is cached in registers, whether its K
 * side reads i8 four values per word along the innermost qk dim (cached Q only; scores.ts), and
 * the keys per register block of its product.
 */
export function scoreBlocking(ctx: FlashContext) {
  const { match: m, schedule: sch } = ctx;
  const qCached = m.scores.map((c) => cachedQk(c, ctx.staticSizes, sch.maxQCache));
  const packedK = m.scores.map(
    (c, i) => qCached[i] !== undefined && c.einsum.operands.some((o) => o.axes.includes(m.kv) && packedAlong(ctx, o, c.qkDims.at(-1))),
  );
  return { qCached, packedK, qkBlocks: qCached.map((dk, i) => (dk === undefined ? 1 : qkBlockOf(sch, dk, packedK[i]))) };
}

/**
 * Whether V reads i8 four values per word along its last value dim (steps.ts): the value
 * chunks cover a static value head dim exactly, in multiples of 4 columns.
 */
export function packedValues(ctx: FlashContext, geo: FlashGeometry): boolean {
  const { dvStatic, DVC } = geo;
  const exact = dvStatic !== undefined && DVC * Math.ceil(dvStatic / DVC) === dvStatic;
  return exact && DVC % 4 === 0 && packedAlong(ctx, ctx.match.value, ctx.match.vDims.at(-1));
}

/** The score registers of contraction c: contraction 0's tile is `sc` (logits, then probabilities); c > 0 names start with c<c>. */
function scoreRegsOf(I: (w: string) => string, c: number): ScoreRegs {
  const reg = (word: string) => I(c === 0 ? word : `c${c}${word}`);
  return {
    tile: (r) => reg(`s${r}`),
    q: (r) => reg(`q${r}`),
    dot: (r) => reg(`dot${r}`),
    kv: reg('kv'),
    blockDot: (r, b) => reg(`dot${r}k${b}`),
    blockKey: (b) => reg(`tk${b}`),
    blockKv: (b) => reg(`kv${b}`),
    laneKv: (b, i) => reg(`kv${b ?? ''}${'xyzw'[i]}`),
  };
}

/** The registers of map k (see {@link MapRegs}). */
function mapRegsOf(I: (w: string) => string, map: FlashMap, k: number): MapRegs {
  const tag = k === 0 ? '' : `p${k}`;
  const reg = (word: string) => (r: number) => I(`${tag}${word}${r}`);
  return {
    map,
    tag,
    acc: reg('acc'),
    w: reg('s'),
    ...(map.kind === 'softmax' ? { mv: reg('m') } : {}),
    ...(map.kind === 'softmax' || map.sums.length > 0 ? { lv: reg('l') } : {}),
  };
}

/** The frame of the flash kernel of `ctx`: claims its sizes and names, locates its rows and declares its state. */
export function flashFrame(ctx: FlashContext, geo: FlashGeometry, split: FlashSplit, blocks: BufferRef | undefined, maskBatch: string[]): FlashFrame {
  const { match: m, schedule: sch, staticSizes } = ctx;
  const { R, TK, KL, BR, dvStatic, DVC } = geo;
  const kb = new KernelBuilder(staticSizes, ctx.buffers, ctx.axes, ctx.compute);
  const I = (w: string) => named(kb, w);
  const { qCached, qkBlocks, packedK } = scoreBlocking(ctx);
  const T = kb.size(m.kv);
  const Q = kb.count(m.rows);
  const DVn = kb.count(m.vDims);
  const nT = cdiv(T, TK);
  const sizes = {
    T,
    Q,
    DVn,
    nT,
    nRB: cdiv(Q, BR),
    nCh: dvStatic !== undefined ? u(Math.ceil(dvStatic / DVC)) : cdiv(DVn, DVC),
    nSp: split.on ? (typeof split.size === 'number' ? u(split.size) : kb.size(split.name)) : u(1),
  };
  const [wg, lid] = [I('wg'), I('lid')];
  const [rblk, chunk, sp, bflat, c0] = [I('rblk'), I('chunk'), I('split'), I('bflat'), I('c0')];
  const indices = workgroupIndices(kb, I, m, sizes, { wg, rblk, chunk, sp, bflat, c0 }, split.on, DVC);
  // with kvLanes > 1, invocation lid = (row tile, lane): lanes of one row tile split its KV tiles
  const [lane, rinv] = [I('lane'), I('rinv')];
  if (KL > 1) indices.push(let_(lane, mod(v(lid), u(KL))), let_(rinv, div(v(lid), u(KL))));
  const batchEnv = axisEnv(m.batch);
  const row = (r: number) => I(`row${r}`);
  const envR: Env[] = [];
  for (let r = 0; r < R; r++) {
    const rv = row(r);
    indices.push(let_(rv, add(add(mul(v(rblk), u(BR)), mul(v(KL > 1 ? rinv : lid), u(R))), u(r))));
    const vars = m.rows.map((a) => I(`${a}_${r}`));
    indices.push(
      ...kb.decompose(
        m.rows.map((a, i) => [vars[i]!, kb.size(a)]),
        min(v(rv), minus(Q, u(1))),
        I(`rrest${r}`),
      ),
    );
    envR.push({ ...batchEnv, ...Object.fromEntries(m.rows.map((a, i) => [a, v(vars[i]!)])) });
  }
  const main = new Scope(kb, kb.counter);
  const maps = m.maps.map((map, k) => mapRegsOf(I, map, k));
  const scoreRegs = m.scores.map((_, c) => scoreRegsOf(I, c));
  const state = stateOf(maps, scoreRegs, geo);
  const [tile, lo, hi, t0, j, tv, cc] = [I('tile'), I('lo'), I('hi'), I('t0'), I('j'), axisVar(m.kv), I('c')];
  const end = m.length ? v(I('tend')) : T;
  return {
    ctx,
    m,
    sch,
    geo,
    split,
    kb,
    I,
    f16: ctx.compute === 'f16',
    blocks,
    maskBatch,
    ...sizes,
    end,
    nTe: m.length ? cdiv(end, TK) : nT,
    wg,
    lid,
    rblk,
    chunk,
    sp,
    bflat,
    c0,
    lane,
    rinv,
    tile,
    lo,
    hi,
    t0,
    j,
    tv,
    cc,
    loaded: I('loaded'),
    loadedAll: I('loaded_all'),
    partial: I('partial'),
    batchEnv,
    envR,
    main,
    row,
    maps,
    scoreRegs,
    qCached,
    qkBlocks,
    packedK,
    packedV: packedValues(ctx, geo),
    indices,
    state,
  };
}

/** The running state of every row: each map's max, sum, accumulator and weights, and the extra score tiles. */
function stateOf(maps: MapRegs[], scoreRegs: ScoreRegs[], geo: FlashGeometry): Stmt[] {
  const { R, TK, DVC } = geo;
  const state: Stmt[] = [];
  const declare = (regs: MapRegs, r: number) => [
    ...(regs.mv ? [var_(regs.mv(r), 'f32', NEG_INF)] : []),
    ...(regs.lv ? [var_(regs.lv(r), 'f32', flt(0))] : []),
    var_(regs.acc(r), arrayOf('f32', DVC)),
    var_(regs.w(r), arrayOf('f32', TK)),
  ];
  for (let r = 0; r < R; r++) state.push(...declare(maps[0]!, r));
  for (const regs of scoreRegs.slice(1)) for (let r = 0; r < R; r++) state.push(var_(regs.tile(r), arrayOf('f32', TK)));
  for (const regs of maps.slice(1)) for (let r = 0; r < R; r++) state.push(...declare(regs, r));
  return state;
}

/** The workgroup's row block, value chunk, split and batch indices from its linear index. */
function workgroupIndices(
  kb: KernelBuilder,
  I: (w: string) => string,
  m: FlashMatch,
  s: { nRB: Expr; nCh: Expr; nSp: Expr },
  n: { wg: string; rblk: string; chunk: string; sp: string; bflat: string; c0: string },
  split: boolean,
  DVC: number,
): Stmt[] {
  const rest = I('rest');
  const r = v(rest);
  const part = (name: string, extent: Expr) => line(let_(name, mod(r, extent)), set(r, div(r, extent)));
  return [
    var_(rest, undefined, v(n.wg)),
    part(n.rblk, s.nRB),
    part(n.chunk, s.nCh),
    ...(split ? [part(n.sp, s.nSp)] : []),
    let_(n.bflat, r),
    ...kb.decompose(
      m.batch.map((a) => [axisVar(a), kb.size(a)]),
      v(n.bflat),
      I('brest'),
    ),
    let_(n.c0, mul(v(n.chunk), u(DVC))),
  ];
}
