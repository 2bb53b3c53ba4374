/**
 * `npm run fuzz -- --minutes N [--seed S] [--batch B]`: random DSL programs on the GPU
 * against the interpreter for N minutes. Prints progress and programs per minute; on a
 * mismatch prints the shrunk recipe as a runnable DSL snippet and exits 1.
 */
import fc from 'fast-check';
import { parseArgs } from 'node:util';
import { compile } from '../src/compile.ts';
import { interpret, resolveSizes } from '../src/index.ts';
import { adapterReport, closeRuntime, getRuntime } from '../src/runtime/index.ts';
import { buildProgram, longestReduction, recipeArb, recipeToSnippet, type Recipe } from '../test/gpu/programs.ts';

const { values } = parseArgs({ options: { minutes: { type: 'string', default: '1' }, seed: { type: 'string' }, batch: { type: 'string', default: '100' } } });
const minutes = Number(values.minutes);
const batch = Number(values.batch);
if (!(minutes > 0) || !(batch > 0)) throw new Error('usage: npm run fuzz -- --minutes N [--seed S] [--batch B]');
let seed = values.seed === undefined ? Date.now() % 2 ** 31 : Number(values.seed);

async function check(r: Recipe): Promise<void> {
  const g = buildProgram(r);
  const given = Object.fromEntries(g.sizes.filter((s) => s in r.sizes).map((s) => [s, r.sizes[s]!]));
  const dims = resolveSizes(g, given);
  const inputs = Object.fromEntries(g.inputs.map((inp, k) => [inp.name, Float32Array.from({ length: inp.axes.reduce((p, a) => p * dims[a]!, 1) }, (_, i) => Math.fround(Math.sin(i * 12.9898 + k * 78.233 + r.steps.length) * 0.9))]));
  const want = interpret(g, inputs, dims);
  const got = await compile(g, { tile: r.tile, shared: r.shared }).run(inputs, given);
  const tol = 2e-6 * Math.sqrt(longestReduction(r)) * (r.steps.length + 1);
  for (const [name, w] of Object.entries(want)) {
    const o = got.outputs[name]!;
    const scale = 1 + w.data.reduce((m, v) => Math.max(m, Number.isFinite(v) ? Math.abs(v) : 0), 0);
    for (let i = 0; i < w.data.length; i++) {
      const a = w.data[i]!;
      const b = o.data[i]!;
      const bad = Number.isFinite(a) ? Math.abs(a - b) > tol * scale : !Object.is(a, b) && !(Number.isNaN(a) && Number.isNaN(b));
      if (bad) throw new Error(`output '${name}' element ${i}: GPU ${b} vs interpreter ${a}`);
    }
  }
}

const rt = await getRuntime();
const report = adapterReport(rt);
console.log(`fuzzing for ${minutes} min on ${report.kind} adapter (${report.description || report.device}); first seed ${seed}`);
const t0 = performance.now();
const end = t0 + minutes * 60_000;
let programs = 0;
let failed = false;
while (performance.now() < end && !failed) {
  const details = await fc.check(fc.asyncProperty(recipeArb, check), { numRuns: batch, seed });
  programs += details.numRuns;
  if (details.failed) {
    failed = true;
    const r = details.counterexample![0] as Recipe;
    console.log(`\nMISMATCH (seed ${seed}, path ${details.counterexamplePath}): ${String((details.errorInstance as Error)?.message ?? details.error)}`);
    console.log('reproducer (save as repro.ts in the repository root, run with npx tsx repro.ts):\n');
    console.log(recipeToSnippet(r));
  }
  const min = (performance.now() - t0) / 60_000;
  console.log(`${programs} programs, ${Math.round(programs / min)} per minute, 0 mismatches so far (seed ${seed})`);
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
}
await closeRuntime();
console.log(failed ? 'fuzz: FAILED' : `fuzz: ${programs} programs in ${minutes} min, 0 mismatches`);
process.exitCode = failed ? 1 : 0;
