/**
 * The runtime on the adapter this machine has (lavapipe in CI): adapter choice, hand-written
 * plans checked against JS, dtypes, timing, pooling, compile and validation errors.
 * No try/catch around getRuntime: without an adapter these tests must fail, not skip.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  adapterReport,
  closeRuntime,
  f16BitsToF32,
  f32ToF16Bits,
  formatInfo,
  getRuntime,
  isSoftwareAdapter,
  LIMIT_NAMES,
  parseAdapterChoice,
  runPlan,
  runtimeStats,
  type Runtime,
} from '../../src/runtime/index.ts';
import { busyPlan, caught, f16Plan, fmaPlan, groupPlan, groupReference, i32Plan, randomF32 } from './plans.ts';

let rt: Runtime;
beforeAll(async () => {
  rt = await getRuntime();
});
afterAll(async () => {
  await closeRuntime();
});

describe('adapter', () => {
  it('chooses an adapter and says why', () => {
    expect(['hardware', 'software', 'opengles']).toContain(rt.kind);
    expect(rt.reason.length).toBeGreaterThan(10);
    if (rt.kind === 'software') {
      expect(isSoftwareAdapter(rt.info)).toBe(true);
      expect(rt.reason).toMatch(/software Vulkan \((lavapipe|SwiftShader|.+)\)/);
    }
    if (rt.kind === 'hardware') expect(isSoftwareAdapter(rt.info)).toBe(false);
  });

  it('requests the adapter limits, not the spec defaults', () => {
    for (const name of LIMIT_NAMES) expect(rt.deviceLimits[name]).toBe(rt.adapter!.limits[name]);
    expect(rt.device.limits.maxComputeWorkgroupStorageSize).toBe(rt.adapter!.limits.maxComputeWorkgroupStorageSize);
    for (const f of ['shader-f16', 'timestamp-query', 'subgroups']) expect(rt.features.has(f)).toBe(rt.adapter!.features.has(f));
  });

  it('returns the same runtime on every call', async () => {
    expect(await getRuntime()).toBe(rt);
    expect(await getRuntime({ adapter: rt.kind })).toBe(rt);
  });

  it('reports the adapter as data and as text', () => {
    const report = adapterReport(rt);
    expect(report.kind).toBe(rt.kind);
    expect(report.reason).toBe(rt.reason);
    expect(report.backend).toMatch(/^(vulkan|metal|d3d12|opengles)$/);
    expect(report.limits.maxStorageBufferBindingSize).toBe(rt.limits.maxStorageBufferBindingSize);
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
    const text = formatInfo(report);
    expect(text).toContain(`adapter:      ${rt.kind} (${rt.reason})`);
    expect(text).toContain(`backend:      ${report.backend}`);
    expect(text).toMatch(/maxComputeWorkgroupStorageSize\s+\d+/);
    for (const f of report.features) expect(text).toContain(f);
  });

  it('rejects an unknown EINATTN_ADAPTER value', () => {
    expect(parseAdapterChoice(undefined)).toBe('auto');
    expect(parseAdapterChoice('Software')).toBe('software');
    expect(() => parseAdapterChoice('cuda', 'EINATTN_ADAPTER')).toThrow(/EINATTN_ADAPTER='cuda' is not one of auto \| hardware \| software \| opengles/);
  });

  it('honours EINATTN_ADAPTER', async () => {
    const saved = process.env.EINATTN_ADAPTER;
    try {
      process.env.EINATTN_ADAPTER = 'bogus';
      expect((await caught(() => getRuntime())).message).toContain("EINATTN_ADAPTER='bogus' is not one of");
      process.env.EINATTN_ADAPTER = 'hardware';
      if (rt.kind === 'hardware') expect(await getRuntime()).toBe(rt);
      else expect((await caught(() => getRuntime())).message).toContain('no hardware WebGPU adapter (EINATTN_ADAPTER=hardware)');
    } finally {
      if (saved === undefined) delete process.env.EINATTN_ADAPTER;
      else process.env.EINATTN_ADAPTER = saved;
    }
  });

  it('forcing a hardware adapter fails clearly when there is none', async () => {
    if (rt.kind === 'hardware') {
      expect((await getRuntime({ adapter: 'hardware' })).kind).toBe('hardware');
      return;
    }
    const e = await caught(() => getRuntime({ adapter: 'hardware' }));
    expect(e.code).toBe('NO_ADAPTER');
    expect(e.message).toContain('no hardware WebGPU adapter (adapter option=hardware)');
    expect(e.message).toContain('Tried: hardware');
    expect(e.message).toContain('bash scripts/setup-system.sh');
  });
});

describe('running plans', () => {
  it('runs a one-kernel plan with a uniform, matching JS', async () => {
    const n = 1000;
    const a = randomF32(n, 1);
    const b = randomF32(n, 2);
    const { outputs, kernelMs, totalMs } = await runPlan(fmaPlan(), { a, b }, { n });
    expect(kernelMs).toBeUndefined();
    expect(totalMs).toBeGreaterThan(0);
    expect(outputs.out.shape).toEqual([n]);
    expect(outputs.out.axes).toEqual(['n']);
    expect(outputs.out.dtype).toBe('f32');
    const want = a.map((x, i) => Math.fround(Math.fround(x * b[i]) + n));
    expect(outputs.out.data).toEqual(want);
  });

  it('computes derived sizes, runs kernels in order through a temp, and zeroes outputs every run', async () => {
    const x = randomF32(12 * 3, 7);
    for (let run = 0; run < 2; run++) {
      // out is accumulated with +=, so a pooled buffer that kept the last run's data would double it.
      const { outputs } = await runPlan(groupPlan(), { x }, { h: 12, g: 4 });
      expect(outputs.out.shape).toEqual([4, 3]);
      expect(outputs.out.axes).toEqual(['g', 'd']);
      expect(outputs).not.toHaveProperty('tmp');
      expect(outputs.out.data).toEqual(groupReference(x, 12, 4, 3));
    }
  });

  it('rejects sizes that break a constraint', async () => {
    const e = await caught(() => runPlan(groupPlan(), { x: new Float32Array(10 * 3) }, { h: 10, g: 4 }));
    expect(e.code).toBe('SIZE_CONFLICT');
    expect(e.message).toContain('h must be divisible by g (split h -> g r)');
    expect(e.message).toContain('= 8 but h = 10');
  });

  it('runs i32 buffers with wrapping arithmetic', async () => {
    const idx = new Int32Array([0, 1, -1, 2 ** 31 - 1, -(2 ** 31), 12345, -999, 7]);
    const { outputs } = await runPlan(i32Plan(), { idx }, { n: idx.length });
    expect(outputs.out.data).toBeInstanceOf(Int32Array);
    expect(Array.from(outputs.out.data)).toEqual(Array.from(idx, (v) => (Math.imul(v, 3) - 7) | 0));
  });

  it('runs f16 buffers with an odd element count, or rejects them naming shader-f16', async () => {
    const values = [1, -2.5, 0.125, 1000, -0.001, 3.140625, 0, 100.5, -7];
    const x = new Uint16Array(values.map(f32ToF16Bits));
    if (!rt.features.has('shader-f16')) {
      const e = await caught(() => runPlan(f16Plan(), { x }, { n: x.length }));
      expect(e.code).toBe('DTYPE');
      expect(e.message).toContain("needs the WebGPU feature 'shader-f16'");
      return;
    }
    const { outputs } = await runPlan(f16Plan(), { x }, { n: x.length });
    expect(outputs.y.data).toBeInstanceOf(Uint16Array);
    expect(outputs.y.data.length).toBe(9);
    // x * 2 + 0.5 is exact in f32 for these values, so one rounding to f16 is the f16 result.
    const want = Array.from(x, (h) => f32ToF16Bits(f16BitsToF32(h) * 2 + 0.5));
    expect(Array.from(outputs.y.data)).toEqual(want);
    // Views at an offset that is not a multiple of 4 bytes, with an odd and an even count.
    const backing = new Uint16Array(12).map((_, i) => f32ToF16Bits(i - 3.5));
    for (const view of [backing.subarray(1, 10), backing.subarray(1, 9)]) {
      const r = await runPlan(f16Plan(), { x: view }, { n: view.length });
      expect(Array.from(r.outputs.y.data)).toEqual(Array.from(view, (h) => f32ToF16Bits(f16BitsToF32(h) * 2 + 0.5)));
    }
  });

  it('reuses pooled buffers across repeated runs', async () => {
    const n = 333;
    const inputs = { a: randomF32(n, 3), b: randomF32(n, 4) };
    await runPlan(fmaPlan(), inputs, { n });
    const before = runtimeStats(rt);
    const first = (await runPlan(fmaPlan(), inputs, { n })).outputs.out.data;
    const second = (await runPlan(fmaPlan(), inputs, { n })).outputs.out.data;
    const after = runtimeStats(rt);
    expect(after.buffersCreated).toBe(before.buffersCreated);
    expect(after.bytesCreated).toBe(before.bytesCreated);
    // a, b, out, the uniform and the readback buffer, twice
    expect(after.buffersReused - before.buffersReused).toBe(10);
    expect(after.pipelines).toBe(before.pipelines);
    expect(second).toEqual(first);
  });

  it('runs concurrent calls without mixing their buffers', async () => {
    const runs = [100, 200, 100, 300].map((n, i) => {
      const a = randomF32(n, 10 + i);
      const b = randomF32(n, 20 + i);
      return runPlan(fmaPlan(), { a, b }, { n }).then((r) => ({ r, a, b, n }));
    });
    for (const { r, a, b, n } of await Promise.all(runs)) {
      expect(r.outputs.out.data).toEqual(a.map((x, i) => Math.fround(Math.fround(x * b[i]) + n)));
    }
  });

  it('times each kernel', async () => {
    const dims = { n: 4096, iters: 200 };
    const { kernelMs, totalMs, outputs } = await runPlan(busyPlan(), {}, dims, { timing: true });
    expect(kernelMs).toHaveLength(2);
    for (const ms of kernelMs!) {
      expect(ms).toBeGreaterThan(0);
      expect(ms).toBeLessThan(totalMs);
    }
    // Timing must not change results.
    const plain = await runPlan(busyPlan(), {}, dims);
    expect(plain.outputs.out.data).toEqual(outputs.out.data);
  });
});

describe('GPU errors', () => {
  it('names the kernel and the line of a WGSL compile error', async () => {
    const plan = fmaPlan(`@compute @workgroup_size(64)\nfn fma() {\n  let x: f32 = undefined_thing;\n}`);
    const e = await caught(() => runPlan(plan, { a: new Float32Array(4), b: new Float32Array(4) }, { n: 4 }));
    expect(e.code).toBe('GPU');
    expect(e.message).toContain("kernel 'fma' failed to compile");
    expect(e.message).toMatch(/3:\d+ error: .*undefined_thing/);
    expect(e.message).toContain('let x: f32 = undefined_thing;');
  });

  it('turns a pipeline validation error into a GPU error naming the kernel', async () => {
    // The plan binds 'out' read-only while the shader writes it: the explicit layout does not match.
    const plan = fmaPlan();
    plan.kernels[0].bindings[2].access = 'read';
    const e = await caught(() => runPlan(plan, { a: new Float32Array(4), b: new Float32Array(4) }, { n: 4 }));
    expect(e.code).toBe('GPU');
    expect(e.message).toContain("kernel 'fma': pipeline creation failed");
  });

  it('reports a missing entry point', async () => {
    const plan = fmaPlan();
    plan.kernels[0].name = 'not_there';
    const e = await caught(() => runPlan(plan, { a: new Float32Array(4), b: new Float32Array(4) }, { n: 4 }));
    expect(e.code).toBe('GPU');
    expect(e.message).toContain("kernel 'not_there'");
  });

  it('still runs after errors', async () => {
    const { outputs } = await runPlan(fmaPlan(), { a: new Float32Array([2]), b: new Float32Array([3]) }, { n: 1 });
    expect(Array.from(outputs.out.data)).toEqual([7]);
  });
});
