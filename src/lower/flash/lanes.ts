/**
 * The lane merge of the flash kernel: with `kvLanes > 1` several invocations share
 * one register tile of query rows, each streaming every kvLanes-th KV tile, and
 * their running max, sum and accumulator are combined once at the end, like two
 * splits of split-KV but inside one workgroup.
 */
import type { KernelBuilder } from '../kernels/frame.ts';
import { NEG_INF } from '../wgsl.ts';
import { named } from './context.ts';

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
  /** per row r: the running max, sum and accumulator variables */
  m: (r: number) => string;
  l: (r: number) => string;
  acc: (r: number) => string;
  /** with the debug tile counter: the lane's count, and the workgroup total's name */
  debugLoaded?: { loaded: string; total: string };
  /** merge with subgroup shuffles instead of workgroup memory */
  subgroups: boolean;
}

/** The merge's statements, its workgroup-memory declarations and their size in bytes. */
export interface LaneMerge {
  lines: string[];
  shared: string[];
  bytes: number;
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
  const count = [`if (${a.rinv} == 0u) { atomicAdd(&${total}, ${loaded}); }`, ...(a.subgroups ? ['workgroupBarrier();'] : [])];
  return { lines: [...count, ...merged.lines], shared: [...merged.shared, `var<workgroup> ${total}: atomic<u32>;`], bytes: merged.bytes + 4 };
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
  const masks = Array.from({ length: Math.log2(KL) }, (_, i) => `${1 << i}u`);
  const [mm, f, v, cc] = [I('mm'), I('fl'), I('v'), I('c')];
  const lines: string[] = [];
  for (let r = 0; r < R; r++) {
    const [m, l, acc] = [a.m(r), a.l(r), a.acc(r)];
    lines.push(
      '{',
      `  var ${mm} = ${m};`,
      ...masks.map((k) => `  ${mm} = max(${mm}, subgroupShuffleXor(${mm}, ${k}));`),
      `  let ${f} = select(exp(${m} - ${mm}), 0.0, ${m} == ${NEG_INF});`,
      `  ${l} = ${l} * ${f};`,
      ...masks.map((k) => `  ${l} += subgroupShuffleXor(${l}, ${k});`),
      `  for (var ${cc} = 0u; ${cc} < ${DVC}u; ${cc}++) {`,
      `    var ${v} = ${acc}[${cc}] * ${f};`,
      ...masks.map((k) => `    ${v} += subgroupShuffleXor(${v}, ${k});`),
      `    ${acc}[${cc}] = ${v};`,
      '  }',
      `  ${m} = ${mm};`,
      '}',
    );
  }
  return { lines, shared: [], bytes: 0 };
}

/**
 * Workgroup-memory merge: every lane publishes its state; after one barrier lane 0
 * of each row tile folds the lanes and reloads the result into its registers.
 */
function sharedMerge(a: LaneMergeArgs): LaneMerge {
  const { kb, R, WG, KL, DVC, lane, rinv } = a;
  const I = (w: string) => named(kb, w);
  // the rows are folded by a run-time loop: unrolled per row, the merge made lavapipe's compile ~10x slower
  const [wm, wl, wacc, wmax, q, rr, mm, ll, ov, fq, sl, cc] = ['wm', 'wl', 'wacc', 'wmax', 'q', 'rr', 'mm', 'll', 'ov', 'fq', 'sl', 'c'].map(I) as [string, string, string, string, string, string, string, string, string, string, string, string];
  const slots = WG * R;
  const shared = [
    `var<workgroup> ${wm}: array<f32, ${slots}>;`,
    `var<workgroup> ${wl}: array<f32, ${slots}>;`,
    `var<workgroup> ${wmax}: array<f32, ${(WG / KL) * R}>;`,
    `var<workgroup> ${wacc}: array<f32, ${slots * DVC}>;`,
  ];
  const bytes = sharedMergeBytes(R, WG, KL, DVC);
  const slot = (ln: string, r: string) => `((${rinv} * ${KL}u + ${ln}) * ${R}u + ${r})`;
  const lines: string[] = [];
  for (let r = 0; r < R; r++)
    lines.push(
      `${wm}[${slot(lane, `${r}u`)}] = ${a.m(r)};`,
      `${wl}[${slot(lane, `${r}u`)}] = ${a.l(r)};`,
      `for (var ${cc} = 0u; ${cc} < ${DVC}u; ${cc}++) { ${wacc}[${slot(lane, `${r}u`)} * ${DVC}u + ${cc}] = ${a.acc(r)}[${cc}]; }`,
    );
  lines.push(
    'workgroupBarrier();',
    `if (${lane} == 0u) {`,
    `  for (var ${rr} = 0u; ${rr} < ${R}u; ${rr}++) {`,
    `    var ${mm} = ${NEG_INF};`,
    `    for (var ${q} = 0u; ${q} < ${KL}u; ${q}++) { ${mm} = max(${mm}, ${wm}[${slot(q, rr)}]); }`,
    `    var ${ll} = 0.0;`,
    `    for (var ${q} = 0u; ${q} < ${KL}u; ${q}++) {`,
    `      let ${sl} = ${slot(q, rr)};`,
    `      let ${fq} = select(exp(${wm}[${sl}] - ${mm}), 0.0, ${wm}[${sl}] == ${NEG_INF});`,
    `      ${ll} += ${wl}[${sl}] * ${fq};`,
    `      ${wm}[${sl}] = ${fq}; // from here on: the lane's weight`,
    '    }',
    `    for (var ${cc} = 0u; ${cc} < ${DVC}u; ${cc}++) {`,
    `      var ${ov} = 0.0;`,
    `      for (var ${q} = 0u; ${q} < ${KL}u; ${q}++) { ${ov} += ${wacc}[${slot(q, rr)} * ${DVC}u + ${cc}] * ${wm}[${slot(q, rr)}]; }`,
    `      ${wacc}[${slot('0u', rr)} * ${DVC}u + ${cc}] = ${ov};`,
    '    }',
    `    ${wl}[${slot('0u', rr)}] = ${ll};`,
    `    ${wmax}[${rinv} * ${R}u + ${rr}] = ${mm};`,
    '  }',
    ...Array.from({ length: R }, (_, r) => [
      `  ${a.m(r)} = ${wmax}[${rinv} * ${R}u + ${r}u];`,
      `  ${a.l(r)} = ${wl}[${slot('0u', `${r}u`)}];`,
      `  for (var ${cc} = 0u; ${cc} < ${DVC}u; ${cc}++) { ${a.acc(r)}[${cc}] = ${wacc}[${slot('0u', `${r}u`)} * ${DVC}u + ${cc}]; }`,
    ]).flat(),
    '}',
  );
  return { lines, shared, bytes };
}
