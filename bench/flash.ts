/**
 * Benchmark (not a test): the fused flash kernel against the unfused lowering, in one
 * run on one adapter. Prints the adapter, a table of median kernel time and bytes of
 * GPU memory the plan allocates, and writes bench/results.json and bench/results.md.
 *
 *   npm run bench                                   # b=1 h=8 s=t=1024 d=dv=64, causal and not
 *   npm run bench -- --s 256 --t 256 --repeat 3     # smaller and quicker
 *   npm run bench -- --rows 4 --kvTile 8 --workgroup 16 --split 1 --specialize
 *
 * Schedule flags (rows, kvTile, workgroup, dvChunk, split, blockMask) go to the flash
 * kernel, so an autotuner can drive this script and read results.json.
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compile, type CompileOptions } from '../src/compile.ts';
import { costOf, localDevice } from '../src/cost/index.ts';
import type { FlashSchedule } from '../src/lower/index.ts';
import { adapterReport, bindSizes, closeRuntime, getRuntime, resolveBuffers, type ExecPlan } from '../src/runtime/index.ts';
import { mha } from '../src/variants/index.ts';

// einattn's own errors (a schedule out of range, a device limit) are one line, not a stack trace
process.on('uncaughtException', (e) => {
  console.error(e.name === 'EinattnError' ? `bench: ${e.message}` : e);
  process.exit(1);
});

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return undefined;
  const v = args[i + 1];
  return v === undefined || v.startsWith('--') ? 'true' : v;
};
/** A bad flag value: one line on stderr and exit code 2, no stack trace. */
function usage(message: string): never {
  console.error(`bench: ${message} (usage: npm run bench -- [--s N] [--t N] [--repeat N] [schedule flags])`);
  process.exit(2);
}
const num = (name: string, dflt: number) => {
  const text = flag(name);
  if (text === undefined) return dflt;
  const v = Number(text);
  if (!Number.isInteger(v) || v < 1) usage(`--${name} must be a positive integer, got '${text}'`);
  return v;
};
const dims = { b: num('b', 1), h: num('h', 8), s: num('s', 1024), t: num('t', num('s', 1024)), d: num('d', 64), dv: num('dv', num('d', 64)) };
const repeat = num('repeat', 5);
const schedule: Partial<FlashSchedule> = {};
for (const k of ['rows', 'kvTile', 'workgroup', 'dvChunk', 'maxDvChunk', 'targetWorkgroups'] as const) if (flag(k) !== undefined) schedule[k] = num(k, 0);
if (flag('split') !== undefined) schedule.split = flag('split') === 'auto' ? 'auto' : Number(flag('split'));
if (flag('blockMask') !== undefined) schedule.blockMask = flag('blockMask') !== 'false';
const causals = flag('causal') === undefined ? [false, true] : [flag('causal') !== 'false'];
const specialize = flag('specialize') !== undefined && flag('specialize') !== 'false';

const rt = await getRuntime();
const adapter = adapterReport(rt);
console.log(`adapter: ${adapter.kind} ${adapter.description || adapter.device} (${adapter.backend}); ${adapter.reason}`);
// the cost model's prediction for each row, on this adapter's measured roofline
const local = await localDevice(rt);
console.log(`roofline (measured): ${local.measured.gflops.toPrecision(3)} GFLOP/s, ${local.measured.gbps.toPrecision(3)} GB/s`);
console.log(`dims: ${Object.entries(dims).map(([k, v]) => `${k}=${v}`).join(' ')}; median of ${repeat} runs after a warm-up`);

/** Bytes of every buffer the plan allocates at these sizes (inputs, outputs and temps). */
function planBytes(plan: ExecPlan): { total: number; temp: number; largestTemp: number } {
  const bufs = resolveBuffers(plan, bindSizes(plan, dims));
  const temps = bufs.filter((b) => b.role === 'temp');
  return { total: bufs.reduce((p, b) => p + b.allocBytes, 0), temp: temps.reduce((p, b) => p + b.allocBytes, 0), largestTemp: Math.max(0, ...temps.map((b) => b.allocBytes)) };
}

const values = (n: number, salt: number) => Float32Array.from({ length: n }, (_, i) => Math.fround(Math.sin(i * 1.618 + salt) * 0.9));
const inputs = {
  q: values(dims.b * dims.h * dims.s * dims.d, 1),
  k: values(dims.b * dims.h * dims.t * dims.d, 2),
  v: values(dims.b * dims.h * dims.t * dims.dv, 3),
};

