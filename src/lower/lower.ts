/**
 * The lowering pipeline, a short list of named passes:
 *   groupKernels (fusion) → planSizes → emit one WGSL kernel per group → ExecPlan.
 */
import { fail } from '../errors.ts';
import { isWgslBuiltin, resolveSizes, specialize, type Graph } from '../ir/index.ts';
import type { ExecPlan, PlanBuffer, PlanKernel, SizeExpr } from '../runtime/plan.ts';
import { describe } from './describe.ts';
import { contractKernel, type Tile } from './kernels/contract.ts';
import { sharedApplies, sharedContractKernel } from './kernels/contract-shared.ts';
import { KernelBuilder, planKernel, WORKGROUP } from './kernels/frame.ts';
import { pointwiseKernel } from './kernels/pointwise.ts';
import { scanKernel } from './kernels/scan.ts';
import { softmaxKernel } from './kernels/softmax.ts';
import { topkKernel } from './kernels/topk.ts';
import { describeMatch } from './flash/context.ts';
import { autoSplit, emitFlash } from './flash/kernel.ts';
import { findFlash, type FlashMatch } from './flash/match.ts';
import { flashSchedule, type FlashSchedule } from './flash/schedule.ts';
import { indexChecks } from './index-checks.ts';
import { groupKernels, type KernelGroup } from './schedule.ts';
import { planSizes, unitAxes } from './sizes.ts';
import { unfusedPart } from './unfused.ts';
import { internalName, type BufferRef, type ComputeType } from './wgsl.ts';

/** Knobs of the generic lowering. */
export interface LowerOptions {
  /** register tile (rows, columns) of contraction kernels; default [4, 4] */
  tile?: Tile;
  /**
   * stage contraction operands through workgroup memory (pays on GPUs, where barriers
   * are cheap; on a CPU rasteriser register tiles win); default false here, and compile()
   * turns it on when the runtime is a hardware adapter
   */
  shared?: boolean;
  /**
   * fused attention: unset = wherever the pattern matches; `true` = required (LOWERING
   * error naming why a softmax-contraction did not match); `false` = the unfused lowering
   */
  flash?: boolean;
  /** the flash kernel's schedule (rows per invocation, KV tile, split-KV, block mask …) */
  flashSchedule?: Partial<FlashSchedule>;
  /** sizes to bake into the kernels as literals (e.g. head dims); other values are SIZE_CONFLICT at dispatch */
  specialize?: Record<string, number>;
  /** the sizes the plan will run at: used only for automatic choices (split-KV, contraction tile axes), never baked in */
  dims?: Record<string, number>;
  /** flash kernels also output `_flash_tiles`: the KV tiles each workgroup loaded (for tests) */
  debugTiles?: boolean;
  /**
   * the arithmetic of einsum products: 'f32' (default), or 'f16', where each operand and
   * each product is rounded to f16 (the adapter needs shader-f16) while accumulators, the
   * softmax's running max and sum, exp and every other op stay f32
   */
  compute?: ComputeType;
  /**
   * the storage of the graph's float inputs and outputs: 'f16' stores the f32 ones as f16
   * too (halving their traffic; kernels widen on load and round on store); temporaries
   * stay f32. Default: as the graph declares them.
   */
  storage?: 'f16';
  /**
   * declare f16 inputs and outputs as f32 buffers and compute in f32: the plan needs no
   * shader-f16 (compile()'s `f16Fallback: 'f32'` converts the arrays on the host)
   */
  widenF16?: boolean;
}

function checkTile(t: unknown): Tile {
  const ok = Array.isArray(t) && t.length === 2 && t.every((x) => Number.isInteger(x) && x >= 1 && x <= 8);
  if (!ok) fail('USAGE', `lower: tile must be two integers in 1..8 (rows, columns), got ${JSON.stringify(t)}`);
  return t as unknown as Tile;
}

/** What lowering one graph accumulates: its buffers and their names, the plan's buffers, kernels and derived sizes. */
interface Lowering {
  graph: Graph;
  opts: LowerOptions;
  tile: Tile;
  /** axes of size 1 at `opts.dims`: contraction tiles put no rows on them */
  unit: ReadonlySet<string>;
  compute: ComputeType;
  sched: FlashSchedule;
  axes: Set<string>;
  flashOf: Map<number, FlashMatch>;
  /** the flash kernels' block maps, shared by kernels with the same mask and tiles */
  blockMaps: Map<string, BufferRef>;
  /** an internal name (`_word`) no axis variable has, and a tensor's WGSL identifier */
  internal: (word: string) => string;
  ident: (name: string) => string;
  /** the buffer dtype of a float input or output: f16 when declared so or when storage is f16, unless widened */
  f16Buf: (d: string) => BufferRef['dtype'];
  userNames: Set<string>;
  buffers: Map<number, BufferRef>;
  names: Map<number, string>;
  planBuffers: PlanBuffer[];
  kernels: PlanKernel[];
  derived: ExecPlan['derivedSizes'];
}

