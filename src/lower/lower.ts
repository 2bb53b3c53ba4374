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
import { KernelBuilder } from './kernels/frame.ts';
import { pointwiseKernel } from './kernels/pointwise.ts';
import { softmaxKernel } from './kernels/softmax.ts';
import { autoSplit, emitFlash } from './flash/kernel.ts';
import { findFlash, type FlashMatch } from './flash/match.ts';
import { flashSchedule, type FlashSchedule } from './flash/schedule.ts';
import { indexChecks } from './index-checks.ts';
import { groupKernels } from './schedule.ts';
import { planSizes } from './sizes.ts';
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
  /** the sizes the plan will run at: used only for automatic choices (split-KV), never baked in */
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

/**
 * Lowers a graph to an executable plan of fused WGSL kernels.
 * @example const plan = lower(mha({ causal: true })); plan.kernels.length // 2 (block map, flash)
 */
export function lower(graph0: Graph, opts: LowerOptions = {}): ExecPlan {
  const tile = checkTile(opts.tile ?? [4, 4]);
  if (opts.compute !== undefined && opts.compute !== 'f32' && opts.compute !== 'f16')
    fail('USAGE', `lower: compute must be 'f32' or 'f16', got ${JSON.stringify(opts.compute)}`);
  const widen = opts.widenF16 === true;
  const compute: ComputeType = widen ? 'f32' : opts.compute ?? 'f32';
  if (opts.storage !== undefined && opts.storage !== 'f16') fail('USAGE', `lower: storage must be 'f16' (or unset), got ${JSON.stringify(opts.storage)}`);
  // the buffer of a float input or output: f16 when declared so, or when storage is f16
  const f16Buf = (d: string): BufferRef['dtype'] => ((d === 'f16' || (d === 'f32' && opts.storage === 'f16')) && !widen ? 'f16' : 'f32');
  const graph = opts.specialize && Object.keys(opts.specialize).length ? specialize(graph0, opts.specialize) : graph0;
  const sched = flashSchedule(opts.flashSchedule);
  const found = opts.flash === false ? { matches: [], misses: [] } : findFlash(graph);
  if (opts.flash === true && found.matches.length === 0) {
    const why = found.misses.map((m) => `  ${describe(m.node, new Map())}: ${m.reason}`);
    fail('LOWERING', `graph '${graph.name}': flash attention was required but no softmax · V contraction matches the attention pattern${why.length ? `:\n${why.join('\n')}` : ' (the graph has no contraction of a softmax)'}`);
  }
  const flashOf = new Map<number, FlashMatch>(found.matches.map((m) => [m.out.id, m]));
  const inner = new Set(found.matches.flatMap((m) => [...m.inner]));
  const derived: ExecPlan['derivedSizes'] = [];
  const axes = new Set(graph.sizes);
  const internal = (word: string) => internalName(axes, word);
  const ident = (name: string) => (isWgslBuiltin(name) ? internal(`${name}_buf`) : name);
  const buffers = new Map<number, BufferRef>();
  const names = new Map<number, string>();
  const planBuffers: PlanBuffer[] = [];
  const userNames = new Set([...graph.inputs.map((i) => i.name), ...graph.outputs.map((o) => o.name)]);
  for (const i of graph.inputs) {
    const b: BufferRef = { name: i.name, ident: ident(i.name), axes: i.axes, dtype: i.dtype === 'f16' || i.dtype === 'f32' ? f16Buf(i.dtype) : (i.dtype as BufferRef['dtype']) };
    buffers.set(i.id, b);
    names.set(i.id, i.name);
    planBuffers.push({ name: i.name, dtype: b.dtype, shape: [...i.axes], role: 'input', axes: [...i.axes] });
  }
  const kernels: PlanKernel[] = [];
  groupKernels(graph, { inner, flash: new Set(flashOf.keys()) }).forEach((gr, k) => {
    const { root, core } = gr;
    const kind = gr.flash ? 'flash' : core?.op ?? 'map';
    const outName = gr.output ?? internal(`${kind}${k}`);
    const dtype: BufferRef['dtype'] =
      root.dtype === 'i32' ? 'i32'
      : root.dtype === 'i8' ? (gr.output ? 'i8' : 'i32')
      : gr.output ? f16Buf(root.dtype) : 'f32';
    const out: BufferRef = { name: outName, ident: ident(outName), axes: root.axes, dtype };
    let name = `${graph.name}_${k}_${kind}`;
    while (userNames.has(name)) name += '_';
    const header = [
      `einattn kernel ${name} (graph '${graph.name}', kernel ${k + 1})`,
      `${outName}[${root.axes.join(' ')}] = ${describe(root, names)}`,
    ];
    if (gr.flash) {
      const m = flashOf.get(core!.id)!;
      const lse = m.lse.map((l) => {
        const o = graph.outputs.find((x) => x.node === l)!;
        const b: BufferRef = { name: o.name, ident: ident(o.name), axes: l.axes, dtype: f16Buf(l.dtype) };
        planBuffers.push({ name: o.name, dtype: b.dtype, shape: [...l.axes], role: 'output', axes: [...l.axes] });
        buffers.set(l.id, b);
        names.set(l.id, o.name);
        return b;
      });
      const em = emitFlash({
        name, header, staticSizes: graph.staticSizes, buffers, axes, match: m, root, out, lse, schedule: sched,
        split: chooseSplit(graph, m, sched, opts.dims),
        compute,
        debugTiles: opts.debugTiles === true,
        describe: {
          scores: describe(m.softmax.x, names),
          contractions: m.scores.map((c) => describe(c.einsum, names)),
          mask: m.softmax.mask && describe(m.softmax.mask, names),
          sink: m.softmax.sink && describe(m.softmax.sink, names),
          length: m.length && `${describe(m.length.end, names)}${m.length.inclusive ? ' + 1' : ''}`,
          out: describe(root, names),
        },
        internal: (w) => internal(w),
      });
      kernels.push(...em.kernels);
      planBuffers.push(...em.buffers.filter((b) => b.role === 'temp'));
      planBuffers.push({ name: outName, dtype, shape: [...root.axes], role: gr.output ? 'output' : 'temp', axes: [...root.axes] });
      planBuffers.push(...em.buffers.filter((b) => b.role !== 'temp'));
      derived.push(...em.derivedSizes);
      buffers.set(root.id, out);
      names.set(root.id, outName);
      return;
    }
    const kb = new KernelBuilder(graph.staticSizes, buffers, axes, compute);
    const { wgsl, workgroups, workgroupStorageBytes = 0 }: { wgsl: string; workgroups: SizeExpr; workgroupStorageBytes?: number } =
      core?.op === 'softmax' ? softmaxKernel(kb, name, header, root, core, out)
      : core && opts.shared && sharedApplies(root, core) ? sharedContractKernel(kb, name, header, root, core, out, tile)
      : core ? contractKernel(kb, name, header, root, core, out, tile)
      : pointwiseKernel(kb, name, header, root, out);
    kernels.push({
      name, wgsl, workgroupSize: [64, 1, 1], workgroups,
      bindings: [...kb.reads.map((b) => ({ buffer: b.name, access: 'read' as const })), { buffer: out.name, access: 'read_write' as const }],
      uniforms: [...kb.uniforms],
      workgroupStorageBytes,
      ...(kb.f16 ? { features: ['shader-f16'] } : {}),
    });
    planBuffers.push({ name: outName, dtype, shape: [...root.axes], role: gr.output ? 'output' : 'temp', axes: [...root.axes] });
    buffers.set(root.id, out);
    names.set(root.id, outName);
  });
  checkGathers(graph);
  const rules = planSizes(graph);
  return { name: graph.name, ...rules, derivedSizes: [...rules.derivedSizes, ...derived], buffers: planBuffers, kernels, indexChecks: indexChecks(graph, found.matches) };
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

function checkGathers(graph: Graph): void {
  for (const n of graph.nodes) if (n.op === 'gather' && n.index.dtype !== 'i32') fail('LOWERING', `gather '${n.axis}': index must be i32`);
}
