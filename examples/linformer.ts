// Low-rank (Linformer) attention: keys and values projected along the sequence, t -> p.
// Run: npx tsx examples/linformer.ts
import { interpret, linformer, mha, printGraph } from 'einattn';

const [b, h, s, t, p, d] = [1, 2, 6, 6, 6, 4];
const wave = (n: number, phase: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.53 + phase));
const q = wave(b * h * s * d, 0);
const k = wave(b * h * t * d, 1);
const v = wave(b * h * t * d, 2);
console.log(printGraph(linformer()));

// with p = t and E = F = the identity, Linformer is exactly MHA
const eye = Float32Array.from({ length: p * t }, (_, i) => (Math.floor(i / t) === i % t ? 1 : 0));
const dims = { b, h, s, t, p, d, dv: d };
const lin = interpret(linformer({ shared: true }), { q, k, v, e: eye }, dims).o!;
const ref = interpret(mha(), { q, k, v }, { b, h, s, t, d, dv: d }).o!;
console.log(`\nLinformer(E = F = I) vs MHA: max |difference| = ${Math.max(...lin.data.map((x, i) => Math.abs(x - ref.data[i]!))).toExponential(2)}`);

// p = 2: average the first and second halves of the sequence
const halves = Float32Array.from({ length: 2 * t }, (_, i) => ((Math.floor(i / t) === 0) === i % t < t / 2 ? 2 / t : 0));
const o = interpret(linformer({ shared: true }), { q, k, v, e: halves }, { ...dims, p: 2 }).o!;
for (let i = 0; i < s; i++) console.log(`h=0 s=${i}: ${Array.from(o.data.slice(i * d, (i + 1) * d), (x) => x.toFixed(4)).join(' ')}`);
