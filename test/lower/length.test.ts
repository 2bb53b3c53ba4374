/**
 * The declared length of the KV axis in the lowering: which masks declare one, the flash
 * kernel's key clamps, the host checks of a padded block table, and paged attention as one
 * flash kernel with no temporary that grows with the cache.
 */
import { describe, expect, test } from 'vitest';
import { einsum, graph, index, input, size, type Graph, type Tensor } from '../../src/index.ts';
import { findFlash, lower } from '../../src/lower/index.ts';
import { bindSizes, resolveBuffers } from '../../src/runtime/index.ts';
import { checkIndexRange } from '../../src/runtime/index-checks.ts';
import type { IndexCheck } from '../../src/runtime/plan.ts';
import { EinattnError } from '../../src/errors.ts';
import { findVariant, gqa, mha, mqa, paged } from '../../src/variants/index.ts';

/** Attention over k, v [b t d] with `mask(t, len)` for len = input `len` [b] (i32, at most t). */
function masked(mask: (t: Tensor<['t']>, len: Tensor<['b']>) => Tensor<any>): Graph {
  const q = input('q', 'b s d');
  const k = input('k', 'b t d');
  const v = input('v', 'b t d');
  const len = input('len', 'b', 'i32', { max: 't' });
  const p = einsum('b s d, b t d -> b s t', q, k).softmax('t', { mask: mask(index('t'), len) });
  return graph('masked', { o: einsum('b s t, b t d -> b s d', p, v) });
}

describe('which masks declare a length', () => {
  test('t < len, len > t and t <= len anywhere in the top-level AND-tree', () => {
    const lt = findFlash(masked((t, len) => t.le(index('s')).and(t.lt(len)))).matches[0]!.length;
    expect(lt?.inclusive).toBe(false);
    expect(lt?.end.op === 'input' && lt.end.name).toBe('len');
    expect(findFlash(masked((t, len) => len.gt(t))).matches[0]!.length?.inclusive).toBe(false);
    expect(findFlash(masked((t, len) => t.ne(3).and(t.le(len.sub(1))))).matches[0]!.length?.inclusive).toBe(true);
  });

  test('no bound: under an OR, a bound that varies with the query row, or no mask at all', () => {
    expect(findFlash(masked((t, len) => t.lt(len).or(t.eq(0)))).matches[0]!.length).toBeUndefined();
    expect(findFlash(masked((t, len) => t.lt(len.add(index('s'))))).matches[0]!.length).toBeUndefined();
    expect(findFlash(mha()).matches[0]!.length).toBeUndefined();
  });
});

describe('the flash kernel ends its keys at the length', () => {
  const cacheGraphs: [string, Graph][] = [
    ['gqa', gqa({ cache: true, causal: true })],
    ['mqa', mqa({ cache: true })],
    ['paged', paged()],
    ['mla_decode', findVariant('mla_decode')!.build()],
    ['gqa_int8', findVariant('gqa_int8')!.build()],
  ];
  for (const [name, g] of cacheGraphs) {
    test(`${name}: every key index is clamped below _tend = min(t, kv_len[b]), never to t - 1`, () => {
      for (const flashSchedule of [{}, { split: 2 }, { kvLanes: 2, workgroup: 4 }, { blockMask: false }]) {
        const flash = lower(g, { flashSchedule }).kernels.find((k) => /_flash(_partial)?$/.test(k.name))!;
        expect(flash.wgsl).toContain('let _tend = u32(clamp(');
        expect(flash.wgsl).not.toMatch(/_sz\.t - 1u/);
        expect(flash.wgsl).toMatch(/let _t = min\(_t0_ \+ _j, _tend - 1u\);/);
        expect(flash.wgsl).toContain('nothing past it is read');
      }
    });
  }

  test('the block-mask kernel stops at the length too', () => {
    const blocks = lower(gqa({ cache: true })).kernels.find((k) => k.name.endsWith('_blocks'))!;
    expect(blocks.wgsl).toContain('if (_t >= _tend) { _all = false; break; }');
  });
});

