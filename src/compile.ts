/**
 * The top of the stack: a graph compiled to a plan, runnable on the GPU. This is
 * the only module that joins the lowering and the runtime.
 */
import { fail } from './errors.ts';
import type { Graph } from './ir/index.ts';
import { explain, lower, loweringKey, specializeFor, unfusedReason, type FlashDevice, type LowerOptions } from './lower/index.ts';
import { f16ArrayToF32, f32ArrayToF16 } from './runtime/f16.ts';
import { runPlan, type RunOptions } from './runtime/execute.ts';
import { DeviceTensor } from './runtime/tensor.ts';
import type { HostArray } from './runtime/dtypes.ts';
import type { ExecPlan } from './runtime/plan.ts';
import { getRuntime, type Runtime } from './runtime/device.ts';
import { subgroupLayout } from './runtime/subgroups.ts';

/** Options of {@link compile}: the lowering's, plus run-time specialization. */
export interface CompileOptions extends LowerOptions {
  /**
   * lower flash attention per distinct head-dim sizes of the runs (literals in WGSL, Q
   * cached in registers, scores in register blocks of keys). Default 'auto': where every
   * head dim is at least 64 (real models; on lavapipe MHA prefill at d = 64 runs about 20%
   * faster than with sizes as uniforms). false keeps one plan for every head dim, true
   * specializes small ones too (each set of sizes compiles its own pipelines)
   */
  specializeHeadDims?: boolean | 'auto';
  /**
   * what to do where the adapter lacks `shader-f16` and the graph needs it (f16 inputs or
   * outputs, or `compute: 'f16'`): 'error' (default) throws DTYPE naming the feature; 'f32'
   * runs the graph with f32 buffers and f32 arithmetic, rounding f16 inputs and outputs to
   * f16 values on the host (the run result says `f32Fallback: true`)
   */
  f16Fallback?: 'error' | 'f32';
  /**
   * 'require' throws NOT_FUSED, one line saying why, when the plan keeps a temporary that
   * holds both a query axis and a key axis (an s×t buffer) or the flash matcher rejected a
   * softmax · V contraction (`explain()` lists both); default 'auto' takes the plan as it is
   */
  fused?: 'auto' | 'require';
}

/**
 * An input: values as any numeric array (f16 also as a Uint16Array of bits, i8 as an
 * Int8Array), or a {@link DeviceTensor} already on the GPU (bound as it is, no copy).
 */
export type RunInput = ArrayLike<number> | HostArray | DeviceTensor;

/** One output of {@link Compiled.run}: f16 outputs are widened to Float32Array values, i8 outputs are an Int8Array. */
export interface CompiledOutput {
  axes: string[];
  shape: number[];
  data: Float32Array | Int32Array | Int8Array;
}

/** A graph lowered to kernels, ready to run. */
export interface Compiled {
  readonly graph: Graph;
  /** the plan of the latest run (before any run: the plan with no sizes specialized) */
  readonly plan: ExecPlan;
  /**
   * The plan a run at `dims` uses: flash attention kernels are specialized to the
   * run's head dims and split-KV choice (one plan per distinct set, cached).
   * @example compile(mha()).planFor({ b: 1, h: 8, s: 1, t: 4096, d: 64, dv: 64 }).kernels.length // 2 (split + merge)
   */
  planFor(dims: Record<string, number>): ExecPlan;
  /**
   * The plan a run at `dims` on `runtime` uses: `planFor`'s plan with the device's choices added
   * (subgroup shuffles where they fit, workgroup-memory staging on hardware, the f16 fallback),
   * so its WGSL and schedules are exactly what runs.
   * @example (await compile(gqa()).planOn({ b: 1, h: 32, g: 8, s: 1, t: 4096, d: 128, dv: 128 }, rt)).kernels.map((k) => k.name) // ['gqa_0_flash_partial', 'gqa_0_flash_merge']
   */
  planOn(dims: Record<string, number>, runtime: Runtime): Promise<ExecPlan>;
  /** what the graph became (at `dims`, or as the latest run ran): kernels, their fused expressions and schedules */
  explain(dims?: Record<string, number>): string;
  /**
   * runs on the GPU; `timing` adds per-kernel milliseconds. Outputs are read back into
   * `outputs`, or stay on the device in `tensors` with `outputs: 'device'`, `into` or `session`
   */
  run(
    inputs: Record<string, RunInput>,
    dims: Record<string, number>,
    opts?: RunOptions,
  ): Promise<{
    outputs: Record<string, CompiledOutput>;
    /** outputs left on the device */
    tensors: Record<string, DeviceTensor>;
    kernelMs?: number[];
    totalMs: number;
    /** present when the adapter lacked shader-f16 and `f16Fallback: 'f32'` ran the graph in f32 */
    f32Fallback?: true;
  }>;
}

