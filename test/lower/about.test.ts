// Plan kernels carry what they need and what they are as data: features and about, no WGSL text read.
import { expect, test } from 'vitest';
import { explain, lower } from '../../src/lower/index.ts';
import { advancePlan } from '../../src/runtime/kv/kernels.ts';
import { gqa, mha } from '../../src/variants/index.ts';

test('features come from the kernel builder: shader-f16 for f16 types, subgroups for the extension', () => {
  const f16 = lower(mha({ causal: true }), { compute: 'f16' });
  expect(f16.kernels.map((k) => k.features)).toEqual([undefined, ['shader-f16']]); // the block map has no products
  const lanes = lower(gqa(), { flashSchedule: { kvLanes: 2, workgroup: 2, subgroups: true } });
  const flash = lanes.kernels.find((k) => k.subgroupLanes !== undefined)!;
  expect(flash.features).toEqual(['subgroups']);
  expect(flash.wgsl).toMatch(/^enable subgroups;$/m);
  const both = lower(gqa(), { compute: 'f16', flashSchedule: { kvLanes: 2, workgroup: 2, subgroups: true } });
  expect(both.kernels.find((k) => k.subgroupLanes !== undefined)!.features).toEqual(['shader-f16', 'subgroups']);
  expect(lower(mha(), { flash: false }).kernels.every((k) => k.features === undefined)).toBe(true);
});

test('about holds the header lines, and explain prints them from the plan, not from the WGSL', () => {
  const plan = lower(mha({ causal: true }));
  for (const k of plan.kernels) {
    const header = k.wgsl
      .split('\n')
      .filter((l) => l.startsWith('// '))
      .map((l) => l.slice(3));
    expect(header[0]).toBe(k.about!.title);
    expect(k.about!.computes.length).toBeGreaterThan(0);
  }
  const flash = plan.kernels.at(-1)!;
  expect(flash.about!.schedule).toMatch(/^schedule: /);
  expect(flash.about!.computes).toContain('mask = (t <= (s + (|t| - |s|)))');
  // a plan whose WGSL lost its comments explains the same
  const stripped = { ...plan, kernels: plan.kernels.map((k) => ({ ...k, wgsl: k.wgsl.replace(/^\/\/.*\n/gm, '') })) };
  expect(explain(stripped)).toBe(explain(plan));
  expect(explain(plan)).toContain(`    ${flash.about!.schedule}`);
});

test("the runtime's hand-written KV kernels describe themselves too", () => {
  const text = explain(advancePlan('b'));
  expect(text).toContain('kernel 1 kv_advance:');
  expect(text).toContain('    schedule: hand-written runtime kernel, 64 invocations per workgroup');
  expect(advancePlan('b').kernels[0]!.about!.title).toBe('einattn kernel kv_advance: the sequence lengths advance by the rows just appended');
});
