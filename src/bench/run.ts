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
  /** per other system of the case: the median over interleaved rounds of its wall time / this row's */
  paired?: Partial<Record<SystemName, number>>;
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

/** One system ready to time on one case: `once` is one call as a user makes it. */
interface Prepared {
  system: SystemName;
  once: () => Promise<Sample>;
  release?: () => Promise<void>;
  /** fields the row gets from its setup (schedule, GPU memory, a note) */
  extra: Partial<BenchRow>;
}

/** Everything a case's systems share. */
interface CaseContext {
  c: BenchCase;
  graph: Graph;
  arrays: Record<string, ArrayLike<number>>;
  inputs: ReturnType<typeof sampleInputs>;
  runtime: Runtime;
  scheduleFor: BenchOptions['scheduleFor'];
}

/** Sets one system up (compile, session, ONNX model), or says why it cannot run this case. */
async function prepare(system: SystemName, x: CaseContext): Promise<Prepared | { status: 'skipped' | 'error'; reason: string }> {
  const { c, graph, arrays, runtime } = x;
  try {
    if (system === 'einattn' || system === 'einattn-unfused') {
      const sched = system === 'einattn' ? x.scheduleFor?.(c, graph) : undefined;
      const precision: CompileOptions = c.compute ? { compute: c.compute } : {};
      const copts: CompileOptions = system === 'einattn' ? { ...precision, flashSchedule: sched?.values ?? {} } : { ...precision, flash: false };
      const compiled = compile(graph, copts);
      const extra: Partial<BenchRow> = {
        gpu: gpuBytes(compiled.planFor(c.dims), c.dims),
        ...(system === 'einattn' ? { schedule: sched ?? { source: 'default', values: {} } } : {}),
      };
      return {
        system,
        extra,
        once: async () => {
          const r = await compiled.run(arrays, c.dims, { runtime, timing: true });
          return { wallMs: r.totalMs, kernelMs: (r.kernelMs ?? []).reduce((a, b) => a + b, 0), output: r.outputs.o!.data as Float32Array };
        },
      };
    }
    if (c.compute) return { status: 'skipped', reason: `ONNX Runtime's contrib ops have no ${c.compute} arithmetic on f32 inputs; compare with the f32 row` };
    const ort = await loadOrt();
    if (typeof ort === 'string') return { status: 'skipped', reason: ort };
    const problem = ortProblem(c, x.inputs);
    if (typeof problem === 'string') return { status: 'skipped', reason: problem };
    const runner = await ortRunner(ort, problem, system === 'ort-webgpu' ? 'webgpu' : 'cpu');
    return {
      system,
      extra: problem.note ? { note: problem.note } : {},
      release: () => runner.release(),
      once: async () => {
        const r = await runner.run();
        return { wallMs: r.ms, output: r.output };
      },
    };
  } catch (e) {
    return { status: 'error', reason: (e as Error).message.split('\n')[0]! };
  }
}

/**
 * Times prepared systems interleaved: one warm-up each, then `repeat` rounds of one call per
 * system, the order rotating every round, so that a machine that drifts (another process, a
 * clock change) slows every system alike. Returns each system's samples in round order.
 */
async function interleave(prepared: readonly Prepared[], repeat: number): Promise<{ samples: Sample[][]; failed: (string | undefined)[] }> {
  const samples = prepared.map(() => [] as Sample[]);
  const failed: (string | undefined)[] = prepared.map(() => undefined);
  // a system that fails is dropped from the rotation; the others go on
  const call = async (i: number, keep: boolean) => {
    if (failed[i] !== undefined) return;
    try {
      const r = await prepared[i]!.once();
      if (keep) samples[i]!.push(r);
    } catch (e) {
      failed[i] = (e as Error).message.split('\n')[0] ?? 'failed';
    }
  };
  for (let i = 0; i < prepared.length; i++) await call(i, false);
  for (let round = 0; round < repeat; round++) for (let j = 0; j < prepared.length; j++) await call((j + round) % prepared.length, true);
  return { samples, failed };
}

/**
 * The median over rounds of the paired wall-time ratio peer / row (above 1: the row is faster).
 * @example pairedRatio([10, 11], [20, 21]) // 1.95…
 */
export function pairedRatio(row: readonly number[], peer: readonly number[]): number | undefined {
  const n = Math.min(row.length, peer.length);
  if (!n) return undefined;
  return timeStats(Array.from({ length: n }, (_, i) => peer[i]! / row[i]!)).median;
}

/**
 * Runs every case on every system and returns the rows. Within a case the systems' timed
 * calls are interleaved and ratios come from the paired calls (see `interleave`).
 * @example const r = await runBench({ cases: QUICK_CASES, runtime: await getRuntime() })
 */
