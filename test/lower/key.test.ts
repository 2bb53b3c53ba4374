/**
 * Plan keys (src/lower/key.ts): every lowering option and every flash schedule knob is part of
 * the key, so option sets that can lower differently never share a cached plan. The variations
 * below are typed as complete records, so a new option or knob without one here fails the type check.
 */
import { expect, test } from 'vitest';
import { compile } from '../../src/compile.ts';
import { DEFAULT_FLASH_SCHEDULE, flashSchedule, loweringKey, scheduleKey, type FlashSchedule, type LowerOptions } from '../../src/lower/index.ts';
import { mha } from '../../src/variants/index.ts';

/** One non-default value per lowering option. */
const OPTION: { [K in keyof Required<LowerOptions>]: LowerOptions[K] } = {
  tile: [2, 2],
  shared: true,
  flash: false,
  flashSchedule: { kvTile: 32 },
  specialize: { d: 64 },
  dims: { b: 1, h: 8, s: 1, t: 4096, d: 64, dv: 64 },
  debugTiles: true,
  compute: 'f16',
  storage: 'f16',
  widenF16: true,
};

/** One non-default value per schedule knob. */
const KNOB: { [K in keyof FlashSchedule]: FlashSchedule[K] } = {
  rows: 4,
  kvTile: 32,
  workgroup: 16,
  kvLanes: 2,
  subgroups: true,
  dvChunk: 32,
  maxDvChunk: 256,
  maxQCache: 64,
  qkBlock: 4,
  split: 2,
  targetWorkgroups: 64,
  minTilesPerSplit: 2,
  blockMask: false,
};

test('every lowering option changes the key', () => {
  const g = mha();
  const base = loweringKey(g, {});
  for (const [k, v] of Object.entries(OPTION)) expect(loweringKey(g, { [k]: v }), k).not.toBe(base);
});

test('every schedule knob changes the key, and the key names every knob of the default', () => {
  const base = scheduleKey(flashSchedule());
  for (const [k, v] of Object.entries(KNOB)) expect(scheduleKey(flashSchedule({ [k]: v })), k).not.toBe(base);
  expect(
    base
      .split(',')
      .map((kv) => kv.split('=')[0])
      .sort(),
  ).toEqual(Object.keys(DEFAULT_FLASH_SCHEDULE).sort());
  expect(loweringKey(mha(), { flashSchedule: { ...KNOB, subgroups: false, kvLanes: 2 } })).not.toBe(
    loweringKey(mha(), { flashSchedule: { ...KNOB, subgroups: false, kvLanes: 2, maxQCache: 65 } }),
  );
});

test('the same plan has the same key: a knob at its default, and run sizes that split alike', () => {
  const g = mha();
  expect(loweringKey(g, { flashSchedule: { rows: 8 } })).toBe(loweringKey(g, {}));
  const decode = (t: number) => loweringKey(g, { dims: { b: 1, h: 8, s: 1, t, d: 64, dv: 64 } });
  expect(decode(4096)).toBe(decode(8192)); // both split
  expect(decode(4096)).not.toBe(decode(64)); // the short one does not
});

test('compile() caches one plan per key', () => {
  const c = compile(mha());
  const dims = { b: 1, h: 8, s: 1, t: 4096, d: 64, dv: 64 };
  expect(c.planFor(dims)).toBe(c.planFor({ ...dims, t: 8192 }));
  expect(c.planFor(dims)).not.toBe(c.planFor({ ...dims, s: 128, t: 128 }));
});
