/**
 * Everything runPlan checks before dispatch: sizes, inputs and device limits (made small
 * with limitsOverride), plus the x/y/z layout of a workgroup count over a small per-dimension limit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bindSizes,
  closeRuntime,
  evalSize,
  formatSizeExpr,
  getRuntime,
  layoutWorkgroups,
  runPlan,
  type ExecPlan,
  type PlanFeature,
  type Runtime,
} from '../../src/runtime/index.ts';
import { caught, fmaPlan, gridPlan, groupPlan, randomF32 } from './plans.ts';

let rt: Runtime;
beforeAll(async () => {
  rt = await getRuntime();
});
afterAll(async () => {
  await closeRuntime();
});

const fmaInputs = (n: number) => ({ a: randomF32(n, 1), b: randomF32(n, 2) });
const fmaWant = (x: { a: Float32Array; b: Float32Array }, n: number) => x.a.map((v, i) => Math.fround(Math.fround(v * x.b[i]) + n));

describe('size expressions', () => {
  const sizes = { a: 7, b: 3, c: 10 };
  it('evaluates every operation', () => {
    expect(evalSize(5, sizes)).toBe(5);
    expect(evalSize('a', sizes)).toBe(7);
    expect(evalSize(['*', 'a', 'b', 2], sizes)).toBe(42);
    expect(evalSize(['+', 'a', 'b', 1], sizes)).toBe(11);
    expect(evalSize(['cdiv', 'a', 'b'], sizes)).toBe(3);
    expect(evalSize(['div', 'a', 'b'], sizes)).toBe(2);
    expect(evalSize(['min', 'a', 'b'], sizes)).toBe(3);
    expect(evalSize(['max', 'a', ['*', 'b', 'b']], sizes)).toBe(9);
    expect(evalSize(['*', ['cdiv', 'c', 4], ['+', 'a', 1]], sizes)).toBe(24);
    expect(evalSize(['*'], sizes)).toBe(1);
  });

  it('rejects an unknown name and division by zero with BAD_SIZE', async () => {
    const e = await caught(() => evalSize(['*', 'a', 'zz'], sizes));
    expect(e.code).toBe('BAD_SIZE');
    expect(e.message).toBe("unknown size 'zz' (known sizes: a, b, c)");
    const z = await caught(() => evalSize(['cdiv', 'a', 0], sizes));
    expect(z.code).toBe('BAD_SIZE');
    expect(z.message).toContain('division by zero in cdiv(a, 0)');
  });

  it('prints expressions readably', () => {
    expect(formatSizeExpr(['*', 'g', ['cdiv', 't', 64]])).toBe('(g * cdiv(t, 64))');
  });
});

describe('bindSizes', () => {
  const plan = groupPlan(); // dynamic h, g; static d = 3; derived r = h / g; constraint g * r = h

  it('returns static, dynamic and derived sizes', () => {
    expect(bindSizes(plan, { h: 12, g: 4 })).toEqual({ d: 3, h: 12, g: 4, r: 3 });
    // Repeating a static or derived size with its own value is allowed.
    expect(bindSizes(plan, { h: 12, g: 4, d: 3, r: 3 })).toEqual({ d: 3, h: 12, g: 4, r: 3 });
  });

  it('derives sizes in order, each from the ones before', () => {
    const p: ExecPlan = {
      ...plan,
      derivedSizes: [
        { name: 'r', expr: ['div', 'h', 'g'] },
        { name: 'tiles', expr: ['cdiv', ['*', 'r', 'd'], 2] },
      ],
    };
    expect(bindSizes(p, { h: 10, g: 2 })).toEqual({ d: 3, h: 10, g: 2, r: 5, tiles: 8 });
  });

  it.each([
    [{ h: 12 }, 'BAD_SIZE', "missing size 'g' (plan 'group' takes sizes: h, g; static: d=3)"],
    [{}, 'BAD_SIZE', "missing sizes 'h', 'g'"],
    [{ h: 12, g: 4, t: 5 }, 'BAD_SIZE', "unknown size 't' (plan 'group' takes sizes: h, g; static: d=3)"],
    [{ h: 0, g: 4 }, 'BAD_SIZE', "size 'h' must be a positive integer, got 0"],
    [{ h: -4, g: 4 }, 'BAD_SIZE', "size 'h' must be a positive integer, got -4"],
    [{ h: 2.5, g: 4 }, 'BAD_SIZE', "size 'h' must be a positive integer, got 2.5"],
    [{ h: '12', g: 4 }, 'BAD_SIZE', 'size \'h\' must be a positive integer, got string "12"'],
    [{ h: 12, g: 4, d: 4 }, 'SIZE_CONFLICT', "size 'd' was fixed to 3 when plan 'group' was generated, got 4"],
    [{ h: 12, g: 4, r: 2 }, 'SIZE_CONFLICT', "size 'r' is derived as div(h, g) = 3 (h=12, g=4), but 2 was given"],
    [{ h: 12, g: 5 }, 'SIZE_CONFLICT', 'h must be divisible by g (split h -> g r): (g * r) = 10 but h = 12 (g=5, r=2, h=12)'],
  ])('rejects %j', async (dims, code, message) => {
    const e = await caught(() => bindSizes(plan, dims as Record<string, number>));
    expect(e.code).toBe(code);
    expect(e.message).toContain(message);
  });

  it('rejects sizes that are not an object', async () => {
    const e = await caught(() => bindSizes(plan, [12, 4] as unknown as Record<string, number>));
    expect(e.code).toBe('BAD_SIZE');
    expect(e.message).toContain('{ h: …, g: … }');
  });
});

describe('input checks', () => {
  const n = 10;
  const ok = () => ({ a: new Float32Array(n), b: new Float32Array(n) });
  it.each([
    ['a missing input', { a: new Float32Array(n) }, "missing input 'b' of plan 'fma': expected f32 [n=10] = 10 elements as a Float32Array"],
    ['an unknown input', { ...ok(), c: new Float32Array(n) }, "unknown input 'c' for plan 'fma' (inputs: a: f32 [n=10]; b: f32 [n=10])"],
    ['an output passed as input', { ...ok(), out: new Float32Array(n) }, "'out' is an output of plan 'fma', not an input"],
    [
      'the wrong array class',
      { ...ok(), b: new Float64Array(n) },
      "input 'b' expects f32 [n=10] = 10 elements as a Float32Array, got Float64Array of length 10",
    ],
    [
      'a plain array',
      { ...ok(), a: Array.from({ length: n }, () => 0) },
      "input 'a' expects f32 [n=10] = 10 elements as a Float32Array, got a plain Array of length 10",
    ],
    ['the wrong length', { ...ok(), a: new Float32Array(12) }, "input 'a' expects f32 [n=10] = 10 elements as a Float32Array, got Float32Array of length 12"],
    ['f16 bits expected as Uint16Array', { ...ok(), a: new Int32Array(n) }, 'got Int32Array of length 10'],
  ])('BAD_INPUT for %s', async (_what, inputs, message) => {
    const e = await caught(() => runPlan(fmaPlan(), inputs as never, { n }, { runtime: rt }));
    expect(e.code).toBe('BAD_INPUT');
    expect(e.message).toContain(message);
  });

  it('names axes and sizes of multi-dimensional inputs', async () => {
    const e = await caught(() => runPlan(groupPlan(), { x: new Float32Array(5) }, { h: 4, g: 2 }, { runtime: rt }));
    expect(e.message).toBe("input 'x' expects f32 [h=4, d=3] = 12 elements as a Float32Array, got Float32Array of length 5");
  });

  it('BAD_INPUT when inputs is not an object', async () => {
    const e = await caught(() => runPlan(fmaPlan(), null as never, { n }, { runtime: rt }));
    expect(e.code).toBe('BAD_INPUT');
    expect(e.message).toContain("plan 'fma' takes its inputs as an object");
  });

  it('checks sizes before inputs', async () => {
    const e = await caught(() => runPlan(fmaPlan(), {}, { m: 3 }, { runtime: rt }));
    expect(e.code).toBe('BAD_SIZE');
    expect(e.message).toContain("unknown size 'm'");
  });
});

describe('device limits', () => {
  async function limitError(override: Parameters<typeof getRuntime>[0], plan: ExecPlan, n: number) {
    const view = await getRuntime(override);
    return caught(() => runPlan(plan, fmaInputs(n), { n }, { runtime: view }));
  }

  it('shares the device but not the limits', async () => {
    const view = await getRuntime({ limitsOverride: { maxComputeWorkgroupsPerDimension: 4 } });
    expect(view.device).toBe(rt.device);
    expect(view.limits.maxComputeWorkgroupsPerDimension).toBe(4);
    expect(rt.limits.maxComputeWorkgroupsPerDimension).toBe(rt.deviceLimits.maxComputeWorkgroupsPerDimension);
    // An override never raises a limit.
    const big = await getRuntime({ limitsOverride: { maxComputeWorkgroupsPerDimension: 10 ** 9 } });
    expect(big.limits.maxComputeWorkgroupsPerDimension).toBe(rt.deviceLimits.maxComputeWorkgroupsPerDimension);
  });

  it('rejects a bad override', async () => {
    const e = await caught(() => getRuntime({ limitsOverride: { maxFoo: 3 } as never }));
    expect(e.code).toBe('LIMIT');
    expect(e.message).toContain("unknown limit 'maxFoo'");
    const z = await caught(() => getRuntime({ limitsOverride: { maxBufferSize: 0 } }));
    expect(z.message).toContain('limitsOverride.maxBufferSize must be a positive integer, got 0');
  });

  it('maxStorageBufferBindingSize', async () => {
    const e = await limitError({ limitsOverride: { maxStorageBufferBindingSize: 256 } }, fmaPlan(), 100);
    expect(e.code).toBe('LIMIT');
    expect(e.message).toContain("buffer 'a' (input, f32 [n=100]) needs 400 bytes, over maxStorageBufferBindingSize = 256");
    expect(e.message).toContain(`(lowered by limitsOverride from ${rt.deviceLimits.maxStorageBufferBindingSize})`);
    expect(e.message).toContain(rt.kind);
  });

  it('maxBufferSize', async () => {
    const e = await limitError({ limitsOverride: { maxBufferSize: 128 } }, fmaPlan(), 100);
    expect(e.code).toBe('LIMIT');
    expect(e.message).toContain("buffer 'a' (input, f32 [n=100]) needs 400 bytes, over maxBufferSize = 128");
  });

  it('maxComputeWorkgroupStorageSize', async () => {
    const plan = fmaPlan();
    plan.kernels[0].workgroupStorageBytes = 4096;
    const e = await limitError({ limitsOverride: { maxComputeWorkgroupStorageSize: 1024 } }, plan, 10);
    expect(e.code).toBe('LIMIT');
    expect(e.message).toContain("kernel 'fma' of plan 'fma' uses 4096 bytes of workgroup storage, over maxComputeWorkgroupStorageSize = 1024");
  });

  it('maxComputeInvocationsPerWorkgroup', async () => {
    const e = await limitError({ limitsOverride: { maxComputeInvocationsPerWorkgroup: 32 } }, fmaPlan(), 10);
    expect(e.code).toBe('LIMIT');
    expect(e.message).toContain(
      "kernel 'fma' of plan 'fma' has 64 invocations per workgroup (workgroupSize [64, 1, 1]), over maxComputeInvocationsPerWorkgroup = 32",
    );
  });

  it('maxComputeWorkgroupSizeX', async () => {
    const e = await limitError({ limitsOverride: { maxComputeWorkgroupSizeX: 16 } }, fmaPlan(), 10);
    expect(e.code).toBe('LIMIT');
    expect(e.message).toContain('has workgroup size x = 64 (workgroupSize [64, 1, 1]), over maxComputeWorkgroupSizeX = 16');
  });

  it('maxComputeWorkgroupsPerDimension: the count may not exceed its cube', async () => {
    // n = 64 * 9 needs 9 workgroups; 2 per dimension allow 8.
    const e = await limitError({ limitsOverride: { maxComputeWorkgroupsPerDimension: 2 } }, fmaPlan(), 64 * 9);
    expect(e.code).toBe('LIMIT');
    expect(e.message).toContain("kernel 'fma' of plan 'fma' needs 9 workgroups (cdiv(n, 64)), over 2^3 = 8 from maxComputeWorkgroupsPerDimension = 2");
  });

  it('maxStorageBuffersPerShaderStage', async () => {
    const e = await limitError({ limitsOverride: { maxStorageBuffersPerShaderStage: 2 } }, fmaPlan(), 10);
    expect(e.code).toBe('LIMIT');
    expect(e.message).toContain('binds 3 storage buffers, over maxStorageBuffersPerShaderStage = 2');
  });

  it('a feature the device lacks', async () => {
    const plan = fmaPlan();
    // a feature no device has (plans are data: a generated module may name one this version does not know)
    plan.kernels[0].features = ['chromium-experimental-imaginary' as PlanFeature];
    const e = await limitError({}, plan, 10);
    expect(e.code).toBe('LIMIT');
    expect(e.message).toContain("kernel 'fma' of plan 'fma' needs the WebGPU feature 'chromium-experimental-imaginary', which the");
  });

  it('a plan whose kernel binds an undeclared buffer', async () => {
    const plan = fmaPlan();
    plan.kernels[0].bindings[1].buffer = 'nope';
    const e = await limitError({}, plan, 10);
    expect(e.code).toBe('LOWERING');
    expect(e.message).toContain("binds buffer 'nope', which the plan does not declare");
  });
});

describe('workgroup layout', () => {
  it('lays a count over x, y, z', () => {
    expect(layoutWorkgroups(1, 65535)).toEqual([1, 1, 1]);
    expect(layoutWorkgroups(65535, 65535)).toEqual([65535, 1, 1]);
    expect(layoutWorkgroups(65536, 65535)).toEqual([65535, 2, 1]);
    expect(layoutWorkgroups(10, 3)).toEqual([3, 3, 2]);
    expect(layoutWorkgroups(27, 3)).toEqual([3, 3, 3]);
    expect(layoutWorkgroups(0, 3)).toEqual([0, 1, 1]);
    for (let count = 1; count <= 200; count++) {
      const [x, y, z] = layoutWorkgroups(count, 6);
      expect(Math.max(x, y, z)).toBeLessThanOrEqual(6);
      expect(x * y * z).toBeGreaterThanOrEqual(count);
      // No whole z-slab is wasted.
      expect(x * y * (z - 1)).toBeLessThan(count);
    }
  });

  it.each([
    [4, 64 * 50 + 3], // 51 workgroups on a 4 x 4 x 4 grid
    [3, 64 * 9], // exactly 3 x 3 x 1
    [2, 64 * 5 + 1], // 6 workgroups on 2 x 2 x 2
  ])('runs correctly with maxComputeWorkgroupsPerDimension = %i, n = %i', async (perDim, n) => {
    const view = await getRuntime({ limitsOverride: { maxComputeWorkgroupsPerDimension: perDim } });
    const inputs = fmaInputs(n);
    const { outputs } = await runPlan(fmaPlan(), inputs, { n }, { runtime: view });
    expect(outputs.out.data).toEqual(fmaWant(inputs, n));
    const count = Math.ceil(n / 64);
    const grid = await runPlan(gridPlan(), {}, { count }, { runtime: view });
    expect(Array.from(grid.outputs.out.data)).toEqual(layoutWorkgroups(count, perDim));
  });
});
