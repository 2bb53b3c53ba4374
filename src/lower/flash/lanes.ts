/**
 * The lane merge of the flash kernel: with `kvLanes > 1` several invocations share
 * one register tile of query rows, each streaming every kvLanes-th KV tile, and
 * their running max, sum and accumulator are combined once at the end, like two
 * splits of split-KV but inside one workgroup.
 */
import {
  add,
  addr,
  arrayOf,
  barrier,
  block,
  call,
  eq,
  flt,
  if_,
  inc,
  index,
  inline,
  let_,
  loop,
  max,
  mul,
  par,
  set,
  u,
  uadd,
  umul,
  v,
  var_,
  type Expr,
  type Stmt,
  type Ty,
} from '../../kir/ir.ts';
import type { KernelBuilder } from '../kernels/frame.ts';
import { NEG_INF } from '../wgsl.ts';
import { named } from './context.ts';
import { rescale } from './softmax-math.ts';

/** What the merge needs from the kernel: its geometry and the names of its variables. */
export interface LaneMergeArgs {
  kb: KernelBuilder;
  /** rows per invocation, invocations per workgroup, lanes per row tile, value columns */
  R: number;
  WG: number;
  KL: number;
  DVC: number;
  /** the invocation's lane within its row tile, and its row tile within the workgroup */
  lane: string;
  rinv: string;
  /**
   * per row r: the running max, sum and accumulator variables; without a max (plain weights,
   * no normaliser) the lanes' sums and accumulators simply add, and without a sum there is none
   */
  m?: (r: number) => string;
  l?: (r: number) => string;
  acc: (r: number) => string;
  /** a prefix for the names of the workgroup-memory variables (one set per attention map) */
  tag?: string;
  /** with the debug tile counter: the lane's count, and the workgroup total's name */
  debugLoaded?: { loaded: string; total: string };
  /** merge with subgroup shuffles instead of workgroup memory */
  subgroups: boolean;
}

/** The merge's statements and its workgroup-memory variables (the kernel's byte count is summed from their types). */
export interface LaneMerge {
  lines: Stmt[];
  shared: { name: string; ty: Ty }[];
}

/**
 * Bytes of workgroup memory the workgroup-memory merge needs: a max, a sum and DVC accumulator
 * columns per (invocation, row), plus the merged max per (row tile, row).
 * @example sharedMergeBytes(4, 8, 8, 128) // 16656
 */
export function sharedMergeBytes(R: number, WG: number, KL: number, DVC: number): number {
  return 4 * (WG * R * (DVC + 2) + (WG / KL) * R);
}

/** The merge statements for the chosen mechanism (subgroup shuffles, or workgroup memory and one barrier). */
export function laneMerge(a: LaneMergeArgs): LaneMerge {
  const merged = a.subgroups ? subgroupMerge(a) : sharedMerge(a);
  if (!a.debugLoaded) return merged;
  // the lanes of one row tile (any one: every row tile of a workgroup streams the same tiles) share its count
  const { loaded, total } = a.debugLoaded;
  const count = [inline(if_(eq(v(a.rinv), u(0)), [{ k: 'call', fn: 'atomicAdd', args: [addr(v(total)), v(loaded)] }])), ...(a.subgroups ? [barrier] : [])];
  return { lines: [...count, ...merged.lines], shared: [...merged.shared, { name: total, ty: { atomic: 'u32' } }] };
}

/**
 * Subgroup merge: the KL lanes of a row tile are KL consecutive invocations of one
 * subgroup (KL divides the subgroup size and subgroups follow local_invocation_index:
 * the runtime checks both before dispatch), so a butterfly of log2(KL)
 * `subgroupShuffleXor` steps leaves every lane with the max, then the rescaled sum
 * and accumulator of all lanes. No workgroup memory, no barrier.
 */
function subgroupMerge(a: LaneMergeArgs): LaneMerge {
  const { kb, R, KL, DVC } = a;
  const I = (w: string) => named(kb, w);
  const masks = Array.from({ length: Math.log2(KL) }, (_, i) => u(1 << i));
  const [mm, fl, x, cc] = [I('mm'), I('fl'), I('v'), I('c')];
  const shuffle = (e: Expr, k: Expr) => call('subgroupShuffleXor', e, k);
  const lines: Stmt[] = [];
  for (let r = 0; r < R; r++) {
    const acc = v(a.acc(r));
    if (!a.m) {
      // plain weights: the lanes' sums and accumulators add
      const l = a.l ? v(a.l(r)) : undefined;
      lines.push(
        block(
          ...(l ? masks.map((k) => inc(l, shuffle(l, k))) : []),
          loop(cc, u(0), u(DVC), [var_(x, undefined, index(acc, v(cc))), ...masks.map((k) => inc(v(x), shuffle(v(x), k))), set(index(acc, v(cc)), v(x))]),
        ),
      );
      continue;
    }
    const [m, l] = [v(a.m(r)), v(a.l!(r))];
    lines.push(
      block(
        var_(mm, undefined, m),
        ...masks.map((k) => set(v(mm), max(v(mm), shuffle(v(mm), k)))),
        let_(fl, rescale(m, v(mm))),
        set(l, mul(l, v(fl))),
        ...masks.map((k) => inc(l, shuffle(l, k))),
        loop(cc, u(0), u(DVC), [
          var_(x, undefined, mul(index(acc, v(cc)), v(fl))),
          ...masks.map((k) => inc(v(x), shuffle(v(x), k))),
          set(index(acc, v(cc)), v(x)),
        ]),
        set(m, v(mm)),
      ),
    );
  }
  return { lines, shared: [] };
}