/**
 * Lowers a graph to fused WGSL kernels.
 * @example const { outputs } = await compile(mha()).run({ q, k, v }, { b: 1, h: 8, s: 128, t: 128, d: 64 })
 * @example const half = compile(mha({ causal: true }), { compute: 'f16' }) // f16 products, f32 sums and softmax
 */
export function compile(graph: Graph, opts: CompileOptions = {}): Compiled {
  const { specializeHeadDims = 'auto', f16Fallback = 'error', fused = 'auto', ...lowerOpts } = opts;
  if (f16Fallback !== 'error' && f16Fallback !== 'f32') fail('USAGE', `compile: f16Fallback must be 'error' or 'f32', got ${JSON.stringify(f16Fallback)}`);
  if (fused !== 'auto' && fused !== 'require') fail('USAGE', `compile: fused must be 'auto' or 'require', got ${JSON.stringify(fused)}`);
  // whether a float input or output of this dtype lives in an f16 buffer (declared f16, or storage: 'f16')
  const storedF16 = (dtype: string) => dtype === 'f16' || (dtype === 'f32' && lowerOpts.storage === 'f16');
  const generic = lower(graph, lowerOpts);
  // run-time specialization changes schedules and sizes, never what fuses: the generic plan answers
  const why = fused === 'require' ? unfusedReason(generic) : undefined;
  if (why !== undefined) fail('NOT_FUSED', `graph '${graph.name}' is not fully fused (fused: 'require'): ${why}`);
  const plans = new Map<string, ExecPlan>();
  let latest = generic;
  const planWith = (dims: Record<string, number>, extra: Partial<LowerOptions>, device: FlashDevice = {}): ExecPlan => {
    const base = { ...lowerOpts, ...extra };
    const spec = dims && typeof dims === 'object' ? specializeFor(graph, base, dims, specializeHeadDims, device) : undefined;
    if (!spec && !Object.keys(extra).length) return generic;
    const o = spec ? spec.opts : base;
    // one key over every lowering option and schedule knob: equal keys, equal plans
    const key = spec?.key ?? loweringKey(graph, o);
    let p = plans.get(key);
    if (!p) plans.set(key, (p = lower(graph, o)));
    return p;
  };
  const planFor = (dims: Record<string, number>): ExecPlan => planWith(dims, {});
  // workgroup-memory staging pays where barriers are cheap (GPUs), not on a CPU rasteriser
  const sharedFor = (runtime: Runtime): Partial<LowerOptions> => (opts.shared === undefined && runtime.kind === 'hardware' ? { shared: true } : {});
  // the plan for this runtime: without shader-f16, an error naming it or the f32 fallback
  const planOn = (dims: Record<string, number>, rt: Runtime, device: FlashDevice): { plan: ExecPlan; fallback: boolean } => {
    const extra = sharedFor(rt);
    const plan = planWith(dims, extra, device);
    if (!plan.kernels.some((k) => k.features?.includes('shader-f16')) || rt.features.has('shader-f16')) return { plan, fallback: false };
    if (f16Fallback === 'error') {
      const f16Io = [...graph.inputs, ...graph.outputs.map((o) => ({ name: o.name, dtype: o.node.dtype }))]
        .filter((x) => storedF16(x.dtype))
        .map((x) => x.name);
      const why = [...(f16Io.length ? [`f16 tensors ${f16Io.join(', ')}`] : []), ...(lowerOpts.compute === 'f16' ? ["compute: 'f16'"] : [])].join(' and ');
      fail(
        'DTYPE',
        `graph '${graph.name}' needs the WebGPU feature 'shader-f16' (for ${why}), which the ${rt.kind} adapter ${rt.info.description || rt.info.device} does not have; compile(graph, { f16Fallback: 'f32' }) runs it with f32 buffers and arithmetic instead`,
      );
    }
    return { plan: planWith(dims, { ...extra, widenF16: true }, device), fallback: true };
  };
  return {
    graph,
    get plan() {
      return latest;
    },
    planFor,
    planOn: async (dims, rt) => planOn(dims, rt, await flashDevice(rt)).plan,
    explain: (dims) => explain(dims ? planFor(dims) : latest),
    async run(inputs, dims, runOpts = {}) {
      const rt = runOpts.session?.runtime ?? runOpts.runtime ?? (await getRuntime());
      const { plan, fallback } = planOn(dims, rt, await flashDevice(rt));
      latest = plan;
      if (inputs === null || typeof inputs !== 'object') fail('BAD_INPUT', `graph '${graph.name}': inputs must be an object of arrays`);
      const host: Record<string, HostArray | DeviceTensor> = {};
      for (const [name, arr] of Object.entries(inputs)) {
        const decl = graph.inputs.find((i) => i.name === name);
        const buf = plan.buffers.find((b) => b.name === name && b.role === 'input');
        if (arr instanceof DeviceTensor) {
          // the f32 fallback of an f16 tensor would need converting the data, which lives on the device
          if (fallback && decl && storedF16(decl.dtype) && arr.dtype === 'f16')
            fail(
              'DTYPE',
              `graph '${graph.name}': input '${name}' is an f16 device tensor, but the ${rt.kind} adapter lacks shader-f16 and the f32 fallback runs with f32 buffers; upload it as f32`,
            );
          host[name] = arr;
          continue;
        }
        // unknown names: the runtime names them
        host[name] = decl && buf ? toHost(name, buf.dtype, arr, fallback && storedF16(decl.dtype)) : (arr as HostArray);
      }
      const r = await runPlan(plan, host, dims, { ...runOpts, runtime: rt });
      const outputs: Record<string, CompiledOutput> = {};
      for (const [name, o] of Object.entries(r.outputs)) {
        let data = o.dtype === 'f16' ? f16ArrayToF32(o.data as Uint16Array) : (o.data as CompiledOutput['data']);
        // the fallback computed an f16 output in f32: store it as f16 would
        const decl = graph.outputs.find((x) => x.name === name);
        if (fallback && decl && storedF16(decl.node.dtype)) data = f16ArrayToF32(f32ArrayToF16(data));
        outputs[name] = { axes: o.axes, shape: o.shape, data };
      }
      return { outputs, tensors: r.tensors, kernelMs: r.kernelMs, totalMs: r.totalMs, ...(fallback ? { f32Fallback: true as const } : {}) };
    },
  };
}

