// Multi-head attention in the DSL, run by the reference interpreter on a tiny input.
// Run: npx tsx examples/mha-tiny.ts
import { interpret, mha, printGraph } from 'einattn';

const dims = { b: 1, h: 2, s: 3, t: 3, d: 4, dv: 4 };
const g = mha({ causal: true });
console.log(printGraph(g));

// deterministic small inputs: q = v = sin(i), k = -q
const n = dims.b * dims.h * dims.s * dims.d;
const ramp = Float32Array.from({ length: n }, (_, i) => Math.sin(i));
const { o } = interpret(g, { q: ramp, k: ramp.map((x) => -x), v: ramp }, dims);

console.log(`\no: ${o!.axes.join(' ')} = [${o!.shape.join(', ')}]`);
for (let h = 0; h < dims.h; h++)
  for (let s = 0; s < dims.s; s++) {
    const row = Array.from(o!.data.slice((h * dims.s + s) * dims.d, (h * dims.s + s + 1) * dims.d));
    console.log(`h=${h} s=${s}: ${row.map((x) => x.toFixed(4).padStart(8)).join(' ')}`);
  }
