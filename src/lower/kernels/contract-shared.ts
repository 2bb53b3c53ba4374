/**
 * Contraction kernels staged through workgroup memory, for adapters where barriers are
 * cheap (GPUs). A workgroup of WM×WN invocations owns a (WM·TM)×(WN·TN) output block;
 * per chunk of KC contracted indices it loads the product of the operands that depend
 * on the row axis into `_tile_a` and of those on the column axis into `_tile_b`, once,
 * then every invocation accumulates its TM×TN register tile from them. Used for einsums
 * whose operands each depend on the row axis or the column axis, but not both.
 */
import type { Node } from '../../ir/index.ts';
import type { SizeExpr } from '../../runtime/plan.ts';
import {
  add,
  and,
  arrayOf,
  barrier,
  call,
  cdiv,
  chain,
  div,
  flt,
  half,
  if_,
  inc,
  index,
  let_,
  loop,
  lt,
  min,
  mod,
  mul,
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
import { axisVar, Scope, type BufferRef, type Env } from '../wgsl.ts';
import { WORKGROUP, type KernelBuilder } from './frame.ts';
import { tileAxes, type Tile } from './contract.ts';

type Einsum = Extract<Node, { op: 'einsum' }>;

/** Invocations per workgroup along rows and columns (WM × WN = WORKGROUP). */
const WM = 8;
const WN = 8;
/** Contracted indices staged per chunk. */
const KC = 16;

/** Whether `core` can use the workgroup-memory schedule with `root` as its output. */
export function sharedApplies(root: Node, core: Node, unit: ReadonlySet<string>): core is Einsum {
  if (core.op !== 'einsum' || root.axes.length < 2 || core.dtype === 'i32') return false;
  const { m, n } = tileAxes(root.axes, unit) as { m: string; n: string };
  const contracted = core.operands.some((o) => o.axes.some((a) => !core.axes.includes(a)));
  return contracted && core.operands.every((o) => o.axes.includes(m) !== o.axes.includes(n));
}

/** The WGSL and dispatch size of a workgroup-memory contraction kernel. */
export function sharedContractKernel(
  kb: KernelBuilder,
  name: string,
  header: string[],
  root: Node,
  core: Einsum,
  out: BufferRef,
  tile: Tile,
  unit: ReadonlySet<string>,
) {
  const O = root.axes;
  const { m, n } = tileAxes(O, unit) as { m: string; n: string };
  const [TM, TN] = tile;
  const BM = WM * TM;
  const BN = WN * TN;
  const outer = O.filter((a) => a !== m && a !== n);
  const contracted = [...new Set(core.operands.flatMap((o) => o.axes))].filter((a) => !core.axes.includes(a));
  const aSide = core.operands.filter((o) => o.axes.includes(m));
  const bSide = core.operands.filter((o) => o.axes.includes(n));
  const tileA = kb.internal('tile_a');
  const tileB = kb.internal('tile_b');
  const mBlock = kb.internal(`${m}_block`);
  const nBlock = kb.internal(`${n}_block`);
  const blocks = (ax: string, b: number) => cdiv(kb.size(ax), b);
  const body = kb.decompose([...outer.map((a) => [axisVar(a), kb.size(a)] as const), [mBlock, blocks(m, BM)], [nBlock, blocks(n, BN)]], v(kb.internal('wg')));
  const ty = kb.internal('ty');
  const tx = kb.internal('tx');
  body.push(let_(ty, div(v(kb.internal('lid')), u(WN))), let_(tx, mod(v(kb.internal('lid')), u(WN))));
  const K = kb.count(contracted);
  const k0 = kb.internal('k0');
  const f16 = kb.compute === 'f16';

  const load = (side: Node[], ax: string, base: string, width: number, arr: string) =>
    cooperativeLoad(kb, { side, ax, base, width, arr, side_: arr === tileA ? 'a' : 'b', outer, contracted, K, k0 });

  const acc = Array.from({ length: TM }, (_, i) => Array.from({ length: TN }, (_, j) => kb.internal(`acc${i}${j}`)));
  for (const r of acc) for (const a of r) body.push(var_(a, 'f32', flt(0)));
  const a = Array.from({ length: TM }, (_, i) => kb.internal(`a${i}`));
  const b = Array.from({ length: TN }, (_, j) => kb.internal(`b${j}`));
  const kk = kb.internal('kk');
  const fma = (i: number, j: number) => (f16 ? call('f32', mul(v(a[i]!), v(b[j]!))) : mul(v(a[i]!), v(b[j]!)));
  const chunk = [
    ...a.map((x, i) => let_(x, index(v(tileA), add(add(mul(v(kk), u(BM)), mul(v(ty), u(TM))), u(i))))),
    ...b.map((x, j) => let_(x, index(v(tileB), add(add(mul(v(kk), u(BN)), mul(v(tx), u(TN))), u(j))))),
    ...acc.flatMap((r, i) => r.map((x, j) => inc(v(x), fma(i, j)))),
  ];
  body.push(
    loop(
      k0,
      u(0),
      K,
      [...load(aSide, m, mBlock, BM, tileA), ...load(bSide, n, nBlock, BN, tileB), barrier, loop(kk, u(0), u(KC), chunk, { typed: true }), barrier],
      { typed: true, step: KC },
    ),
  );

  body.push(...sharedEpilogue(kb, { root, core, out, outer, m, n, TM, TN, BM, BN, mBlock, nBlock, ty, tx, acc }));

  const el = f16 ? 'f16' : 'f32';
  const shared = [
    { name: tileA, ty: arrayOf(el, KC * BM) },
    { name: tileB, ty: arrayOf(el, KC * BN) },
  ];
  const total = chain('*', [...outer.map((x) => kb.size(x)), blocks(m, BM), blocks(n, BN)], u(1));
  const schedule =
    `schedule: workgroup memory, ${WM}x${WN} invocations × ${TM}x${TN} register tile = ${BM}x${BN} block over (${m}, ${n}), ` +
    `loop over (${contracted.join(', ')}) in chunks of ${KC}`;
  const wgsl = kb.module({ name, header: [...header, schedule], out, total, body, perWorkgroup: true, shared });
  const workgroups: SizeExpr = ['*', 1, ...outer, ['cdiv', m, BM], ['cdiv', n, BN]];
  return { wgsl, workgroups };
}

/**
 * The cooperative load of one chunk of a tile: element e of the tile is (kk = e / width,
 * row = e % width); every invocation loads KC·width / WORKGROUP of them, the product of the
 * operands of its side, zero past the edges.
 */
function cooperativeLoad(
  kb: KernelBuilder,
  p: { side: Node[]; ax: string; base: string; width: number; arr: string; side_: string; outer: string[]; contracted: string[]; K: Expr; k0: string },
): Stmt[] {
  const { side, ax, base, width, arr, side_, outer, contracted, K, k0 } = p;
  const f16 = kb.compute === 'f16';
  const lines: Stmt[] = [];
  for (let r = 0; r < (KC * width) / WORKGROUP; r++) {
    const e = kb.internal(`slot_${side_}${r}`);
    const k = kb.internal(`k_${side_}${r}`);
    const pos = kb.internal(`pos_${side_}${r}`);
    lines.push(
      let_(e, add(v(kb.internal('lid')), u(r * WORKGROUP))),
      let_(k, add(v(k0), div(v(e), u(width)))),
      let_(pos, add(mul(v(base), u(width)), mod(v(e), u(width)))),
    );
    // contracted indices of this k (clamped), outermost first
    const env: Record<string, Expr> = Object.fromEntries(outer.map((a) => [a, v(axisVar(a))]));
    env[ax] = min(v(pos), sub(kb.size(ax), u(1)));
    let stride: Expr | undefined;
    for (let c = contracted.length - 1; c >= 0; c--) {
      const a = contracted[c]!;
      const clamped = min(v(k), sub(K, u(1)));
      const q = stride ? div(clamped, par(stride)) : clamped;
      env[a] = c === 0 ? q : mod(par(q), kb.size(a));
      stride = stride ? mul(stride, kb.size(a)) : kb.size(a);
    }
    const s = new Scope(kb, kb.counter);
    const vals = side.map((o) => s.value(o, env as Env));
    // f16 compute: the tile holds each side's operand (product) rounded to f16
    const x = kb.sideProduct(vals);
    lines.push(...s.lines, set(index(v(arr), v(e)), select(f16 ? half(0) : flt(0), x, and(lt(v(k), K), lt(v(pos), kb.size(ax))))));
  }
  return lines;
}

/** The epilogue, as in the register-tile kernel: the core stands for the accumulator; stores guarded at the edges. */
function sharedEpilogue(
  kb: KernelBuilder,
  p: {
    root: Node;
    core: Einsum;
    out: BufferRef;
    outer: string[];
    m: string;
    n: string;
    TM: number;
    TN: number;
    BM: number;
    BN: number;
    mBlock: string;
    nBlock: string;
    ty: string;
    tx: string;
    acc: string[][];
  },
): Stmt[] {
  const { root, core, out, outer, m, n, TM, TN, BM, BN, mBlock, nBlock, ty, tx, acc } = p;
  const body: Stmt[] = [];
  const rows = Array.from({ length: TM }, (_, i) => ({ raw: add(add(mul(v(mBlock), u(BM)), mul(v(ty), u(TM))), u(i)), v: kb.internal(`${m}${i}`) }));
  const cols = Array.from({ length: TN }, (_, j) => ({ raw: add(add(mul(v(nBlock), u(BN)), mul(v(tx), u(TN))), u(j)), v: kb.internal(`${n}${j}`) }));
  for (const r of rows) body.push(let_(r.v, min(r.raw, sub(kb.size(m), u(1)))));
  for (const c of cols) body.push(let_(c.v, min(c.raw, sub(kb.size(n), u(1)))));
  for (let i = 0; i < TM; i++)
    for (let j = 0; j < TN; j++) {
      const env: Record<string, Expr> = Object.fromEntries(outer.map((x) => [x, v(axisVar(x))]));
      env[m] = v(rows[i]!.v);
      env[n] = v(cols[j]!.v);
      const epi = new Scope(kb, kb.counter, undefined, (x) => (x === core ? v(acc[i]![j]!) : undefined));
      const value = epi.value(root, env);
      body.push(if_(and(lt(rows[i]!.raw, kb.size(m)), lt(cols[j]!.raw, kb.size(n))), [...epi.lines, kb.store(out, env, value)]));
    }
  return body;
}