interface Row { variant: string; lowering: string; kernels: string[]; medianMs: number; minMs: number; perKernelMs: number[]; bytes: number; tempBytes: number; largestTempBytes: number; predictedMs: number; maxAbsDiff?: number }
const rows: Row[] = [];
for (const causal of causals) {
  let reference: Float32Array | undefined;
  const configs: [string, CompileOptions][] = [['unfused', { flash: false }], ['fused', { flashSchedule: schedule, specializeHeadDims: specialize }]];
  for (const [lowering, opts] of configs) {
    const c = compile(mha({ causal }), opts);
    const plan = c.planFor(dims);
    const warm = await c.run(inputs, dims); // compiles the pipelines (lavapipe compiles at first dispatch)
    const out = warm.outputs.o!.data as Float32Array;
    const times: number[] = [];
    const per: number[][] = [];
    for (let r = 0; r < repeat; r++) {
      const res = await c.run(inputs, dims, { timing: true });
      per.push(res.kernelMs ?? []);
      times.push((res.kernelMs ?? []).reduce((a, b) => a + b, 0));
    }
    const order = times.map((t, i) => [t, i] as const).sort((a, b) => a[0] - b[0]);
    const mid = order[Math.floor(order.length / 2)]!;
    const bytes = planBytes(plan);
    // the model's bytes are those of the plan being timed (fused or not)
    const { device: model } = costOf(mha({ causal }), dims, { device: local });
    const predictedMs = lowering === 'fused' ? model!.predictedMs : model!.predictedUnfusedMs;
    const row: Row = {
      predictedMs,
      variant: causal ? 'mha causal' : 'mha', lowering, kernels: plan.kernels.map((k) => k.name),
      medianMs: mid[0], minMs: order[0]![0], perKernelMs: per[mid[1]]!, bytes: bytes.total, tempBytes: bytes.temp, largestTempBytes: bytes.largestTemp,
    };
    if (reference) row.maxAbsDiff = out.reduce((m, x, i) => Math.max(m, Math.abs(x - reference![i]!)), 0);
    else reference = out;
    rows.push(row);
    console.log(`${row.variant.padEnd(11)} ${lowering.padEnd(8)} ${row.medianMs.toFixed(1).padStart(9)} ms (min ${row.minMs.toFixed(1)}; model ${predictedMs.toFixed(1)} ms, measured/predicted ${(row.medianMs / predictedMs).toFixed(1)}x)  ${(row.bytes / 2 ** 20).toFixed(1).padStart(7)} MiB (temps ${(row.tempBytes / 2 ** 20).toFixed(1)} MiB)  kernels: ${row.kernels.join(', ')}`);
  }
  const [u, f] = rows.slice(-2);
  console.log(`  → fused is ${(u!.medianMs / f!.medianMs).toFixed(2)}x faster, allocates ${((u!.bytes - f!.bytes) / 2 ** 20).toFixed(1)} MiB less; largest fused temp ${f!.largestTempBytes} bytes (an s×t f32 buffer would be ${4 * dims.b * dims.h * dims.s * dims.t}); max |fused - unfused| = ${f!.maxAbsDiff?.toExponential(2)}`);
}
await closeRuntime();

const here = dirname(fileURLToPath(import.meta.url));
const result = { date: new Date().toISOString(), adapter: { kind: adapter.kind, description: adapter.description, device: adapter.device, backend: adapter.backend }, dims, repeat, schedule, specialize, rows };
writeFileSync(join(here, 'results.json'), JSON.stringify(result, null, 2) + '\n');
const md = [
  `# Flash attention benchmark`,
  '',
  `adapter: ${adapter.kind} ${adapter.description || adapter.device} (${adapter.backend}); dims ${Object.entries(dims).map(([k, v]) => `${k}=${v}`).join(' ')}; median of ${repeat} runs; schedule ${JSON.stringify(schedule)}${specialize ? ', head dims specialised' : ''}`,
  '',
  `roofline measured on this adapter: ${local.measured.gflops.toPrecision(3)} GFLOP/s, ${local.measured.gbps.toPrecision(3)} GB/s; "model ms" is the cost model's roofline time`,
  '',
  '| variant | lowering | kernels | median ms | model ms | GPU MiB | temp MiB | speed-up |',
  '|---|---|---|---:|---:|---:|---:|---:|',
  ...rows.map((r, i) => {
    const base = rows[i - (i % 2)]!;
    return `| ${r.variant} | ${r.lowering} | ${r.kernels.length} | ${r.medianMs.toFixed(1)} | ${r.predictedMs.toFixed(1)} | ${(r.bytes / 2 ** 20).toFixed(1)} | ${(r.tempBytes / 2 ** 20).toFixed(2)} | ${(base.medianMs / r.medianMs).toFixed(2)}x |`;
  }),
  '',
];
writeFileSync(join(here, 'results.md'), md.join('\n'));
console.log(`wrote ${join(here, 'results.json')} and results.md`);
