/**
 * `npm run soak -- [--runs 10000]`: consecutive runs of mixed kernels in one process;
 * prints GPU buffers, pooled bytes, pipelines and process memory every 1,000 runs and
 * fails if GPU buffers are created after the warm-up or the heap grows past a bound.
 */
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { compile } from '../src/compile.ts';
import { einsum, graph, input } from '../src/index.ts';
import { adapterReport, closeRuntime, getRuntime, runtimeStats } from '../src/runtime/index.ts';
import { gqa, mha } from '../src/variants/index.ts';

/** A bad command line: one line on stderr and exit code 2, no stack trace. */
function usage(message: string): never {
  console.error(`soak: ${message} (usage: npm run soak -- [--runs N])`);
  process.exit(2);
}

let runsText = '10000';
try {
  runsText = parseArgs({ options: { runs: { type: 'string', default: '10000' } } }).values.runs!;
} catch (e) {
  usage((e as Error).message.split('\n')[0]!);
}
const runs = Number(runsText);
if (!Number.isInteger(runs) || runs < 1) usage(`--runs must be a positive integer, got '${runsText}'`);
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const rt = await getRuntime();
const a = adapterReport(rt);
const kinds = [
  { c: compile(mha({ causal: true })), dims: (n: number) => ({ b: 1, h: 2, s: 4 + (n % 3), t: 9 + (n % 5), d: 8, dv: 8 }) },
  { c: compile(gqa()), dims: (n: number) => ({ b: 1, h: 4, g: 2, s: 3, t: 7 + (n % 4), d: 8, dv: 8 }) },
  {
    c: compile(graph('mm', { c: einsum('i k, k j -> i j', input('a', 'i k'), input('b', 'k j')).tanh() })),
    dims: (n: number) => ({ i: 9 + (n % 2), k: 5, j: 7 }),
  },
];
const inputs = (k: (typeof kinds)[number], d: Record<string, number>) =>
  Object.fromEntries(k.c.graph.inputs.map((i) => [i.name, new Float32Array(i.axes.reduce((p, x) => p * d[x]!, 1)).fill(0.25)]));
const runOne = (n: number) => {
  const k = kinds[n % kinds.length]!;
  const d = k.dims(n);
  return k.c.run(inputs(k, d), d);
};
const mib = (x: number) => `${(x / 2 ** 20).toFixed(1)} MiB`;
const delta = (x: number) => `${x >= 0 ? '+' : '−'}${mib(Math.abs(x))}`;
console.log(`soak: ${runs} runs of ${kinds.length} kernels of mixed shapes on ${a.kind} ${a.description || a.device}`);
for (let n = 0; n < 200; n++) await runOne(n); // warm-up: every shape once
gc();
const base = { ...runtimeStats(rt), ...process.memoryUsage() };
const t0 = performance.now();
for (let n = 0; n < runs; n++) {
  await runOne(n);
  if ((n + 1) % 1000 === 0 || n + 1 === runs) {
    gc();
    const s = { ...runtimeStats(rt), ...process.memoryUsage() };
    console.log(
      `${String(n + 1).padStart(6)} runs  ${((performance.now() - t0) / (n + 1)).toFixed(2)} ms/run  GPU buffers created ${s.buffersCreated - base.buffersCreated}, pooled ${mib(s.pooledBytes)}, pipelines ${s.pipelines}  heap ${mib(s.heapUsed)} (${delta(s.heapUsed - base.heapUsed)}), rss ${mib(s.rss)} (${delta(s.rss - base.rss)})`,
    );
  }
}
gc();
const end = { ...runtimeStats(rt), ...process.memoryUsage() };
await closeRuntime();
const ok = end.buffersCreated === base.buffersCreated && end.heapUsed - base.heapUsed < 16 * 2 ** 20;
console.log(
  ok ? `soak: ${runs} runs, no GPU buffer created after the warm-up, heap growth ${mib(end.heapUsed - base.heapUsed)} (bound 16 MiB)` : 'soak: FAILED',
);
process.exitCode = ok ? 0 : 1;
