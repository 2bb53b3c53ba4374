/** Hand-written plans for the runtime tests: small WGSL kernels whose results are easy to compute in JS. */
import { EinattnError, type ExecPlan, type PlanKernel } from '../../src/runtime/index.ts';

/** The linearised workgroup id every plan kernel uses; see PlanKernel.workgroups. */
const WG = 'let wg = wid.x + wid.y * nwg.x + wid.z * nwg.x * nwg.y;';
const BUILTINS = '@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32';

/** out[i] = a[i] * b[i] + f32(n), 64 invocations per workgroup. */
export function fmaPlan(wgsl?: string): ExecPlan {
  const kernel: PlanKernel = {
    name: 'fma',
    wgsl:
      wgsl ??
      `struct U { n: u32 }
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> u: U;
@compute @workgroup_size(64)
fn fma(${BUILTINS}) {
  ${WG}
  let i = wg * 64u + lid;
  if (i >= u.n) { return; }
  out[i] = a[i] * b[i] + f32(u.n);
}`,
    workgroupSize: [64, 1, 1],
    workgroups: ['cdiv', 'n', 64],
    bindings: [
      { buffer: 'a', access: 'read' },
      { buffer: 'b', access: 'read' },
      { buffer: 'out', access: 'read_write' },
    ],
    uniforms: ['n'],
    workgroupStorageBytes: 0,
  };
  return {
    name: 'fma',
    dynamicSizes: ['n'],
    staticSizes: {},
    derivedSizes: [],
    constraints: [],
    buffers: [
      { name: 'a', dtype: 'f32', shape: ['n'], role: 'input', axes: ['n'] },
      { name: 'b', dtype: 'f32', shape: ['n'], role: 'input', axes: ['n'] },
      { name: 'out', dtype: 'f32', shape: ['n'], role: 'output', axes: ['n'] },
    ],
    kernels: [kernel],
  };
}

/**
 * Grouped heads: x is [h, d] with h = g * r (r derived, a constraint checks divisibility),
 * kernel 1 writes tmp[h, d] = x * 2 + group(h), kernel 2 accumulates out[g, d] += tmp over
 * the r heads of each group (so it also proves outputs start zeroed). d is static.
 */
export function groupPlan(): ExecPlan {
  const scale: PlanKernel = {
    name: 'scale',
    wgsl: `struct U { h: u32, r: u32, d: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> tmp: array<f32>;
@group(0) @binding(2) var<uniform> u: U;
@compute @workgroup_size(4, 2, 1)
fn scale(${BUILTINS}) {
  ${WG}
  let i = wg * 8u + lid;
  if (i >= u.h * u.d) { return; }
  let head = i / u.d;
  tmp[i] = x[i] * 2.0 + f32(head / u.r);
}`,
    workgroupSize: [4, 2, 1],
    workgroups: ['cdiv', ['*', 'h', 'd'], 8],
    bindings: [
      { buffer: 'x', access: 'read' },
      { buffer: 'tmp', access: 'read_write' },
    ],
    uniforms: ['h', 'r', 'd'],
    workgroupStorageBytes: 0,
  };
  const reduce: PlanKernel = {
    name: 'reduce',
    wgsl: `struct U { g: u32, r: u32, d: u32 }
@group(0) @binding(0) var<storage, read> tmp: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> u: U;
@compute @workgroup_size(1)
fn reduce(${BUILTINS}) {
  ${WG}
  if (wg >= u.g * u.d) { return; }
  let gi = wg / u.d;
  let di = wg % u.d;
  for (var j = 0u; j < u.r; j++) {
    out[wg] += tmp[(gi * u.r + j) * u.d + di];
  }
}`,
    workgroupSize: [1, 1, 1],
    workgroups: ['*', 'g', 'd'],
    bindings: [
      { buffer: 'tmp', access: 'read' },
      { buffer: 'out', access: 'read_write' },
    ],
    uniforms: ['g', 'r', 'd'],
    workgroupStorageBytes: 0,
  };
  return {
    name: 'group',
    dynamicSizes: ['h', 'g'],
    staticSizes: { d: 3 },
    derivedSizes: [{ name: 'r', expr: ['div', 'h', 'g'] }],
    constraints: [{ lhs: ['*', 'g', 'r'], rhs: 'h', what: 'h must be divisible by g (split h -> g r)' }],
    buffers: [
      { name: 'x', dtype: 'f32', shape: ['h', 'd'], role: 'input', axes: ['h', 'd'] },
      { name: 'tmp', dtype: 'f32', shape: ['h', 'd'], role: 'temp', axes: ['h', 'd'] },
      { name: 'out', dtype: 'f32', shape: ['g', 'd'], role: 'output', axes: ['g', 'd'] },
    ],
    kernels: [scale, reduce],
  };
}

/** JS reference of {@link groupPlan}. */
export function groupReference(x: Float32Array, h: number, g: number, d: number): Float32Array {
  const r = h / g;
  const out = new Float32Array(g * d);
  for (let hi = 0; hi < h; hi++) {
    const gi = Math.floor(hi / r);
    for (let di = 0; di < d; di++) out[gi * d + di] = Math.fround(out[gi * d + di] + Math.fround(Math.fround(x[hi * d + di] * 2) + gi));
  }
  return out;
}

