/**
 * Random DSL programs run on the GPU must match the interpreter. Replay a failure
 * with EINATTN_SEED=<seed> (fast-check prints the seed and path).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, test } from 'vitest';
import { closeRuntime, getRuntime } from '../../src/runtime/index.ts';
import { checkRecipe, recipeArb } from './programs.ts';

beforeAll(async () => {
  await getRuntime(); // no adapter → the suite fails here with the reason
});
afterAll(closeRuntime);

const seed = process.env.EINATTN_SEED ? Number(process.env.EINATTN_SEED) : undefined;
const runs = Number(process.env.EINATTN_PROGRAMS ?? 200);

test(`${runs} random programs match the interpreter on the GPU`, async () => {
  await fc.assert(fc.asyncProperty(recipeArb, checkRecipe), { numRuns: runs, seed, endOnFailure: true });
});
