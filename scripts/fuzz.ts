/**
 * `npm run fuzz -- --minutes N [--seed S] [--batch B]`: random DSL programs on the GPU
 * against the interpreter for N minutes. Prints progress and programs per minute; on a
 * mismatch prints the shrunk recipe as a runnable DSL snippet and exits 1.
 */
import fc from 'fast-check';
import { parseArgs } from 'node:util';
import { adapterReport, closeRuntime, getRuntime } from '../src/runtime/index.ts';
import { checkRecipe, recipeArb, recipeToSnippet, type Recipe } from '../test/gpu/programs.ts';

/** A bad command line: one line on stderr and exit code 2, no stack trace. */
function usage(message: string): never {
  console.error(`fuzz: ${message} (usage: npm run fuzz -- --minutes N [--seed S] [--batch B])`);
  process.exit(2);
}

let values: { minutes: string; seed?: string; batch: string };
try {
  values = parseArgs({ options: { minutes: { type: 'string', default: '1' }, seed: { type: 'string' }, batch: { type: 'string', default: '100' } } })
    .values as typeof values;
} catch (e) {
  usage((e as Error).message.split('\n')[0]!);
}
const minutes = Number(values.minutes);
const batch = Number(values.batch);
if (!(minutes > 0)) usage(`--minutes must be a positive number, got '${values.minutes}'`);
if (!Number.isInteger(batch) || batch < 1) usage(`--batch must be a positive integer, got '${values.batch}'`);
if (values.seed !== undefined && !Number.isInteger(Number(values.seed))) usage(`--seed must be an integer, got '${values.seed}'`);
let seed = values.seed === undefined ? Date.now() % 2 ** 31 : Number(values.seed);

const rt = await getRuntime();
const report = adapterReport(rt);
console.log(`fuzzing for ${minutes} min on ${report.kind} adapter (${report.description || report.device}); first seed ${seed}`);
const t0 = performance.now();
const end = t0 + minutes * 60_000;
let programs = 0;
let failed = false;
while (performance.now() < end && !failed) {
  const details = await fc.check(fc.asyncProperty(recipeArb, checkRecipe), { numRuns: batch, seed });
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
