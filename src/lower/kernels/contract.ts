/**
 * Contraction kernels (einsum and reduce) with their fused epilogue. Each invocation owns a
 * TM×TN register tile over two output axes (`tileAxes`: the last, and the nearest before it that
 * is not of size 1 at the plan's sizes) and loops over the contracted axes; operands are inlined
 * expressions, so a scaled or masked operand costs no extra pass. Rows and columns past the edge
 * are clamped for loads and skipped for stores, so sizes need not be multiples of the tile.
 */
import { nodesBetween, REDUCE, type Node } from '../../ir/index.ts';
import type { SizeExpr } from '../../runtime/plan.ts';
import {
  add,
  and,
  call,
  cdiv,
  chain,
  eq,
  exp,
  flt,
  gt,
  if_,
  inc,
  inline,
  let_,
  log,
  loopNest,
  lt,
  max,
  min,
  mul,
  ne,
  or,
  select,
  set,
  sub,
  u,
  v,
  var_,
  type Expr,
  type Stmt,
} from '../../kir/ir.ts';
import { axisVar, literal, NEG_INF, Scope, type BufferRef, type Env } from '../wgsl.ts';
import { WORKGROUP, type KernelBuilder } from './frame.ts';

type Core = Extract<Node, { op: 'einsum' | 'reduce' }>;

/** Register tile of a contraction: rows × columns per invocation. */
export type Tile = readonly [number, number];

/** What the parts of a contraction kernel share: its axes, tile, accumulators and the statements so far. */
interface ContractFrame {
  kb: KernelBuilder;
  core: Core;
  /** the tile's row and column axes (`tileAxes`; absent for fewer output axes), the other output axes, the contracted axes */
  m?: string;
  n?: string;
  TM: number;
  TN: number;
  outer: string[];
  contracted: string[];
  isInt: boolean;
  /** how the core combines its terms: a sum, a max, or the running (max, sum of exp) of logsumexp */
  combine: 'sum' | 'max' | 'logsumexp';
  /** per tile row and column: the clamped index variable and the unclamped index */
  rows: { v: string; raw: Expr }[];
  cols: { v: string; raw: Expr }[];
  /** accumulators, and logsumexp's running sums beside them */
  acc: string[][];
  lsum: string[][];
  body: Stmt[];
}

/**
 * The tile's row and column axes of an output: columns along the last axis (stores stay
 * contiguous), rows along the nearest axis before it that `unit` does not hold. A decode step's
 * query axis has size 1, and a tile of 4 rows along it would compute 3 rows for nothing (MLA's
 * absorption `b h s dn, dc h dn -> b h s dc` tiles over h and dc instead of s and dc).
 * @example tileAxes(['b', 'h', 's', 'dc'], new Set(['b', 's'])) // { m: 'h', n: 'dc' }
 */
export function tileAxes(out: readonly string[], unit: ReadonlySet<string>): { m?: string; n?: string } {
  const n = out[out.length - 1];
  const before = out.slice(0, -1);
  const m = before.filter((a) => !unit.has(a)).pop() ?? before[before.length - 1];
  return { m, n };
}

/** The number of tiles of `t` along axis `ax` (1 without the axis). */
const tilesOf = (kb: KernelBuilder, ax: string | undefined, t: number): Expr => (ax ? (t === 1 ? kb.size(ax) : cdiv(kb.size(ax), t)) : u(1));

