/** fast-check generators shared by the variant tests: options and small shapes. */
import fc from 'fast-check';
import type { AttentionOptions } from '../../src/variants/index.ts';

/** Any combination of the shared attention options (each one off about half the time). */
export const optionsArb: fc.Arbitrary<AttentionOptions> = fc.record({
  causal: fc.boolean(),
  window: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 6 })),
  softcap: fc.constantFrom(0, 0, 1.5, 5),
  alibi: fc.boolean(),
  sink: fc.boolean(),
  prefix: fc.boolean(),
  segments: fc.boolean(),
  stride: fc.constantFrom(0, 0, 2, 3),
  cache: fc.boolean(),
  scale: fc.constantFrom(0, 0, 0, 0.3),
});

/** GQA-family shapes: h = g · r, sizes 1 … 6 (so never a multiple of a tile). */
export const groupedDimsArb = fc
  .record({
    b: fc.integer({ min: 1, max: 2 }),
    g: fc.integer({ min: 1, max: 3 }),
    r: fc.integer({ min: 1, max: 3 }),
    s: fc.integer({ min: 1, max: 5 }),
    t: fc.integer({ min: 1, max: 6 }),
    d: fc.integer({ min: 1, max: 5 }),
    dv: fc.integer({ min: 1, max: 4 }),
  })
  .map(({ r, ...x }) => ({ ...x, h: x.g * r }));

/** MLA shapes (tiny latent and head dims). */
export const mlaDimsArb = fc.record({
  b: fc.integer({ min: 1, max: 2 }),
  h: fc.integer({ min: 1, max: 3 }),
  s: fc.integer({ min: 1, max: 4 }),
  t: fc.integer({ min: 1, max: 6 }),
  dn: fc.integer({ min: 1, max: 4 }),
  dr: fc.integer({ min: 1, max: 3 }),
  dc: fc.integer({ min: 1, max: 6 }),
  dv: fc.integer({ min: 1, max: 4 }),
});

/** Paged-cache shapes: any block size >= 1, a pool of n blocks, m blocks per sequence. */
export const pagedDimsArb = fc
  .record({
    b: fc.integer({ min: 1, max: 3 }),
    g: fc.integer({ min: 1, max: 2 }),
    r: fc.integer({ min: 1, max: 2 }),
    s: fc.integer({ min: 1, max: 3 }),
    n: fc.integer({ min: 1, max: 8 }),
    blk: fc.integer({ min: 1, max: 4 }),
    m: fc.integer({ min: 1, max: 3 }),
    d: fc.integer({ min: 1, max: 4 }),
    dv: fc.integer({ min: 1, max: 3 }),
  })
  .map(({ r, ...x }) => ({ ...x, h: x.g * r }));

/** The number of values of an input with `axes` at `dims`. */
export const count = (axes: readonly string[], dims: Record<string, number>): number => axes.reduce((p, a) => p * dims[a]!, 1);
