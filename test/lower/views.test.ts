/**
 * Views fold into stores: a view (merge, split, transpose, rename) of a kernel's result
 * changes that kernel's store index; it never adds a copy kernel or a temporary.
 */
import { expect, test } from 'vitest';
import { einsum, graph, input } from '../../src/index.ts';
import { lower, type LowerOptions } from '../../src/lower/index.ts';
import { variants } from '../../src/variants/index.ts';

/** `x[..] = y.merge(..)…`: a kernel whose only job is copying a buffer (through views). */
const COPY = /^\w+\[[^\]]*\] = \w+(\.(merge|split|rename|transpose)\('[^']*'(, '[^']*')?\))*$/;

function copies(plan: ReturnType<typeof lower>): string[] {
  return plan.kernels.filter((k) => COPY.test(k.wgsl.split('\n')[1]!.slice(3))).map((k) => k.name);
}

test('no plan of a built-in variant contains a kernel whose only job is copying', () => {
  const schedules: LowerOptions[] = [{}, { flashSchedule: { split: 2 } }, { flash: false }];
  for (const v of variants) {
    const optionSets = [
      {},
      ...Object.entries(v.options)
        .filter(([, o]) => o.type === 'boolean')
        .map(([k, o]) => ({ [k]: !o.default })),
    ];
    for (const o of optionSets)
      for (const s of schedules) {
        const plan = lower(v.build(o), s);
        expect(copies(plan), `${v.name} ${JSON.stringify(o)} ${JSON.stringify(s)}`).toEqual([]);
      }
  }
});

test('gqa: the flash kernel stores o directly, at h = g·R + r (split-KV: the merge kernel does)', () => {
  const gqa = variants.find((v) => v.name === 'gqa')!.build();
  const one = lower(gqa);
  expect(one.kernels.map((k) => k.name)).toEqual(['gqa_0_flash']);
  expect(one.buffers.map((b) => `${b.role} ${b.name}`)).toEqual(['input q', 'input k', 'input v', 'output o']);
  const split = lower(gqa, { flashSchedule: { split: 2 } });
  expect(split.kernels.map((k) => k.name)).toEqual(['gqa_0_flash_partial', 'gqa_0_flash_merge']);
  const stores = (wgsl: string) => wgsl.split('\n').filter((l) => /^\s+o\[/.test(l));
  expect(stores(split.kernels[1]!.wgsl)).toHaveLength(1);
  expect(stores(split.kernels[0]!.wgsl)).toEqual([]);
  expect(stores(one.kernels[0]!.wgsl).length).toBeGreaterThan(0);
});

test('gqa, mqa, gqa_int8 and paged (cached or not, split or not): the flash result is the output buffer, never a temporary', () => {
  for (const name of ['gqa', 'mqa', 'gqa_int8', 'paged']) {
    const v = variants.find((x) => x.name === name)!;
    const optionSets = [
      {},
      ...Object.entries(v.options)
        .filter(([, o]) => o.type === 'boolean')
        .map(([k, o]) => ({ [k]: !o.default })),
    ];
    for (const o of optionSets)
      for (const s of [{}, { flashSchedule: { split: 2 } }]) {
        const plan = lower(v.build(o), s);
        const temps = plan.buffers.filter((b) => b.role === 'temp' && /^_flash\d/.test(b.name)).map((b) => b.name);
        expect(temps, `${name} ${JSON.stringify(o)} ${JSON.stringify(s)}`).toEqual([]);
      }
  }
});

test('a transpose, rename, split or merge of a contraction is its store index: one kernel, no temporary', () => {
  const a = input('a', 'i k');
  const b = input('b', 'k j');
  const c = einsum('i k, k j -> i j', a, b);
  for (const out of [c.transpose('j i'), c.rename('j', 'n'), c.split('i', 'p q'), c.merge('i j', 'n')]) {
    const plan = lower(graph('mm', { out }));
    expect(plan.kernels).toHaveLength(1);
    expect(plan.buffers.filter((x) => x.role === 'temp')).toEqual([]);
  }
});
