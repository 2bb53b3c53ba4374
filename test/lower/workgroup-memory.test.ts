/**
 * A kernel's workgroup-memory size is summed from the types of the variables it declares
 * (kir Ty), and the decode schedule's estimate before lowering (sharedMergeBytes) agrees with it.
 */
import { expect, test } from 'vitest';
import { einsum, graph, input } from '../../src/index.ts';
import { sharedMergeBytes } from '../../src/lower/flash/lanes.ts';
import { lower } from '../../src/lower/index.ts';
import { mha } from '../../src/variants/index.ts';

test('lanes merged through workgroup memory: the plan states what sharedMergeBytes estimates', () => {
  for (const [rows, workgroup, kvLanes, dv] of [
    [1, 2, 2, 8],
    [4, 8, 8, 128],
    [2, 8, 4, 64],
    [3, 6, 3, 16],
  ] as const) {
    const plan = lower(mha(), { specialize: { d: 16, dv }, flashSchedule: { rows, workgroup, kvLanes, split: 1 } });
    const flash = plan.kernels.find((k) => k.name.endsWith('_flash'))!;
    expect(flash.workgroupStorageBytes, `rows ${rows} wg ${workgroup} lanes ${kvLanes} dv ${dv}`).toBe(sharedMergeBytes(rows, workgroup, kvLanes, dv));
  }
  const debug = lower(mha(), { specialize: { d: 16, dv: 8 }, debugTiles: true, flashSchedule: { rows: 1, workgroup: 2, kvLanes: 2, split: 1 } });
  expect(debug.kernels.find((k) => k.name.endsWith('_flash'))!.workgroupStorageBytes).toBe(sharedMergeBytes(1, 2, 2, 8) + 4); // the atomic tile count
});

test('workgroup-memory contraction tiles: 16 contracted indices × (8·TM + 8·TN) elements, f16 under f16 compute', () => {
  const g = graph('mm', { c: einsum('i k, k j -> i j', input('a', 'i k'), input('b', 'k j')) });
  expect(lower(g, { shared: true, tile: [2, 4] }).kernels[0]!.workgroupStorageBytes).toBe(4 * 16 * (16 + 32));
  expect(lower(g, { shared: true, tile: [2, 4], compute: 'f16' }).kernels[0]!.workgroupStorageBytes).toBe(2 * 16 * (16 + 32));
  expect(lower(g).kernels[0]!.workgroupStorageBytes).toBe(0);
});
