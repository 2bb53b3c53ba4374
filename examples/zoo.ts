// The variant zoo: attention from recent papers, each a built-in written in the DSL the way its
// paper writes it. Runs every one on the GPU against the interpreter and says what the lowering
// made of it (one fused kernel, or why not).
// Run: npx tsx examples/zoo.ts
import { compile, interpret, variants } from 'einattn';
import { closeRuntime } from 'einattn/runtime';

const ZOO = ['diff', 'sigmoid', 'linear', 'relbias', 'fox', 'qknorm', 'moba'];
const dims = { b: 1, h: 2, s: 9, t: 12, d: 16, dv: 16, r: 9, blk: 4 };
const wave = (n: number, phase: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + phase) * 0.8);

for (const name of ZOO) {
  const variant = variants.find((v) => v.name === name)!;
  const g = variant.build({ causal: true });
  const sizes = Object.fromEntries(Object.entries(dims).filter(([k]) => g.sizes.includes(k)));
  // log forget gates must be <= 0; everything else any value
  const inputs = Object.fromEntries(
    g.inputs.map((x, i) => {
      const n = x.axes.reduce((p, a) => p * sizes[a]!, 1);
      const data = wave(n, i);
      return [x.name, x.name === 'log_f' ? data.map((y) => -Math.abs(y)) : data];
    }),
  );
  const kernel = compile(g);
  const gpu = (await kernel.run(inputs, sizes)).outputs.o!.data;
  const ref = interpret(g, inputs, sizes).o!.data;
  const err = Math.max(...ref.map((y, i) => Math.abs(y - gpu[i]!)));
  const plan = kernel.planFor(sizes);
  console.log(
    `${name.padEnd(8)} ${plan.kernels.length} kernel(s): ${plan.kernels.map((k) => k.name.replace(`${g.name}_`, '')).join(', ')}; max |gpu − interpreter| = ${err.toExponential(1)}`,
  );
  console.log(`         ${variant.summary}`);
}
await closeRuntime();
