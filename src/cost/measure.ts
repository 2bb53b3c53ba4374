/**
 * This adapter's roofline, measured: an FMA-throughput microkernel (GFLOP/s), a
 * copy-bandwidth microkernel (GB/s, read + written) and a read-bandwidth microkernel
 * (a streaming reduction: what decoding does), cached per adapter so `--device local` is quick.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { adapterId, runPlan, type ExecPlan, type Runtime } from '../runtime/index.ts';
import type { Device } from './devices.ts';

/** FMA chains per invocation and iterations per chain: enough work to hide dispatch cost. */
const ITERS = 2048;
const FMA_INVOCATIONS = 64 * 512;
/** Elements copied by the bandwidth kernel (32 MiB each way). */
const COPY_ELEMS = 8 * 2 ** 20;
/** Elements summed by the read kernels (64 MiB, a multiple of every layout's share per workgroup). */
const READ_ELEMS = 16 * 2 ** 20;

/** A one-kernel plan over `x` → `y` of n f32 elements, for the microkernels below. */
function microPlan(name: string, workgroups: ExecPlan['kernels'][number]['workgroups'], wgsl: string): ExecPlan {
  return {
    name,
    dynamicSizes: ['n'],
    staticSizes: {},
    derivedSizes: [],
    constraints: [],
    buffers: [
      { name: 'x', dtype: 'f32', shape: ['n'], role: 'input', axes: ['n'] },
      { name: 'y', dtype: 'f32', shape: ['n'], role: 'output', axes: ['n'] },
    ],
    kernels: [
      {
        name,
        wgsl,
        workgroupSize: [64, 1, 1],
        workgroups,
        uniforms: ['n'],
        workgroupStorageBytes: 0,
        bindings: [
          { buffer: 'x', access: 'read' },
          { buffer: 'y', access: 'read_write' },
        ],
      },
    ],
  };
}

const fmaPlan = microPlan(
  'roofline_fma',
  ['cdiv', 'n', 64],
  `// roofline: ${ITERS} iterations of 4 independent vec4 FMA chains per invocation (32 FLOP each)
struct S { n: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> sz: S;
@compute @workgroup_size(64)
fn roofline_fma(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + (wid.y + wid.z * nwg.y) * nwg.x) * 64u + lid;
  if (i >= sz.n) { return; }
  var a = vec4f(x[i]); var b = a + 1.0; var c = a + 2.0; var d = a + 3.0;
  let m = vec4f(0.999); let k = vec4f(0.001);
  for (var j = 0u; j < ${ITERS}u; j++) { a = fma(a, m, k); b = fma(b, m, k); c = fma(c, m, k); d = fma(d, m, k); }
  y[i] = dot(a + b + c + d, vec4f(1.0));
}
`,
);

const copyPlan = microPlan(
  'roofline_copy',
  ['cdiv', 'n', 256],
  `// roofline: copy, one vec4 per invocation
struct S { n: u32 }
@group(0) @binding(0) var<storage, read> x: array<vec4f>;
@group(0) @binding(1) var<storage, read_write> y: array<vec4f>;
@group(0) @binding(2) var<uniform> sz: S;
@compute @workgroup_size(64)
fn roofline_copy(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + (wid.y + wid.z * nwg.y) * nwg.x) * 64u + lid;
  if (i >= sz.n / 4u) { return; }
  y[i] = x[i];
}
`,
);

/**
 * A streaming sum of `n` f32, one f32 written per invocation: in each of its `per` steps a
 * workgroup of `wg` invocations reads `wg` adjacent vec4s (coalesced on a GPU). The fastest
 * workgroup size differs by adapter (64 on a GPU; on a CPU rasteriser one SIMD row, 8 on
 * lavapipe), so the bound is the fastest of a few.
 */
function readPlan(wg: number, per: number): ExecPlan {
  const name = `roofline_read_${wg}`;
  const plan = microPlan(
    name,
    ['cdiv', 'n', 4 * wg * per],
    `// roofline: streaming read, workgroups of ${wg} reading ${wg} adjacent vec4 per step for ${per} steps, one f32 written per invocation
struct S { n: u32 }
@group(0) @binding(0) var<storage, read> x: array<vec4f>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> sz: S;
@compute @workgroup_size(${wg})
fn ${name}(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let wg = wid.x + (wid.y + wid.z * nwg.y) * nwg.x;
  var acc = vec4f(0.0);
  for (var k = 0u; k < ${per}u; k++) {
    acc += x[wg * ${wg * per}u + k * ${wg}u + lid];
  }
  y[wg * ${wg}u + lid] = dot(acc, vec4f(1.0));
}
`,
  );
  plan.kernels[0]!.workgroupSize = [wg, 1, 1];
  return plan;
}