/** out[i] = idx[i] * 3 - 7 on i32 (wrapping like two's complement). */
export function i32Plan(): ExecPlan {
  return {
    name: 'ints',
    dynamicSizes: ['n'],
    staticSizes: {},
    derivedSizes: [],
    constraints: [],
    buffers: [
      { name: 'idx', dtype: 'i32', shape: ['n'], role: 'input', axes: ['n'] },
      { name: 'out', dtype: 'i32', shape: ['n'], role: 'output', axes: ['n'] },
    ],
    kernels: [
      {
        name: 'ints',
        wgsl: `struct U { n: u32 }
@group(0) @binding(0) var<storage, read> idx: array<i32>;
@group(0) @binding(1) var<storage, read_write> out: array<i32>;
@group(0) @binding(2) var<uniform> u: U;
@compute @workgroup_size(32)
fn ints(${BUILTINS}) {
  ${WG}
  let i = wg * 32u + lid;
  if (i >= u.n) { return; }
  out[i] = idx[i] * 3 - 7;
}`,
        workgroupSize: [32, 1, 1],
        workgroups: ['cdiv', 'n', 32],
        bindings: [
          { buffer: 'idx', access: 'read' },
          { buffer: 'out', access: 'read_write' },
        ],
        uniforms: ['n'],
        workgroupStorageBytes: 0,
      },
    ],
  };
}

/** f16 storage: y[i] = x[i] * 2 + 0.5 computed in f16 (exact for the test values). */
export function f16Plan(): ExecPlan {
  return {
    name: 'halfs',
    dynamicSizes: ['n'],
    staticSizes: {},
    derivedSizes: [],
    constraints: [],
    buffers: [
      { name: 'x', dtype: 'f16', shape: ['n'], role: 'input', axes: ['n'] },
      { name: 'y', dtype: 'f16', shape: ['n'], role: 'output', axes: ['n'] },
    ],
    kernels: [
      {
        name: 'halfs',
        wgsl: `enable f16;
struct U { n: u32 }
@group(0) @binding(0) var<storage, read> x: array<f16>;
@group(0) @binding(1) var<storage, read_write> y: array<f16>;
@group(0) @binding(2) var<uniform> u: U;
@compute @workgroup_size(1)
fn halfs(${BUILTINS}) {
  ${WG}
  if (wg >= u.n) { return; }
  y[wg] = x[wg] * 2.0h + 0.5h;
}`,
        workgroupSize: [1, 1, 1],
        workgroups: 'n',
        bindings: [
          { buffer: 'x', access: 'read' },
          { buffer: 'y', access: 'read_write' },
        ],
        uniforms: ['n'],
        workgroupStorageBytes: 0,
        features: ['shader-f16'],
      },
    ],
  };
}

/** A kernel that loops `iters` times per element, so that it takes measurable time. */
export function busyPlan(): ExecPlan {
  return {
    name: 'busy',
    dynamicSizes: ['n', 'iters'],
    staticSizes: {},
    derivedSizes: [],
    constraints: [],
    buffers: [{ name: 'out', dtype: 'f32', shape: ['n'], role: 'output', axes: ['n'] }],
    kernels: ['busy1', 'busy2'].map((name) => ({
      name,
      wgsl: `struct U { n: u32, iters: u32 }
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<uniform> u: U;
@compute @workgroup_size(64)
fn ${name}(${BUILTINS}) {
  ${WG}
  let i = wg * 64u + lid;
  if (i >= u.n) { return; }
  var acc = out[i];
  for (var k = 0u; k < u.iters; k++) { acc = acc * 0.999 + f32(k & 7u); }
  out[i] = acc;
}`,
      workgroupSize: [64, 1, 1] as [number, number, number],
      workgroups: ['cdiv', 'n', 64],
      bindings: [{ buffer: 'out', access: 'read_write' as const }],
      uniforms: ['n', 'iters'],
      workgroupStorageBytes: 0,
    })),
  };
}

/** Deterministic pseudo-random f32 values in [-1, 1). */
export function randomF32(n: number, seed = 1): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 2 ** 32) * 2 - 1;
  }
  return out;
}

/** Awaits `run` and returns the EinattnError it throws, failing the test when it does not throw one. */
export async function caught(run: () => unknown): Promise<EinattnError> {
  try {
    await run();
  } catch (e) {
    if (e instanceof EinattnError) return e;
    throw new Error(`expected an EinattnError, got ${String(e)}`);
  }
  throw new Error('expected an EinattnError, but nothing was thrown');
}

/** Records the dispatch grid (num_workgroups) of `count` workgroups into out[0..2]. */
export function gridPlan(): ExecPlan {
  return {
    name: 'grid',
    dynamicSizes: ['count'],
    staticSizes: {},
    derivedSizes: [],
    constraints: [],
    buffers: [{ name: 'out', dtype: 'i32', shape: [3], role: 'output', axes: ['xyz'] }],
    kernels: [
      {
        name: 'grid',
        wgsl: `@group(0) @binding(0) var<storage, read_write> out: array<i32>;
@compute @workgroup_size(1)
fn grid(${BUILTINS}) {
  ${WG}
  if (wg == 0u) { out[0] = i32(nwg.x); out[1] = i32(nwg.y); out[2] = i32(nwg.z); }
}`,
        workgroupSize: [1, 1, 1],
        workgroups: 'count',
        bindings: [{ buffer: 'out', access: 'read_write' }],
        uniforms: [],
        workgroupStorageBytes: 0,
      },
    ],
  };
}
