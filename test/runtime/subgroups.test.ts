/** Subgroup shuffles: the runtime measures the layout it relies on and refuses kernels that do not fit. */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { compile } from '../../src/compile.ts';
import { EinattnError, interpret, type Graph } from '../../src/index.ts';
import { closeRuntime, getRuntime, type Runtime } from '../../src/runtime/index.ts';
import { checkSubgroups, subgroupLayout } from '../../src/runtime/subgroups.ts';
import { lower } from '../../src/lower/index.ts';
import { sampleInputs } from '../../src/tune/index.ts';
import { gqa } from '../../src/variants/index.ts';
import { maxDiff } from '../flash/attention.ts';

let rt: Runtime;
beforeAll(async () => {
  rt = await getRuntime(); // no adapter → the suite fails here with the reason
});
afterAll(closeRuntime);

/** The deterministic sample inputs of `g` at `dims`, as plain arrays. */
const arraysOf = (g: Graph, dims: Record<string, number>) => Object.fromEntries(Object.entries(sampleInputs(g, dims)).map(([k, v]) => [k, v.data]));

test('the probe measures a subgroup size within the adapter range, laid out along local_invocation_index', async () => {
  expect(rt.features.has('subgroups'), 'the default adapter should offer subgroups (lavapipe does)').toBe(true);
  const layout = await subgroupLayout(rt);
  expect(layout.probed).toBeGreaterThanOrEqual(layout.minSize);
  expect(layout.probed).toBeLessThanOrEqual(layout.maxSize);
  expect(layout.linear).toBe(true);
  expect(await subgroupLayout(rt)).toBe(layout); // probed once per device
});

test('a decode kernel merging its lanes by shuffles uses no workgroup memory and matches the interpreter', async () => {
  const g = gqa({ causal: true, cache: true });
  const dims = { b: 2, h: 4, g: 2, s: 1, t: 300, d: 24, dv: 20 };
  const flashSchedule = { kvLanes: 8, workgroup: 16, rows: 2, subgroups: true };
  const plan = lower(g, { flashSchedule, specialize: { d: 24, dv: 20 } });
  const flash = plan.kernels.find((k) => k.subgroupLanes)!;
  expect(flash.workgroupStorageBytes).toBe(0);
  expect(flash.wgsl).toMatch(/^enable subgroups;$/m);
  expect(flash.wgsl).toContain('subgroupShuffleXor');
  expect(flash.wgsl).not.toContain('workgroupBarrier');
  const inputs = arraysOf(g, dims);
  const got = (await compile(g, { flashSchedule }).run(inputs, dims)).outputs.o!.data;
  const want = interpret(g, inputs, dims).o!.data;
  expect(maxDiff(got, want)).toBeLessThan(1e-5);
});

test('lanes wider than the smallest subgroup are refused before dispatch, naming the sizes', async () => {
  const { minSize } = await subgroupLayout(rt);
  const plan = lower(gqa(), { flashSchedule: { kvLanes: 2, workgroup: 2, subgroups: true } });
  const k = plan.kernels.find((x) => x.subgroupLanes)!;
  const wide = { ...plan, kernels: plan.kernels.map((x) => (x === k ? { ...x, subgroupLanes: 2 * minSize } : x)) };
  const err = await checkSubgroups(wide, rt).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(EinattnError);
  expect((err as EinattnError).code).toBe('LIMIT');
  expect((err as Error).message).toContain(`merges ${2 * minSize} lanes with subgroup shuffles`);
  expect((err as Error).message).toContain(`as small as ${minSize} invocations (subgroupMinSize)`);
  expect((err as Error).message).toContain('subgroups: false');
  await expect(checkSubgroups(plan, rt)).resolves.toBeUndefined();
});

test('subgroups needs a power-of-two lane count', () => {
  expect(() => lower(gqa(), { flashSchedule: { kvLanes: 3, workgroup: 6, subgroups: true } })).toThrow(
    /subgroups needs kvLanes to be a power of two.*got kvLanes 3/,
  );
});

test('decode runs merge lanes by shuffles by default where the device allows, and not when told', async () => {
  const g = gqa({ causal: true, cache: true });
  const dims = { b: 1, h: 8, g: 2, s: 1, t: 512, d: 16, dv: 16 };
  const inputs = arraysOf(g, dims);
  const want = interpret(g, inputs, dims).o!.data;
  for (const [opts, shuffled] of [
    [{}, true],
    [{ flashSchedule: { subgroups: false } }, false],
  ] as const) {
    const c = compile(g, opts);
    const got = (await c.run(inputs, dims, { runtime: rt })).outputs.o!.data;
    expect(maxDiff(got, want)).toBeLessThan(1e-5);
    const flash = c.plan.kernels.find((k) => /_flash(_partial)?$/.test(k.name))!;
    expect(flash.subgroupLanes ?? 0, JSON.stringify(opts)).toBe(shuffled ? 8 : 0);
    expect(flash.workgroupStorageBytes > 0, JSON.stringify(opts)).toBe(!shuffled);
  }
  // without a device (explain, generate) nothing is assumed about subgroups
  const offline = compile(g)
    .planFor(dims)
    .kernels.find((k) => /_flash(_partial)?$/.test(k.name))!;
  expect(offline.subgroupLanes).toBeUndefined();
});

test('compile().run refuses a schedule whose shuffled lanes exceed the subgroup size, before any GPU work', async () => {
  const { minSize } = await subgroupLayout(rt);
  const lanes = Math.min(64, 2 * minSize);
  if (lanes <= minSize) throw new Error(`this device's smallest subgroup (${minSize}) is at the kvLanes limit of 64: nothing wider can be asked for`);
  const g = gqa();
  const dims = { b: 1, h: 4, g: 2, s: 1, t: 64, d: 8, dv: 8 };
  const inputs = arraysOf(g, dims);
  const run = compile(g, { flashSchedule: { kvLanes: lanes, workgroup: lanes, subgroups: true } }).run(inputs, dims, { runtime: rt });
  await expect(run).rejects.toThrow(new RegExp(`merges ${lanes} lanes with subgroup shuffles.*subgroupMinSize.*use kvLanes <= ${minSize} or subgroups: false`));
});
