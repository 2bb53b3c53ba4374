/**
 * The top of the stack: a graph compiled to a plan, runnable on the GPU. This is
 * the only module that joins the lowering and the runtime.
 */
import { fail } from './errors.ts';
import type { Graph } from './ir/index.ts';
import { explain, lower, specialiseFor, type LowerOptions } from './lower/index.ts';
import { f16ArrayToF32, f32ArrayToF16 } from './runtime/f16.ts';
import { runPlan, type RunOptions } from './runtime/execute.ts';
import type { HostArray } from './runtime/dtypes.ts';
import type { ExecPlan } from './runtime/plan.ts';
import { getRuntime, type Runtime } from './runtime/device.ts';

/** Options of {@link compile}: the lowering's, plus run-time specialisation. */
export interface CompileOptions extends LowerOptions {
  /**
   * lower flash attention per distinct head-dim sizes of the runs (literals in WGSL, Q
   * cached in registers); default false: lavapipe compiles the unrolled kernels slowly
   * (seconds per head dim), so it pays only for long runs at one shape
   */
  specializeHeadDims?: boolean;
}

/** An input array: values as any numeric array (f16 also as a Uint16Array of bits). */
export type RunInput = ArrayLike<number> | HostArray;

/** One output of {@link Compiled.run}: f16 outputs are widened to Float32Array values. */
export interface CompiledOutput {
  axes: string[];
  shape: number[];
  data: Float32Array | Int32Array;
}

/** A graph lowered to kernels, ready to run. */
export interface Compiled {
  readonly graph: Graph;
  /** the plan of the latest run (before any run: the plan with no sizes specialised) */
  readonly plan: ExecPlan;
  /**
   * The plan a run at `dims` uses: flash attention kernels are specialised to the
   * run's head dims and split-KV choice (one plan per distinct set, cached).
   * @example compile(mha()).planFor({ b: 1, h: 8, s: 1, t: 4096, d: 64, dv: 64 }).kernels.length // 2 (split + merge)
   */
  planFor(dims: Record<string, number>): ExecPlan;
  /** what the graph became (at `dims`, or as the latest run ran): kernels, their fused expressions and schedules */
  explain(dims?: Record<string, number>): string;
  /** runs on the GPU; `timing` adds per-kernel milliseconds */
  run(inputs: Record<string, RunInput>, dims: Record<string, number>, opts?: RunOptions): Promise<{
    outputs: Record<string, CompiledOutput>;
    kernelMs?: number[];
    totalMs: number;
  }>;
}

/**
 * Lowers a graph to fused WGSL kernels.
 * @example const { outputs } = await compile(mha()).run({ q, k, v }, { b: 1, h: 8, s: 128, t: 128, d: 64 })
 */
export function compile(graph: Graph, opts: CompileOptions = {}): Compiled {
  const { specializeHeadDims = false, ...lowerOpts } = opts;
  const generic = lower(graph, lowerOpts);
  const plans = new Map<string, ExecPlan>();
  let latest = generic;
  const planWith = (dims: Record<string, number>, extra: Partial<LowerOptions>): ExecPlan => {
    const base = { ...lowerOpts, ...extra };
    const spec = dims && typeof dims === 'object' ? specialiseFor(graph, base, dims, specializeHeadDims) : undefined;
    const key = `${JSON.stringify(extra)}|${spec?.key ?? ''}`;
    if (!spec && !Object.keys(extra).length) return generic;
    let p = plans.get(key);
    if (!p) plans.set(key, (p = lower(graph, spec ? spec.opts : base)));
    return p;
  };
  const planFor = (dims: Record<string, number>): ExecPlan => planWith(dims, {});
  // workgroup-memory staging pays where barriers are cheap (GPUs), not on a CPU rasteriser
  const sharedFor = async (runtime?: Runtime): Promise<Partial<LowerOptions>> =>
    opts.shared === undefined && (runtime ?? (await getRuntime())).kind === 'hardware' ? { shared: true } : {};
  return {
    graph,
    get plan() {
      return latest;
    },
    planFor,
    explain: (dims) => explain(dims ? planFor(dims) : latest),
    async run(inputs, dims, runOpts = {}) {
      const plan = planWith(dims, await sharedFor(runOpts.runtime));
      latest = plan;
      if (inputs === null || typeof inputs !== 'object') fail('BAD_INPUT', `graph '${graph.name}': inputs must be an object of arrays`);
      const host: Record<string, HostArray> = {};
      for (const [name, arr] of Object.entries(inputs)) {
        const decl = graph.inputs.find((i) => i.name === name);
        host[name] = decl ? toHost(name, decl.dtype, arr) : (arr as HostArray); // unknown names: the runtime names them
      }
      const r = await runPlan(plan, host, dims, runOpts);
      const outputs: Record<string, CompiledOutput> = {};
      for (const [name, o] of Object.entries(r.outputs))
        outputs[name] = { axes: o.axes, shape: o.shape, data: o.dtype === 'f16' ? f16ArrayToF32(o.data as Uint16Array) : (o.data as Float32Array | Int32Array) };
      return { outputs, kernelMs: r.kernelMs, totalMs: r.totalMs };
    },
  };
}

function toHost(name: string, dtype: string, arr: RunInput): HostArray {
  if (arr === null || typeof arr !== 'object' || typeof (arr as ArrayLike<number>).length !== 'number')
    fail('BAD_INPUT', `input '${name}' must be an array of numbers, got ${arr === null ? 'null' : typeof arr}`);
  if (dtype === 'f32') return arr instanceof Float32Array ? arr : Float32Array.from(arr as ArrayLike<number>);
  if (dtype === 'f16') return arr instanceof Uint16Array ? arr : f32ArrayToF16(arr as ArrayLike<number>);
  if (arr instanceof Int32Array) return arr;
  const out = new Int32Array(arr.length);
  for (let i = 0; i < arr.length; i++) {
    const v = (arr as ArrayLike<number>)[i]!;
    if (!Number.isInteger(v) || v < -2147483648 || v > 2147483647) fail('BAD_INPUT', `input '${name}' is i32 but value ${i} is ${v}`);
    out[i] = v;
  }
  return out;
}
