/**
 * The cost of a graph at given sizes: FLOPs, bytes of the fused and unfused plans,
 * KV-cache bytes per token, arithmetic intensity, and the roofline bound and time
 * on a device.
 */
import { fail } from '../errors.ts';
import { resolveSizes, type Graph } from '../ir/index.ts';
import { lower } from '../lower/index.ts';
import type { Device } from './devices.ts';
import { graphFlops, type FlopCount } from './flops.ts';
import { kvPerToken, type KvCost } from './kv.ts';
import { planTraffic, type Traffic } from './traffic.ts';

/** Everything `einattn cost` reports for one graph. */
export interface CostReport {
  graph: string;
  sizes: Record<string, number>;
  dtype: 'f32' | 'f16';
  flops: FlopCount;
  fused: Traffic & { kernels: number };
  unfused: Traffic & { kernels: number };
  kv: KvCost;
  /** FLOPs per byte of the fused plan */
  intensity: number;
  /** on a device: the bound and roofline time of the fused plan, and the time of the unfused one */
  device?: Device & { bound: 'compute' | 'memory'; predictedMs: number; predictedUnfusedMs: number; ridge: number };
}

/**
 * Costs `g` at `dims` (any sizes the solver can complete), in `dtype` storage.
 * @example costOf(mha({ causal: true }), { b: 1, h: 8, s: 1024, t: 1024, d: 64, dv: 64 }, { device: DEVICES.h100 })
 */
export function costOf(g: Graph, dims: Record<string, number>, opts: { dtype?: 'f32' | 'f16'; device?: Device; batchAxes?: string[] } = {}): CostReport {
  const dtype = opts.dtype ?? 'f32';
  if (dtype !== 'f32' && dtype !== 'f16') fail('DTYPE', `cost: dtype must be f32 or f16, got ${String(dtype)}`);
  const bytes = dtype === 'f16' ? 2 : 4;
  const sizes = resolveSizes(g, dims);
  const flops = graphFlops(g, sizes);
  const fusedPlan = lower(g, { dims: sizes });
  const unfusedPlan = lower(g, { flash: false });
  const fused = { ...planTraffic(fusedPlan, sizes, bytes), kernels: fusedPlan.kernels.length };
  const unfused = { ...planTraffic(unfusedPlan, sizes, bytes), kernels: unfusedPlan.kernels.length };
  const kv = kvPerToken(g, sizes, bytes, opts.batchAxes);
  const moved = fused.read + fused.written;
  const intensity = flops.total / moved;
  const report: CostReport = { graph: g.name, sizes, dtype, flops, fused, unfused, kv, intensity };
  if (opts.device) {
    const peak = opts.device.flops[dtype];
    const computeS = flops.total / peak;
    const memoryS = memorySeconds(fused, opts.device);
    const unfusedS = Math.max(computeS, memorySeconds(unfused, opts.device));
    report.device = {
      ...opts.device,
      bound: computeS >= memoryS ? 'compute' : 'memory',
      predictedMs: Math.max(computeS, memoryS) * 1e3,
      predictedUnfusedMs: unfusedS * 1e3,
      ridge: peak / opts.device.bandwidth,
    };
  }
  return report;
}

/**
 * The least time a plan's traffic takes on a device: reads at the streaming-read rate and
 * writes at the copy rate where the read rate was measured, else everything at `bandwidth`.
 * @example memorySeconds({ read: 3.35e12, written: 0 }, DEVICES.h100) // 1
 */
export function memorySeconds(t: Pick<Traffic, 'read' | 'written'>, device: Device): number {
  if (device.readBandwidth) return t.read / device.readBandwidth + t.written / device.bandwidth;
  return (t.read + t.written) / device.bandwidth;
}