describe('paged attention is one flash kernel reading K and V through the block table', () => {
  const dimsAt = (m: number) => ({ b: 2, h: 8, g: 2, s: 1, n: 4 * m, blk: 16, m, d: 64, dv: 64 });

  test('kernels: the block map and the flash kernel, which stores o through the head merge; no copy of the cache', () => {
    const plan = lower(paged({ causal: true }));
    expect(plan.kernels.map((k) => k.name)).toEqual(['paged_causal_0_flash_blocks', 'paged_causal_0_flash']);
    const flash = plan.kernels[1]!.wgsl;
    expect(flash).toMatch(/^\s+o\[/m);
    expect(flash).toMatch(/k_cache\[.*block_table/s);
    expect(flash).toMatch(/v_cache\[/);
  });

  test('the only temporary is the block map (the head merge folds into the flash store); no other buffer of the plan grows with the cache', () => {
    const plan = lower(paged({ causal: true }));
    expect(plan.buffers.filter((x) => x.role === 'temp').map((x) => x.name)).toEqual(['_blocks']);
    const outputs = (m: number) =>
      resolveBuffers(plan, bindSizes(plan, dimsAt(m)))
        .filter((b) => b.role === 'output')
        .map((b) => b.bytes);
    const { b, h, s, dv } = dimsAt(8);
    expect(outputs(8)).toEqual([b * h * s * dv * 4]);
    expect(outputs(64)).toEqual(outputs(8));
  });
});

describe('host checks of a padded block table', () => {
  test('the plan checks the table only where a flash kernel bounded by kv_len reads it', () => {
    const checks = lower(paged()).indexChecks!;
    expect(checks.filter((c) => c.buffer === 'block_table')).toEqual([
      { buffer: 'block_table', size: 'n', what: "gather 'n' through 'block_table'", usedBy: { length: 'kv_len', axis: 'm', per: 'blk' } },
    ]);
    // the unfused kernels read every entry (masked by zero): the whole table is checked
    expect(
      lower(paged(), { flash: false })
        .indexChecks!.filter((c) => c.buffer === 'block_table')
        .every((c) => c.usedBy === undefined),
    ).toBe(true);
  });

  test('a table also read elsewhere is checked whole', () => {
    const table = input('block_table', 'b m', 'i32');
    const pool = input('k_cache', 'n blk d');
    const k = pool.gather('n', table).merge('m blk', 't');
    const len = input('kv_len', 'b', 'i32', { max: 't' });
    const q = input('q', 'b s d');
    const p = einsum('b s d, b t d -> b s t', q, k).softmax('t', { mask: index('t').lt(len) });
    const g = graph('two_uses', { o: einsum('b s t, b t d -> b s d', p, k), ksum: k.mul(size('d')) });
    expect(lower(g).indexChecks!.find((c) => c.buffer === 'block_table')!.usedBy).toBeUndefined();
  });

  const check: IndexCheck = { buffer: 'table', size: 4, what: "gather 'n' through 'table'", usedBy: { length: 'len', axis: 'm', per: 'blk' } };
  const buffers = [
    { name: 'table', axes: ['b', 'm'], shape: [2, 3] },
    { name: 'len', axes: ['b'], shape: [2] },
  ];
  const run = (table: number[], len?: number[]) => () =>
    checkIndexRange(check, buffers, (name) => (name === 'table' ? table : name === 'len' ? len : undefined), { blk: 2 });

  test('entries past ceil(len[b] / blk) may hold anything; used ones must be in range', () => {
    // len [3, 0]: sequence 0 uses entries m < 2, sequence 1 none
    expect(run([0, 3, -1, -1, 99, -7], [3, 0])).not.toThrow();
    expect(run([0, -1, 2, 0, 0, 0], [3, 0])).toThrow(EinattnError);
    expect(run([0, -1, 2, 0, 0, 0], [3, 0])).toThrow(
      "gather 'n' through 'table': input 'table' has -1 at [b=0 m=1], outside 0..3 (in its used part: m < ceil(len / blk))",
    );
    expect(run([0, 1, 2, 0, 4, 0], [3, 6])).toThrow(/has 4 at \[b=1 m=1\]/);
  });

  test('without the length on the host the used part is unknown: nothing is rejected', () => {
    expect(run([-1, -1, -1, 9, 9, 9])).not.toThrow();
  });

  test('without usedBy every entry is checked', () => {
    const whole = { ...check, usedBy: undefined };
    expect(() => checkIndexRange(whole, buffers, () => [0, 1, 2, 3, 0, -1], {})).toThrow(/has -1 at \[b=1 m=2\], outside 0\.\.3$/);
  });
});