/**
 * Lowers a graph to an executable plan of fused WGSL kernels.
 * @example const plan = lower(mha({ causal: true })); plan.kernels.length // 2 (block map, flash)
 */
export function lower(graph0: Graph, opts: LowerOptions = {}): ExecPlan {
  const tile = checkTile(opts.tile ?? [4, 4]);
  if (opts.compute !== undefined && opts.compute !== 'f32' && opts.compute !== 'f16')
    fail('USAGE', `lower: compute must be 'f32' or 'f16', got ${JSON.stringify(opts.compute)}`);
  const widen = opts.widenF16 === true;
  const compute: ComputeType = widen ? 'f32' : (opts.compute ?? 'f32');
  if (opts.storage !== undefined && opts.storage !== 'f16') fail('USAGE', `lower: storage must be 'f16' (or unset), got ${JSON.stringify(opts.storage)}`);
  const graph = opts.specialize && Object.keys(opts.specialize).length ? specialize(graph0, opts.specialize) : graph0;
  const sched = flashSchedule(opts.flashSchedule);
  const found = opts.flash === false ? { matches: [], misses: [] } : findFlash(graph);
  if (opts.flash === true && found.matches.length === 0) {
    const why = found.misses.map((m) => `  ${describe(m.node, new Map())}: ${m.reason}`);
    fail(
      'LOWERING',
      `graph '${graph.name}': flash attention was required but no softmax · V contraction matches the attention pattern${why.length ? `:\n${why.join('\n')}` : ' (the graph has no contraction of a softmax)'}`,
    );
  }
  const axes = new Set(graph.sizes);
  const internal = (word: string) => internalName(axes, word);
  const L: Lowering = {
    graph,
    opts,
    tile,
    unit: new Set(unitAxes(graph, opts.dims)),
    compute,
    sched,
    axes,
    internal,
    flashOf: new Map<number, FlashMatch>(found.matches.map((m) => [m.out.id, m])),
    blockMaps: new Map(),
    ident: (name) => (isWgslBuiltin(name) ? internal(`${name}_buf`) : name),
    f16Buf: (d) => ((d === 'f16' || (d === 'f32' && opts.storage === 'f16')) && !widen ? 'f16' : 'f32'),
    userNames: new Set([...graph.inputs.map((i) => i.name), ...graph.outputs.map((o) => o.name)]),
    buffers: new Map(),
    names: new Map(),
    planBuffers: [],
    kernels: [],
    derived: [],
  };
  for (const i of graph.inputs) {
    const b: BufferRef = {
      name: i.name,
      ident: L.ident(i.name),
      axes: i.axes,
      dtype: i.dtype === 'f16' || i.dtype === 'f32' ? L.f16Buf(i.dtype) : (i.dtype as BufferRef['dtype']),
    };
    L.buffers.set(i.id, b);
    L.names.set(i.id, i.name);
    L.planBuffers.push({ name: i.name, dtype: b.dtype, shape: [...i.axes], role: 'input', axes: [...i.axes] });
  }
  const inner = new Set(found.matches.flatMap((m) => [...m.inner]));
  groupKernels(graph, { inner, flash: new Set(L.flashOf.keys()) }).forEach((gr, k) => lowerGroup(L, gr, k));
  checkGathers(graph);
  const rules = planSizes(graph);
  return {
    name: graph.name,
    ...rules,
    derivedSizes: [...rules.derivedSizes, ...L.derived],
    buffers: L.planBuffers,
    kernels: L.kernels,
    constraints: rules.constraints,
    indexChecks: indexChecks(graph, found.matches),
    ...withUnfused(unfusedPart(graph, L.planBuffers, L.names, found.misses, opts.flash === false)),
  };
}

