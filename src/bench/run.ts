/**
 * Runs benchmark rows: each problem on each system (einattn fused and unfused, the
 * interpreter, ONNX Runtime WebGPU and CPU) in one process on one adapter, with
 * warm-up, repeated timing, and a check of every output against a reference.
 */
import { cpus, totalmem } from 'node:os';
import { compile, type CompileOptions } from '../compile.ts';
import { costOf, measureRoofline, type MeasuredRoofline } from '../cost/index.ts';
import { interpret } from '../interp/index.ts';
import type { Graph } from '../ir/index.ts';
import type { FlashSchedule } from '../lower/index.ts';
import { adapterReport, bindSizes, resolveBuffers, type ExecPlan, type Runtime } from '../runtime/index.ts';
import { variantOf, type BenchCase } from './cases.ts';
import { runDecodeSteps, type DecodeStepCase, type DecodeStepRow } from './decode.ts';
import { sampleInputs } from '../tune/inputs.ts';
import { loadOrt, ortProblem, ortRunner } from './ort.ts';
import { timeStats, type TimeStats } from '../tune/stats.ts';

/** The systems a row can run on. */
export const SYSTEMS = ['einattn', 'einattn-unfused', 'interpreter', 'ort-webgpu', 'ort-cpu'] as const;
export type SystemName = (typeof SYSTEMS)[number];

/** One problem on one system. */
export interface BenchRow {
  case: string;
  variant: string;
  opts: Record<string, boolean | number>;
  dims: Record<string, number>;
  kind: BenchCase['kind'];
  system: SystemName;
  status: 'ok' | 'skipped' | 'error';
  /** why a row was skipped or failed */
  reason?: string;
  /** what the system runs when it differs from the einattn row */
  note?: string;
  /** wall-clock time per call as a user sees it: upload, kernels, readback */
  wall?: TimeStats;
  /** GPU kernel time (timestamp queries), einattn only */
  kernel?: TimeStats;
  /** FLOPs of the problem (masked positions not counted) and the bytes a fused plan must move */
  flops: number;
  bytes: number;
  /** from the median wall time (kernel time for einattn): FLOP/s and bytes/s achieved */
  gflops?: number;
  gbps?: number;
  /** einattn only: GPU memory its plan allocates at these sizes (every buffer), and its largest temporary */
  gpu?: { bytes: number; largestTemp: number };
  /** the measured roofline's time for this problem, and the fraction of it achieved */
  rooflineMs: number;
  rooflineFraction?: number;
  bound: 'compute' | 'memory';
  /** largest |difference| from the reference output (the interpreter when it ran, else einattn fused) */
  maxAbsDiff?: number;
  /** the flash schedule einattn ran with, and where it came from */
  schedule?: { source: string; values: Partial<FlashSchedule> };
}

/** A whole run: where it ran, the measured limits, and every row. */
export interface BenchResult {
  date: string;
  machine: { cpus: number; cpuModel: string; memoryGiB: number; platform: string; node: string };
  adapter: { id: string; kind: string; description: string; backend: string };
  roofline: MeasuredRoofline;
  repeat: number;
  rows: BenchRow[];
  /** decode loops on a device KV cache (`decode.ts`), when the run has them */
  decodeSteps?: DecodeStepRow[];
}

/** How to run the bench. */
export interface BenchOptions {
  cases: BenchCase[];
  systems?: readonly SystemName[];
  /** timed runs per row after one warm-up (the interpreter runs at most 3 times) */
  repeat?: number;
  runtime: Runtime;
  /** the interpreter runs only rows with at most this many FLOPs */
  interpMaxFlops?: number;
  /** the flash schedule for a case and its graph (e.g. a tuned one), with a label of where it came from */
  scheduleFor?: (c: BenchCase, graph: Graph) => { source: string; values: Partial<FlashSchedule> } | undefined;
  /** one line per finished row (to stderr in the CLI) */
  progress?: (line: string) => void;
  /** decode-step rows, run after the other rows (their ORT WebGPU rows are matched by variant and sizes) */
  decodeSteps?: readonly DecodeStepCase[];
}