/** The layouts tried for the read bound: [workgroup size, steps]; each reads READ_ELEMS exactly. */
const READ_LAYOUTS: [number, number][] = [
  [64, 32],
  [32, 64],
  [8, 128],
];

/** A measured roofline, with where and how it was measured. */
export interface MeasuredRoofline {
  adapter: string;
  gflops: number;
  /** copy: bytes read plus bytes written per second */
  gbps: number;
  /** streaming read: bytes read per second (the bound of decoding, which reads a cache and writes little) */
  readGbps: number;
  measuredAt: string;
  method: string;
}

async function medianMs(rt: Runtime, plan: ExecPlan, n: number, runs: number): Promise<number> {
  const x = new Float32Array(n).fill(0.5);
  await runPlan(plan, { x }, { n }, { runtime: rt, timing: true }); // warm-up and compile
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) ms.push((await runPlan(plan, { x }, { n }, { runtime: rt, timing: true })).kernelMs![0]!);
  return ms.sort((a, b) => a - b)[Math.floor(ms.length / 2)]!;
}

/**
 * Measures this adapter's FMA throughput and copy bandwidth (median of `runs`).
 * @example const r = await measureRoofline(await getRuntime()) // { gflops: 7.1, gbps: 9.8, … }
 */
export async function measureRoofline(rt: Runtime, runs = 5): Promise<MeasuredRoofline> {
  const fmaMs = await medianMs(rt, fmaPlan, FMA_INVOCATIONS, runs);
  const copyMs = await medianMs(rt, copyPlan, COPY_ELEMS, runs);
  let readMs = Infinity;
  for (const [wg, per] of READ_LAYOUTS) readMs = Math.min(readMs, await medianMs(rt, readPlan(wg, per), READ_ELEMS, runs));
  return {
    adapter: adapterId(rt),
    gflops: (FMA_INVOCATIONS * ITERS * 32) / (fmaMs * 1e6),
    gbps: (2 * 4 * COPY_ELEMS) / (copyMs * 1e6),
    readGbps: (4 * READ_ELEMS) / (readMs * 1e6),
    measuredAt: new Date().toISOString(),
    method: `median of ${runs} timed runs: ${FMA_INVOCATIONS} invocations × ${ITERS} × 4 vec4 FMA; copy of ${COPY_ELEMS * 4} bytes; streaming sum of ${READ_ELEMS * 4} bytes, the fastest of workgroups of ${READ_LAYOUTS.map(([w]) => w).join(', ')}`,
  };
}

/**
 * The local adapter as a cost-model device, measured once and cached in `cacheFile`.
 * @example costOf(g, dims, { device: await localDevice(rt) })
 */
export async function localDevice(rt: Runtime, cacheFile = '.einattn/roofline.json'): Promise<Device & { measured: MeasuredRoofline }> {
  const id = adapterId(rt);
  let cached: Record<string, MeasuredRoofline> = {};
  if (existsSync(cacheFile)) {
    try {
      cached = JSON.parse(readFileSync(cacheFile, 'utf8')) as Record<string, MeasuredRoofline>;
    } catch {
      cached = {};
    }
  }
  let m = cached[id];
  // entries from before the read microkernel lack its bound: measure again
  if (!m || typeof m.readGbps !== 'number') {
    m = await measureRoofline(rt);
    cached[id] = m;
    mkdirSync(dirname(cacheFile), { recursive: true });
    writeFileSync(cacheFile, JSON.stringify(cached, null, 2) + '\n');
  }
  const flops = m.gflops * 1e9;
  return {
    name: `this adapter: ${id}`,
    flops: { f32: flops, f16: flops },
    bandwidth: m.gbps * 1e9,
    readBandwidth: m.readGbps * 1e9,
    source: `measured ${m.measuredAt} (${m.method}); cached in ${cacheFile}`,
    measured: m,
  };
}