/** Emits the kernel(s) of one group and records its output buffer. */
function lowerGroup(L: Lowering, gr: KernelGroup, k: number): void {
  const { graph } = L;
  const { root, core } = gr;
  const kind = gr.flash ? 'flash' : (core?.op ?? 'map');
  const outName = gr.output ?? L.internal(`${kind}${k}`);
  const dtype: BufferRef['dtype'] = root.dtype === 'i32' ? 'i32' : root.dtype === 'i8' ? (gr.output ? 'i8' : 'i32') : gr.output ? L.f16Buf(root.dtype) : 'f32';
  // an output that views the kernel's result: the kernel stores through the views
  const shown = gr.views?.at(-1) ?? root;
  const plain: BufferRef = { name: outName, ident: L.ident(outName), axes: shown.axes, dtype };
  const out: BufferRef = gr.views ? { ...plain, views: gr.views } : plain;
  let name = `${graph.name}_${k}_${kind}`;
  while (L.userNames.has(name)) name += '_';
  const header = [`einattn kernel ${name} (graph '${graph.name}', kernel ${k + 1})`, `${outName}[${shown.axes.join(' ')}] = ${describe(shown, L.names)}`];
  const planOut: PlanBuffer = { name: outName, dtype, shape: [...shown.axes], role: gr.output ? 'output' : 'temp', axes: [...shown.axes] };
  if (gr.flash) flashGroup(L, gr, name, header, out, planOut);
  else {
    L.kernels.push(genericKernel(L, gr, name, header, out));
    L.planBuffers.push(planOut);
  }
  L.buffers.set(shown.id, plain);
  L.names.set(shown.id, outName);
}

/** The fused attention kernels of a matched group (flash/kernel.ts); its lse outputs become buffers of the plan. */
function flashGroup(L: Lowering, gr: KernelGroup, name: string, header: string[], out: BufferRef, planOut: PlanBuffer): void {
  const { graph, names } = L;
  const m = L.flashOf.get(gr.core!.id)!;
  const lse = m.lse.map((l) => {
    const o = graph.outputs.find((x) => x.node === l)!;
    const b: BufferRef = { name: o.name, ident: L.ident(o.name), axes: l.axes, dtype: L.f16Buf(l.dtype) };
    L.planBuffers.push({ name: o.name, dtype: b.dtype, shape: [...l.axes], role: 'output', axes: [...l.axes] });
    L.buffers.set(l.id, b);
    names.set(l.id, o.name);
    return b;
  });
  const em = emitFlash({
    name,
    header,
    staticSizes: graph.staticSizes,
    buffers: L.buffers,
    axes: L.axes,
    match: m,
    root: gr.root,
    out,
    lse,
    schedule: L.sched,
    split: chooseSplit(graph, m, L.sched, L.opts.dims),
    compute: L.compute,
    debugTiles: L.opts.debugTiles === true,
    describe: describeMatch(m, (n) => describe(n, names)),
    blockMaps: L.blockMaps,
    internal: (w) => L.internal(w),
  });
  L.kernels.push(...em.kernels);
  L.planBuffers.push(...em.buffers.filter((b) => b.role === 'temp'), planOut, ...em.buffers.filter((b) => b.role !== 'temp'));
  L.derived.push(...em.derivedSizes);
}

/** The one kernel of a group without attention: softmax, contraction (register or workgroup-memory tiles) or elementwise. */
function genericKernel(L: Lowering, gr: KernelGroup, name: string, header: string[], out: BufferRef): PlanKernel {
  const { root, core } = gr;
  const kb = new KernelBuilder(L.graph.staticSizes, L.buffers, L.axes, L.compute);
  const { wgsl, workgroups }: { wgsl: string; workgroups: SizeExpr } =
    core?.op === 'softmax'
      ? softmaxKernel(kb, name, header, root, core, out)
      : core?.op === 'scan'
        ? scanKernel(kb, name, header, root, core, out)
        : core?.op === 'topk'
          ? topkKernel(kb, name, header, root, core, out)
          : core && L.opts.shared && sharedApplies(root, core, L.unit)
            ? sharedContractKernel(kb, name, header, root, core, out, L.tile, L.unit)
            : core
              ? contractKernel(kb, name, header, root, core, out, L.tile, L.unit)
              : pointwiseKernel(kb, name, header, root, out);
  return planKernel(kb, name, wgsl, WORKGROUP, workgroups, [out]);
}

/** 1 (one pass), n splits, or 'dynamic' (the auto split count, evaluated at dispatch). */
function chooseSplit(g: Graph, m: FlashMatch, sched: FlashSchedule, dims: Record<string, number> | undefined): number | 'dynamic' {
  if (sched.split !== 'auto') return sched.split;
  if (!dims) return 1;
  let sizes: Record<string, number>;
  try {
    sizes = resolveSizes(g, dims);
  } catch {
    return 1; // bad dims are reported by the runtime with its own message
  }
  return autoSplit(m, sizes, sched, g.staticSizes) > 1 ? 'dynamic' : 1;
}

/** `{ unfused }` when the plan has an unfused part, else nothing (plans of fused graphs stay as they were). */
function withUnfused(u: ExecPlan['unfused']): Pick<ExecPlan, 'unfused'> {
  return u ? { unfused: u } : {};
}

function checkGathers(graph: Graph): void {
  for (const n of graph.nodes) if (n.op === 'gather' && n.index.dtype !== 'i32') fail('LOWERING', `gather '${n.axis}': index must be i32`);
}