/** The WGSL and dispatch size of a contraction kernel computing `root` (around `core`) into `out`. */
export function contractKernel(
  kb: KernelBuilder,
  name: string,
  header: string[],
  root: Node,
  core: Core,
  out: BufferRef,
  tile: Tile,
  unit: ReadonlySet<string>,
) {
  const f = contractFrame(kb, root, core, tile, unit);
  f.body.push(...contractionLoop(f));
  f.body.push(...epilogue(f, root, out));
  const { m, n, TM, TN, outer, contracted } = f;
  const total = chain('*', [...outer.map((a) => kb.size(a)), ...(m ? [tilesOf(kb, m, TM)] : []), ...(n ? [tilesOf(kb, n, TN)] : [])], u(1));
  const schedule =
    `schedule: register tile ${TM}x${TN} over (${[m, n].filter(Boolean).join(', ') || 'scalar'})` +
    `, ${contracted.length ? `loop over (${contracted.join(', ')})` : 'no contraction'}, one tile per invocation, ${WORKGROUP} per workgroup`;
  const wgsl = kb.module({ name, header: [...header, schedule], out, total, body: f.body });
  const cdivs: SizeExpr[] = [...outer, ...(m ? [['cdiv', m, TM] as SizeExpr] : []), ...(n ? [['cdiv', n, TN] as SizeExpr] : [])];
  const workgroups: SizeExpr = ['cdiv', ['*', 1, ...cdivs], WORKGROUP];
  return { wgsl, workgroups };
}

/** The tile this invocation owns, its clamped row and column indices and its accumulators. */
function contractFrame(kb: KernelBuilder, root: Node, core: Core, tile: Tile, unit: ReadonlySet<string>): ContractFrame {
  const O = root.axes;
  const { m, n } = tileAxes(O, unit);
  const TM = m ? tile[0] : 1;
  const TN = n ? tile[1] : 1;
  const outer = O.filter((a) => a !== m && a !== n);
  const contracted = core.op === 'einsum' ? [...new Set(core.operands.flatMap((o) => o.axes))].filter((a) => !core.axes.includes(a)) : [...core.over];
  const isInt = core.dtype === 'i32';
  // an einsum sums its products; a reduction accumulates as its op record says
  const combine = core.op === 'reduce' ? REDUCE[core.fn].wgsl : 'sum';
  const init = combine === 'sum' ? (isInt ? literal(0, 'i32') : flt(0)) : isInt ? literal(-2147483648, 'i32') : NEG_INF;

  // which tile this invocation owns
  const mTile = kb.internal(`${m ?? 'm'}_tile`);
  const nTile = kb.internal(`${n ?? 'n'}_tile`);
  const parts: [string, Expr][] = outer.map((a) => [axisVar(a), kb.size(a)]);
  if (m) parts.push([mTile, tilesOf(kb, m, TM)]);
  if (n) parts.push([nTile, tilesOf(kb, n, TN)]);
  const body = kb.decompose(parts, kb.gid);

  // clamped row/column indices, so loads past the edge stay in bounds
  const edge = (ax: string | undefined, tileVar: string, t: number): { v: string; raw: Expr }[] => {
    if (!ax) return [{ v: '', raw: u(0) }];
    return Array.from({ length: t }, (_, i) => {
      const raw = t === 1 ? v(tileVar) : add(mul(v(tileVar), u(t)), u(i));
      const name = kb.internal(`${ax}${i}`);
      body.push(let_(name, t === 1 ? raw : min(raw, sub(kb.size(ax), u(1)))));
      return { v: name, raw };
    });
  };
  const rows = edge(m, mTile, TM);
  const cols = edge(n, nTile, TN);
  const accType = isInt ? 'i32' : 'f32';
  const acc = rows.map((_, i) => cols.map((_, j) => kb.internal(`acc${i}${j}`)));
  for (const r of acc) for (const a of r) body.push(var_(a, accType, init));
  // logsumexp keeps a running max in acc and the sum of exp(x - max) beside it (online, one pass)
  const lsum = acc.map((r) => r.map((a) => `${a}_s`));
  if (combine === 'logsumexp') for (const r of lsum) for (const a of r) body.push(var_(a, 'f32', flt(0)));
  return { kb, core, m, n, TM, TN, outer, contracted, isInt, combine, rows, cols, acc, lsum, body };
}

/** The indices of tile element (i, j): the outer and contracted axes' variables, the clamped row and column. */
function envAt(f: ContractFrame, i: number, j: number): Env {
  const e: Record<string, Expr> = Object.fromEntries([...f.outer, ...f.contracted].map((a) => [a, v(axisVar(a))]));
  if (f.m) e[f.m] = v(f.rows[i]!.v);
  if (f.n) e[f.n] = v(f.cols[j]!.v);
  return e;
}

