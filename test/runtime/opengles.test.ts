/**
 * The last-resort adapter: OpenGL ES in compatibility mode (needs the EGL/GLES libraries
 * that scripts/setup-system.sh installs). It has no timestamp-query and no shader-f16.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { adapterReport, closeRuntime, formatInfo, getRuntime, runPlan, type Runtime } from '../../src/runtime/index.ts';
import { caught, f16Plan, fmaPlan, groupPlan, groupReference, randomF32 } from './plans.ts';

let rt: Runtime;
beforeAll(async () => {
  rt = await getRuntime({ adapter: 'opengles' });
});
afterAll(async () => {
  await closeRuntime();
});

it('is chosen when asked for, and says so', () => {
  expect(rt.kind).toBe('opengles');
  expect(rt.reason).toContain('adapter option=opengles: using OpenGL ES compatibility mode');
  const report = adapterReport(rt);
  expect(report.backend).toBe('opengles');
  expect(formatInfo(report)).toContain('backend:      opengles');
});

it('runs plans correctly', async () => {
  const n = 300;
  const a = randomF32(n, 5);
  const b = randomF32(n, 6);
  const { outputs } = await runPlan(fmaPlan(), { a, b }, { n }, { runtime: rt });
  expect(outputs.out.data).toEqual(a.map((x, i) => Math.fround(Math.fround(x * b[i]) + n)));
  const x = randomF32(8 * 3, 9);
  const g = await runPlan(groupPlan(), { x }, { h: 8, g: 2 }, { runtime: rt });
  expect(g.outputs.out.data).toEqual(groupReference(x, 8, 2, 3));
});

it('times kernels by wall clock without timestamp-query', async () => {
  expect(rt.features.has('timestamp-query')).toBe(false);
  const x = randomF32(8 * 3, 9);
  const { kernelMs } = await runPlan(groupPlan(), { x }, { h: 8, g: 2 }, { runtime: rt, timing: true });
  expect(kernelMs).toHaveLength(2);
  for (const ms of kernelMs!) expect(ms).toBeGreaterThan(0);
});

it('rejects f16 plans naming the missing feature', async () => {
  expect(rt.features.has('shader-f16')).toBe(false);
  const e = await caught(() => runPlan(f16Plan(), { x: new Uint16Array(3) }, { n: 3 }, { runtime: rt }));
  expect(e.code).toBe('DTYPE');
  expect(e.message).toContain("kernel 'halfs' of plan 'halfs' needs the WebGPU feature 'shader-f16', which the opengles adapter");
  expect(e.message).toContain('use f32 buffers on this adapter');
});
