/**
 * Random DSL programs run on the GPU must match the interpreter. Replay a failure
 * with EINATTN_SEED=<seed> (fast-check prints the seed and path).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { compile } from '../../src/compile.ts';
import { interpret, resolveSizes } from '../../src/index.ts';
import { closeRuntime, getRuntime } from '../../src/runtime/index.ts';
import { buildProgram, longestReduction, recipeArb } from './programs.ts';

beforeAll(async () => {
  await getRuntime(); // no adapter → the suite fails here with the reason
});
afterAll(closeRuntime);

const seed = process.env.EINATTN_SEED ? Number(process.env.EINATTN_SEED) : undefined;
const runs = Number(process.env.EINATTN_PROGRAMS ?? 200);

function inputsFor(g: ReturnType<typeof buildProgram>, sizes: Record<string, number>, salt: number) {
  const out: Record<string, Float32Array> = {};
  g.inputs.forEach((inp, k) => {
    const n = inp.axes.reduce((p, a) => p * sizes[a]!, 1);
    out[inp.name] = Float32Array.from({ length: n }, (_, i) => Math.fround(Math.sin(i * 12.9898 + k * 78.233 + salt) * 0.9));
  });
  return out;
}

test(`${runs} random programs match the interpreter on the GPU`, async () => {
  await fc.assert(
    fc.asyncProperty(recipeArb, async (r) => {
      const g = buildProgram(r);
      const given = Object.fromEntries(g.sizes.filter((s) => s in r.sizes).map((s) => [s, r.sizes[s]!]));
      const dims = resolveSizes(g, given); // renamed axes take their source's size
      const inputs = inputsFor(g, dims, r.steps.length);
      const want = interpret(g, inputs, dims);
      const got = await compile(g, { tile: r.tile, shared: r.shared }).run(inputs, given);
      const tol = 2e-6 * Math.sqrt(longestReduction(r)) * (r.steps.length + 1);
      for (const [name, w] of Object.entries(want)) {
        const o = got.outputs[name]!;
        expect(o.shape).toEqual(w.shape);
        const scale = 1 + w.data.reduce((m, v) => Math.max(m, Number.isFinite(v) ? Math.abs(v) : 0), 0);
        for (let i = 0; i < w.data.length; i++) {
          const a = w.data[i]!, b = o.data[i]!;
          if (Number.isNaN(a) || !Number.isFinite(a)) { expect(b).toBe(a); continue; }
          if (Math.abs(a - b) > tol * scale) {
            throw new Error(`output '${name}' element ${i}: GPU ${b} vs interpreter ${a} (tolerance ${tol * scale})\n${compile(g).explain()}`);
          }
        }
      }
    }),
    { numRuns: runs, seed, endOnFailure: true },
  );
});