interface Sample {
  wallMs: number;
  kernelMs?: number;
  output: Float32Array;
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

/**
 * Runs every case on every system and returns the rows.
 * @example const r = await runBench({ cases: QUICK_CASES, runtime: await getRuntime() })
 */
export async function runBench(opts: BenchOptions): Promise<BenchResult> {
  const { runtime, repeat = 5, interpMaxFlops = 1.5e8, progress = () => {} } = opts;
  const systems = opts.systems ?? SYSTEMS;
  const report = adapterReport(runtime);
  progress(`measuring this adapter's roofline (FMA and copy microkernels)…`);
  const roofline = await measureRoofline(runtime);
  progress(`roofline: ${roofline.gflops.toPrecision(3)} GFLOP/s, ${roofline.readGbps.toPrecision(3)} GB/s read, ${roofline.gbps.toPrecision(3)} GB/s copy`);
  const device = { name: roofline.adapter, flops: { f32: roofline.gflops * 1e9, f16: roofline.gflops * 1e9 }, bandwidth: roofline.gbps * 1e9, readBandwidth: roofline.readGbps * 1e9, source: 'measured' };
  const rows: BenchRow[] = [];
  const total = opts.cases.length * systems.length;

  for (const c of opts.cases) {
    const graph = variantOf(c.variant).build(c.opts);
    const cost = costOf(graph, c.dims, { device });
    const flops = cost.flops.total;
    const bytes = cost.fused.read + cost.fused.written;
    const inputs = sampleInputs(graph, c.dims);
    const arrays = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, v.data]));
    let reference: { name: string; data: ArrayLike<number> } | undefined;
    const ordered = [...systems].sort((a, b) => (a === 'interpreter' ? -1 : b === 'interpreter' ? 1 : 0));
    for (const system of ordered) {
      const base: BenchRow = {
        case: c.id, variant: c.variant, opts: c.opts, dims: c.dims, kind: c.kind, system, status: 'ok', flops, bytes,
        rooflineMs: cost.device!.predictedMs, bound: cost.device!.bound,
      };
      const row = await timeSystem(system, base);
      rows.push(row);
      const t = row.wall ? `${row.wall.median.toFixed(2)} ms` : row.status;
      progress(`[${rows.length}/${total}] ${c.id.padEnd(24)} ${system.padEnd(16)} ${t}${row.reason ? ` (${row.reason})` : ''}`);
    }

    async function timeSystem(system: SystemName, row: BenchRow): Promise<BenchRow> {
      const sample = async (warm: number, n: number, once: () => Promise<Sample>): Promise<Sample[]> => {
        for (let i = 0; i < warm; i++) await once();
        const out: Sample[] = [];
        for (let i = 0; i < n; i++) out.push(await once());
        return out;
      };
      let samples: Sample[];
      try {
        if (system === 'interpreter') {
          if (flops > interpMaxFlops) return { ...row, status: 'skipped', reason: `${(flops / 1e6).toFixed(0)} MFLOP is above the interpreter's limit of ${(interpMaxFlops / 1e6).toFixed(0)}` };
          samples = await sample(0, Math.min(repeat, 3), async () => {
            const t0 = performance.now();
            const r = interpret(graph, arrays, c.dims);
            return { wallMs: performance.now() - t0, output: Float32Array.from(r.o!.data) };
          });
          reference = { name: 'interpreter', data: samples[0]!.output };
        } else if (system === 'einattn' || system === 'einattn-unfused') {
          const sched = system === 'einattn' ? opts.scheduleFor?.(c, graph) : undefined;
          const precision: CompileOptions = c.compute ? { compute: c.compute } : {};
          const copts: CompileOptions = system === 'einattn' ? { ...precision, flashSchedule: sched?.values ?? {} } : { ...precision, flash: false };
          const compiled = compile(graph, copts);
          samples = await sample(1, repeat, async () => {
            const r = await compiled.run(arrays, c.dims, { runtime, timing: true });
            return { wallMs: r.totalMs, kernelMs: (r.kernelMs ?? []).reduce((a, b) => a + b, 0), output: r.outputs.o!.data as Float32Array };
          });
          if (system === 'einattn') row.schedule = sched ?? { source: 'default', values: {} };
          row.gpu = gpuBytes(compiled.plan, c.dims);
        } else {
          if (c.compute) return { ...row, status: 'skipped', reason: `ONNX Runtime's contrib ops have no ${c.compute} arithmetic on f32 inputs; compare with the f32 row` };
          const ort = await loadOrt();
          if (typeof ort === 'string') return { ...row, status: 'skipped', reason: ort };
          const problem = ortProblem(c, inputs);
          if (typeof problem === 'string') return { ...row, status: 'skipped', reason: problem };
          const runner = await ortRunner(ort, problem, system === 'ort-webgpu' ? 'webgpu' : 'cpu');
          try {
            samples = await sample(1, repeat, async () => {
              const r = await runner.run();
              return { wallMs: r.ms, output: r.output };
            });
          } finally {
            await runner.release();
          }
          if (problem.note) row.note = problem.note;
        }
      } catch (e) {
        return { ...row, status: 'error', reason: (e as Error).message.split('\n')[0] };
      }
      const wall = timeStats(samples.map((s) => s.wallMs));
      const kernel = samples[0]!.kernelMs === undefined ? undefined : timeStats(samples.map((s) => s.kernelMs!));
      const ms = (kernel ?? wall).median;
      const out = samples[samples.length - 1]!.output;
      if (!reference) reference = { name: system, data: out };
      return {
        ...row, wall, ...(kernel ? { kernel } : {}),
        gflops: flops / (ms * 1e6), gbps: bytes / (ms * 1e6), rooflineFraction: row.rooflineMs / ms,
        ...(reference.data === out ? {} : { maxAbsDiff: maxAbsDiff(out, reference.data) }),
      };
    }
  }
  return {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', memoryGiB: Math.round(totalmem() / 2 ** 30), platform: `${process.platform} ${process.arch}`, node: process.version },
    adapter: { id: roofline.adapter, kind: report.kind, description: report.description || report.device, backend: report.backend },
    roofline, repeat, rows,
    ...(opts.decodeSteps?.length ? { decodeSteps: await runDecodeSteps(opts.decodeSteps, runtime, rows, progress) } : {}),
  };
}

/** What a plan allocates on the GPU at `dims`: every buffer (inputs, outputs, temporaries), and its largest temporary (an s×t score matrix shows here). */
function gpuBytes(plan: ExecPlan, dims: Record<string, number>): { bytes: number; largestTemp: number } {
  const buffers = resolveBuffers(plan, bindSizes(plan, dims));
  return {
    bytes: buffers.reduce((a, b) => a + b.allocBytes, 0),
    largestTemp: Math.max(0, ...buffers.filter((b) => b.role === 'temp').map((b) => b.allocBytes)),
  };
}
