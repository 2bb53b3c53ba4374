/**
 * Device loss, as defined by the runtime: the run in flight, or the next run, on a lost
 * device rejects with DEVICE_LOST; after that a fresh device is created transparently.
 * A runtime passed explicitly stays dead: it keeps rejecting.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { closeRuntime, getRuntime, runPlan, type Runtime } from '../../src/runtime/index.ts';
import { busyPlan, caught, fmaPlan } from './plans.ts';

afterAll(async () => {
  await closeRuntime();
});

const inputs = { a: new Float32Array([1, 2, 3]), b: new Float32Array([4, 5, 6]) };
const want = [4 + 3, 10 + 3, 18 + 3];

async function run(runtime?: Runtime) {
  const { outputs } = await runPlan(fmaPlan(), inputs, { n: 3 }, runtime ? { runtime } : {});
  return Array.from(outputs.out.data);
}

describe('device loss', () => {
  it('reports a loss between runs once, then runs on a fresh device', async () => {
    const rt = await getRuntime();
    expect(await run()).toEqual(want);
    rt.device.destroy();
    const e = await caught(() => run());
    expect(e.code).toBe('DEVICE_LOST');
    expect(e.message).toContain('was lost (destroyed');
    expect(e.message).toContain('the next getRuntime() or runPlan() creates a fresh device');
    expect(await run()).toEqual(want);
    const fresh = await getRuntime();
    expect(fresh).not.toBe(rt);
    expect(fresh.device).not.toBe(rt.device);
    expect(fresh.health.lost).toBeNull();
    // The dead runtime, passed explicitly, cannot come back.
    expect((await caught(() => run(rt))).code).toBe('DEVICE_LOST');
    expect((await caught(() => run(rt))).code).toBe('DEVICE_LOST');
  });

  it('rejects the run in flight, then recovers', async () => {
    const rt = await getRuntime();
    // about 0.3 s of work on lavapipe: the loss at 20 ms lands in the wait even on a loaded 2-core machine
    const dims = { n: 16384, iters: 20000 };
    // Compile first, so that the loss hits the wait for the GPU rather than compilation.
    await runPlan(busyPlan(), {}, { n: 64, iters: 1 });
    const pending = runPlan(busyPlan(), {}, dims);
    setTimeout(() => rt.device.destroy(), 20);
    const e = await caught(() => pending);
    expect(e.code).toBe('DEVICE_LOST');
    expect(await run()).toEqual(want);
    expect(await getRuntime()).not.toBe(rt);
  });

  it('getRuntime() replaces a lost device without reporting it', async () => {
    const rt = await getRuntime();
    rt.device.destroy();
    await rt.device.lost;
    const fresh = await getRuntime();
    expect(fresh).not.toBe(rt);
    expect(await run(fresh)).toEqual(want);
  });
});