/**
 * Workgroup-memory merge: every lane publishes its state; after one barrier lane 0
 * of each row tile folds the lanes and reloads the result into its registers. Without a
 * running max (plain weights) the fold only adds.
 */
function sharedMerge(a: LaneMergeArgs): LaneMerge {
  const { kb, R, WG, KL, DVC } = a;
  const I = (w: string) => named(kb, w);
  const tag = a.tag ?? '';
  // the rows are folded by a run-time loop: unrolled per row, the merge made lavapipe's compile ~10x slower
  const [wm, wl, wacc, wmax] = ['wm', 'wl', 'wacc', 'wmax'].map((w) => I(`${tag}${w}`)) as [string, string, string, string];
  const [q, rr, mm, ll, ov, fq, sl, cc] = ['q', 'rr', 'mm', 'll', 'ov', 'fq', 'sl', 'c'].map(I) as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const slots = WG * R;
  const [hasM, hasL] = [a.m !== undefined, a.l !== undefined];
  const shared = [
    ...(hasM ? [{ name: wm, ty: arrayOf('f32', slots) }] : []),
    ...(hasL ? [{ name: wl, ty: arrayOf('f32', slots) }] : []),
    ...(hasM ? [{ name: wmax, ty: arrayOf('f32', (WG / KL) * R) }] : []),
    { name: wacc, ty: arrayOf('f32', slots * DVC) },
  ];
  const [lane, rinv] = [v(a.lane), v(a.rinv)];
  /** the slot of (lane ln, row r) of this invocation's row tile */
  const slot = (ln: Expr, r: Expr) => par(add(umul(par(add(mul(rinv, u(KL)), ln)), u(R)), r));
  /** the accumulator column c of a slot */
  const accAt = (s: Expr) => index(v(wacc), add(mul(s, u(DVC)), v(cc)));
  const lines: Stmt[] = [];
  for (let r = 0; r < R; r++)
    lines.push(
      ...(a.m ? [set(index(v(wm), slot(lane, u(r))), v(a.m(r)))] : []),
      ...(a.l ? [set(index(v(wl), slot(lane, u(r))), v(a.l(r)))] : []),
      loop(cc, u(0), u(DVC), [set(accAt(slot(lane, u(r))), index(v(a.acc(r)), v(cc)))], { inline: true }),
    );
  // a lane's weight: exp(m_lane - max) with a running max, else 1
  const weight = (s: Expr): Expr => (hasM ? mul(accAt(s), index(v(wm), s)) : accAt(s));
  const sums: Stmt[] = hasM
    ? [
        var_(mm, undefined, NEG_INF),
        loop(q, u(0), u(KL), [set(v(mm), max(v(mm), index(v(wm), slot(v(q), v(rr)))))], { inline: true }),
        var_(ll, undefined, flt(0)),
        loop(q, u(0), u(KL), [
          let_(sl, slot(v(q), v(rr))),
          let_(fq, rescale(index(v(wm), v(sl)), v(mm))),
          inc(v(ll), mul(index(v(wl), v(sl)), v(fq))),
          { k: 'line', body: [set(index(v(wm), v(sl)), v(fq)), { k: 'comment', text: "from here on: the lane's weight" }] },
        ]),
      ]
    : hasL
      ? [var_(ll, undefined, flt(0)), loop(q, u(0), u(KL), [inc(v(ll), index(v(wl), slot(v(q), v(rr))))], { inline: true })]
      : [];
  const fold = loop(rr, u(0), u(R), [
    ...sums,
    loop(cc, u(0), u(DVC), [
      var_(ov, undefined, flt(0)),
      loop(q, u(0), u(KL), [inc(v(ov), weight(slot(v(q), v(rr))))], { inline: true }),
      set(accAt(slot(u(0), v(rr))), v(ov)),
    ]),
    ...(hasL ? [set(index(v(wl), slot(u(0), v(rr))), v(ll))] : []),
    ...(hasM ? [set(index(v(wmax), uadd(umul(rinv, u(R)), v(rr))), v(mm))] : []),
  ]);
  const reload = Array.from({ length: R }, (_, r) => [
    ...(a.m ? [set(v(a.m(r)), index(v(wmax), uadd(umul(rinv, u(R)), u(r))))] : []),
    ...(a.l ? [set(v(a.l(r)), index(v(wl), slot(u(0), u(r))))] : []),
    loop(cc, u(0), u(DVC), [set(index(v(a.acc(r)), v(cc)), accAt(slot(u(0), u(r))))], { inline: true }),
  ]).flat();
  lines.push(barrier, if_(eq(lane, u(0)), [fold, ...reload]));
  return { lines, shared };
}
