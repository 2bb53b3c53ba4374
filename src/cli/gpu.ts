/** The CLI's access to the device: adapter choice from a flag, timed runs, WGSL files. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Compiled, CompiledOutput, RunInput } from '../compile.ts';
import { getRuntime, type Runtime } from '../runtime/index.ts';
import type { AdapterChoice } from '../runtime/index.ts';
import { usage } from './args.ts';
import { median } from './numerics.ts';

const CHOICES = ['auto', 'hardware', 'software', 'opengles'];

/**
 * Validates an `--adapter` flag (undefined leaves the choice to EINATTN_ADAPTER).
 * @example adapterFlag('software') // 'software'
 */
export function adapterFlag(value: string | undefined): AdapterChoice | undefined {
  if (value === undefined) return undefined;
  const v = value.trim().toLowerCase();
  if (!CHOICES.includes(v)) usage(`--adapter must be one of ${CHOICES.join(' | ')}, got '${value}'`);
  return v as AdapterChoice;
}

/**
 * The shared runtime for an adapter choice.
 * @example const rt = await openRuntime('software')
 */
export async function openRuntime(adapter: AdapterChoice | undefined): Promise<Runtime> {
  return getRuntime(adapter === undefined ? {} : { adapter });
}

/**
 * A short description of the adapter, for summaries.
 * @example const line = adapterLine(rt) // 'software (llvmpipe: Mesa 25.0.7…, vulkan)' on lavapipe
 * @example adapterLine(rt).startsWith(`${rt.kind} (`) // true
 */
export function adapterLine(rt: Runtime): string {
  return `${rt.kind} (${rt.info.description || rt.info.device || rt.info.vendor || 'unnamed'}, ${rt.backend})`;
}

/** Kernel times of repeated runs. */
export interface Timing {
  runs: number;
  /** sum of the per-kernel times of each run */
  totalsMs: number[];
  medianMs: number;
  minMs: number;
  maxMs: number;
  /** median time of each kernel, in plan order */
  perKernelMs: number[];
  /** 'timestamp-query' or 'wall clock per kernel' */
  method: string;
}

/**
 * Times a compiled graph: one warm-up run (pipelines, buffers), then `runs` timed runs.
 * @example const t = await timeRuns(compiled, inputs, dims, rt, 5); t.medianMs
 */
export async function timeRuns(
  compiled: Compiled,
  inputs: Record<string, RunInput>,
  dims: Record<string, number>,
  runtime: Runtime,
  runs: number,
  warmup = true,
): Promise<Timing & { outputs: Record<string, CompiledOutput> }> {
  let outputs: Record<string, CompiledOutput> | undefined;
  if (warmup) outputs = (await compiled.run(inputs, dims, { runtime })).outputs;
  const totals: number[] = [];
  const perKernel: number[][] = compiled.plan.kernels.map(() => []);
  for (let i = 0; i < runs; i++) {
    const r = await compiled.run(inputs, dims, { runtime, timing: true });
    outputs ??= r.outputs;
    const ks = r.kernelMs ?? [r.totalMs];
    ks.forEach((ms, j) => perKernel[j]?.push(ms));
    totals.push(ks.reduce((a, b) => a + b, 0));
  }
  return {
    outputs: outputs!,
    runs,
    totalsMs: totals,
    medianMs: median(totals),
    minMs: Math.min(...totals),
    maxMs: Math.max(...totals),
    perKernelMs: perKernel.map(median),
    method: runtime.features.has('timestamp-query') ? 'timestamp-query' : 'wall clock per kernel',
  };
}

/**
 * Writes each kernel's WGSL to `dir/<kernel>.wgsl` and returns the paths.
 * @example writeWgsl(compile(mha()), 'out/wgsl') // ['out/wgsl/mha_0_flash.wgsl']
 */
export function writeWgsl(compiled: Pick<Compiled, 'plan'>, dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  return compiled.plan.kernels.map((k) => {
    const path = join(dir, `${k.name}.wgsl`);
    writeFileSync(path, k.wgsl);
    return path;
  });
}