/**
 * The host array for an input buffer of `dtype`. An f16 buffer takes a Uint16Array as bits
 * and rounds anything else; `asF16` (the f32 fallback of an f16 tensor) gives f32 values
 * rounded to f16, as the f16 buffer would hold them.
 */
function toHost(name: string, dtype: string, arr: Exclude<RunInput, DeviceTensor>, asF16 = false): HostArray {
  if (arr === null || typeof arr !== 'object' || typeof (arr as ArrayLike<number>).length !== 'number')
    fail('BAD_INPUT', `input '${name}' must be an array of numbers, got ${arr === null ? 'null' : typeof arr}`);
  if (dtype === 'f16' || (dtype === 'f32' && asF16)) {
    const bits = arr instanceof Uint16Array ? arr : f32ArrayToF16(arr as ArrayLike<number>);
    return dtype === 'f16' ? bits : f16ArrayToF32(bits);
  }
  if (dtype === 'f32') return arr instanceof Float32Array ? arr : Float32Array.from(arr as ArrayLike<number>);
  if (dtype === 'i8') {
    if (arr instanceof Int8Array) return arr;
    if (arr instanceof Uint16Array || arr instanceof Uint8Array)
      fail('BAD_INPUT', `input '${name}' is i8: pass an Int8Array (or numbers in -128..127), not a ${arr.constructor.name}`);
    return integers(name, 'i8', arr as ArrayLike<number>, new Int8Array(arr.length), -128, 127);
  }
  if (arr instanceof Int32Array) return arr;
  return integers(name, 'i32', arr as ArrayLike<number>, new Int32Array(arr.length), -2147483648, 2147483647);
}

function integers<T extends Int8Array | Int32Array>(name: string, dtype: string, arr: ArrayLike<number>, out: T, lo: number, hi: number): T {
  for (let i = 0; i < arr.length; i++) {
    const v = arr[i]!;
    if (!Number.isInteger(v) || v < lo || v > hi) fail('BAD_INPUT', `input '${name}' is ${dtype} (integers ${lo}..${hi}) but value ${i} is ${v}`);
    out[i] = v;
  }
  return out;
}

/**
 * What the flash schedule may use on `rt`: whether it is a CPU rasteriser, and its smallest subgroup
 * size when subgroups are usable there (the feature, and a layout along local_invocation_index, probed once).
 * @example const device = await flashDevice(await getRuntime()) // { cpu: true, subgroupSize: 8 } on lavapipe
 */
export async function flashDevice(rt: Runtime): Promise<FlashDevice> {
  const cpu: FlashDevice = rt.kind === 'software' ? { cpu: true } : {};
  if (!rt.features.has('subgroups')) return cpu;
  const layout = await subgroupLayout(rt);
  return layout.linear ? { ...cpu, subgroupSize: layout.smallest } : cpu;
}