/** One term folded into accumulator `a`: a sum, an online logsumexp, or a max (f32's propagating NaN as the interpreter does). */
function accumulate(f: ContractFrame, i: number, j: number, term: Expr): Stmt[] {
  const { kb, combine, isInt } = f;
  const a = v(f.acc[i]![j]!);
  if (combine === 'sum') return [inc(a, term)];
  if (combine === 'max' && isInt) return [set(a, max(a, term))];
  const x = v(kb.internal(`x${i}${j}`));
  const first = let_(kb.internal(`x${i}${j}`), term);
  if (combine === 'logsumexp') {
    const ls = v(f.lsum[i]![j]!);
    const rescale = [set(ls, add(mul(ls, exp(sub(a, x))), flt(1))), set(a, x)];
    return [first, inline(if_(gt(x, a), rescale, [inline(if_(ne(x, NEG_INF), [inc(ls, exp(sub(x, a)))]))]))];
  }
  // WGSL's max may drop a NaN operand; the interpreter's max propagates it, and so does this
  return [first, set(a, select(max(a, x), call('_f32_bits', { k: 'lit', v: 0x7fc00000, ty: 'u32', hex: true }), or(call('_is_nan', a), call('_is_nan', x))))];
}

/** The loops over the contracted axes, accumulating every element of the tile. */
function contractionLoop(f: ContractFrame): Stmt[] {
  const { kb, core, contracted } = f;
  const main = new Scope(kb, kb.counter);
  const inner = main.child({ hoist: (x) => !x.axes.some((a) => contracted.includes(a)), loopVars: contracted.map(axisVar) });
  const steps: Stmt[] = [];
  for (let i = 0; i < f.rows.length; i++)
    for (let j = 0; j < f.cols.length; j++) {
      const env = envAt(f, i, j);
      const term = core.op === 'einsum' ? kb.product(core.operands.map((o) => inner.value(o, env))) : inner.value(core.x, env);
      steps.push(...accumulate(f, i, j, term));
    }
  const extents = contracted.map((a) => [axisVar(a), kb.size(a)] as const);
  return [...main.lines, ...loopNest(extents, [...inner.lines, ...steps])];
}

/**
 * The epilogue, with the core standing for the accumulator, and the guarded stores; what does
 * not vary over the tile (a scale, a per-head slope) is computed once before the stores.
 */
function epilogue(f: ContractFrame, root: Node, out: BufferRef): Stmt[] {
  const { kb, core, m, n, TM, TN, acc, lsum, combine } = f;
  const pre = new Scope(kb, kb.counter);
  const onPath = nodesBetween(root, core);
  const stores: Stmt[] = [];
  for (let i = 0; i < f.rows.length; i++)
    for (let j = 0; j < f.cols.length; j++) {
      const env = envAt(f, i, j);
      const a = v(acc[i]![j]!);
      const ls = v(lsum[i]![j]!);
      const lse = select(add(a, log(ls)), a, or(eq(a, NEG_INF), eq(ls, flt(0))));
      const epi = pre.child({
        override: (x) => (x === core ? (combine === 'logsumexp' ? lse : a) : undefined),
        hoist: (x) => !onPath.has(x.id) && !x.axes.some((ax) => ax === m || ax === n),
      });
      const value = epi.value(root, env);
      const inside = [...epi.lines, kb.store(out, env, value)];
      const guard = [...(m && TM > 1 ? [lt(f.rows[i]!.raw, kb.size(m))] : []), ...(n && TN > 1 ? [lt(f.cols[j]!.raw, kb.size(n))] : [])];
      if (guard.length)
        stores.push(
          if_(
            guard.slice(1).reduce((x, y) => and(x, y), guard[0]!),
            inside,
          ),
        );
      else stores.push(...inside);
    }
  return [...pre.lines, ...stores];
}