export async function runBench(opts: BenchOptions): Promise<BenchResult> {
  const { runtime, repeat = 5, interpMaxFlops = 1.5e8, progress = () => {} } = opts;
  const systems = opts.systems ?? SYSTEMS;
  const report = adapterReport(runtime);
  progress(`measuring this adapter's roofline (FMA, copy and streaming-read microkernels)…`);
  const roofline = await measureRoofline(runtime);
  progress(`roofline: ${roofline.gflops.toPrecision(3)} GFLOP/s, ${roofline.readGbps.toPrecision(3)} GB/s read, ${roofline.gbps.toPrecision(3)} GB/s copy`);
  const device = {
    name: roofline.adapter,
    flops: { f32: roofline.gflops * 1e9, f16: roofline.gflops * 1e9 },
    bandwidth: roofline.gbps * 1e9,
    readBandwidth: roofline.readGbps * 1e9,
    source: 'measured',
  };
  const rows: BenchRow[] = [];
  for (const c of opts.cases) {
    const graph = variantOf(c.variant).build(c.opts);
    const cost = costOf(graph, c.dims, { device });
    const inputs = sampleInputs(graph, c.dims);
    const x: CaseContext = {
      c,
      graph,
      inputs,
      arrays: Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, v.data])),
      runtime,
      scheduleFor: opts.scheduleFor,
    };
    const base = (system: SystemName): BenchRow => ({
      case: c.id,
      variant: c.variant,
      opts: c.opts,
      dims: c.dims,
      kind: c.kind,
      system,
      status: 'ok',
      flops: cost.flops.total,
      bytes: cost.fused.read + cost.fused.written,
      rooflineMs: cost.device!.predictedMs,
      bound: cost.device!.bound,
    });
    const caseRows = await benchCase(x, systems, base, repeat, interpMaxFlops);
    for (const row of caseRows)
      progress(
        `${c.id.padEnd(24)} ${row.system.padEnd(16)} ${row.wall ? `${row.wall.median.toFixed(2)} ms (IQR ${row.wall.p25.toFixed(2)}–${row.wall.p75.toFixed(2)})` : row.status}${row.reason ? ` (${row.reason})` : ''}`,
      );
    rows.push(...caseRows);
  }
  return {
    date: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      platform: `${process.platform} ${process.arch}`,
      node: process.version,
    },
    adapter: { id: roofline.adapter, kind: report.kind, description: report.description || report.device, backend: report.backend },
    roofline,
    repeat,
    rows,
    ...(opts.decodeSteps?.length ? { decodeSteps: await runDecodeSteps(opts.decodeSteps, runtime, rows, progress) } : {}),
  };
}

/** One case on every system: the interpreter first (the reference), the others interleaved. */
async function benchCase(
  x: CaseContext,
  systems: readonly SystemName[],
  base: (s: SystemName) => BenchRow,
  repeat: number,
  interpMaxFlops: number,
): Promise<BenchRow[]> {
  const { c, graph, arrays } = x;
  const rows: BenchRow[] = [];
  let reference: Float32Array | undefined;
  if (systems.includes('interpreter')) {
    const row = base('interpreter');
    if (row.flops > interpMaxFlops)
      rows.push({
        ...row,
        status: 'skipped',
        reason: `${(row.flops / 1e6).toFixed(0)} MFLOP is above the interpreter's limit of ${(interpMaxFlops / 1e6).toFixed(0)}`,
      });
    else {
      const samples: Sample[] = [];
      for (let i = 0; i < Math.min(repeat, 3); i++) {
        const t0 = performance.now();
        const r = interpret(graph, arrays, c.dims);
        samples.push({ wallMs: performance.now() - t0, output: Float32Array.from(r.o!.data) });
      }
      reference = samples[0]!.output;
      rows.push(finishRow(row, samples, undefined));
    }
  }
  const prepared: Prepared[] = [];
  for (const system of systems.filter((s) => s !== 'interpreter')) {
    const p = await prepare(system, x);
    if ('once' in p) prepared.push(p);
    else rows.push({ ...base(system), ...p });
  }
  try {
    const { samples, failed } = await interleave(prepared, repeat);
    const ok = (i: number) => failed[i] === undefined;
    reference ??= samples.find((_, i) => ok(i))?.at(-1)?.output;
    const walls = samples.map((ss) => ss.map((s) => s.wallMs));
    prepared.forEach((p, i) => {
      if (!ok(i)) return void rows.push({ ...base(p.system), status: 'error', reason: failed[i]! });
      const paired = Object.fromEntries(prepared.flatMap((q, j) => (j === i || !ok(j) ? [] : [[q.system, pairedRatio(walls[i]!, walls[j]!)!]])));
      rows.push({ ...finishRow({ ...base(p.system), ...p.extra }, samples[i]!, reference), paired });
    });
  } finally {
    for (const p of prepared) await p.release?.();
  }
  const order = (s: SystemName) => systems.indexOf(s);
  return rows.sort((a, b) => order(a.system) - order(b.system));
}

/** A row's statistics from its samples: wall and kernel time, rates, roofline, error against the reference. */
function finishRow(row: BenchRow, samples: readonly Sample[], reference: Float32Array | undefined): BenchRow {
  const wall = timeStats(samples.map((s) => s.wallMs));
  const kernel = samples[0]!.kernelMs === undefined ? undefined : timeStats(samples.map((s) => s.kernelMs!));
  const ms = (kernel ?? wall).median;
  const out = samples[samples.length - 1]!.output;
  return {
    ...row,
    wall,
    ...(kernel ? { kernel } : {}),
    gflops: row.flops / (ms * 1e6),
    gbps: row.bytes / (ms * 1e6),
    rooflineFraction: row.rooflineMs / ms,
    ...(reference === undefined || reference === out ? {} : { maxAbsDiff: maxAbsDiff(out, reference) }),
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
