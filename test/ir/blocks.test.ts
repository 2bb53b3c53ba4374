/** blockIndex: an axis that counts the blocks of another, sized m = ceil(t / blk) everywhere sizes are solved. */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { blockIndex, compile, EinattnError, einsum, graph, index, input, interpret, printGraph, resolveSizes, size, where } from '../../src/index.ts';
import { lower } from '../../src/lower/index.ts';
import { closeRuntime, getRuntime } from '../../src/runtime/index.ts';

beforeAll(async () => {
  await getRuntime();
});
afterAll(closeRuntime);

/** Block sums of x [t] in blocks of blk: y [m]. */
const blockSums = () => {
  const inBlock = where(
    index('t')
      .div(size('blk'))
      .eq(blockIndex('t', 'blk', 'm')),
    1,
    0,
  );
  return graph('block_sums', { y: einsum('t, t m -> m', input('x', 't'), inBlock) });
};

describe('blockIndex', () => {
  test('the block count is ceil(t / blk): the last block may be partial', () => {
    const g = blockSums();
    expect(resolveSizes(g, { t: 7, blk: 3 }).m).toBe(3);
    expect(resolveSizes(g, { t: 6, blk: 3 }).m).toBe(2);
    expect(printGraph(g)).toContain('where m = ceil(t / blk)');
    expect(Array.from(interpret(g, { x: [1, 2, 3, 4, 5, 6, 7] }, { t: 7, blk: 3 }).y!.data)).toEqual([6, 15, 7]);
  });

  test('on the GPU the plan derives m at dispatch, after blk, which only a size node names', async () => {
    const g = blockSums();
    const plan = lower(g);
    expect(plan.derivedSizes).toContainEqual({ name: 'm', expr: ['cdiv', 't', 'blk'] });
    expect(plan.dynamicSizes).not.toContain('m');
    const got = await compile(g).run({ x: Float32Array.from([1, 2, 3, 4, 5, 6, 7]) }, { t: 7, blk: 3 });
    expect(Array.from(got.outputs.y!.data)).toEqual([6, 15, 7]);
  });

  test('a given block count that disagrees is SIZE_CONFLICT naming the rule', () => {
    try {
      resolveSizes(blockSums(), { t: 7, blk: 3, m: 2 });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(EinattnError);
      expect((e as EinattnError).code).toBe('SIZE_CONFLICT');
      expect((e as EinattnError).message).toContain("blocks of 'blk' along 't': needs m = ceil(t / blk) = 3");
    }
  });

  test('names: three different ones, each a valid identifier', () => {
    expect(() => blockIndex('t', 't', 'm')).toThrow(/three different names/);
    expect(() => blockIndex('t', 'b lk', 'm')).toThrow(EinattnError);
  });
});
