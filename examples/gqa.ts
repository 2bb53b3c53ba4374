// MHA, GQA and MQA: the same attention with fewer K/V heads. GQA is a split view of the
// query heads (h -> g r); query head i reads KV head floor(i / (h / g)).
// Run: npx tsx examples/gqa.ts
import { gqa, interpret, mha, mqa, printGraph } from 'einattn';

const [b, h, g, s, t, d] = [1, 4, 2, 2, 5, 3];
const wave = (n: number, phase: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.7 + phase));
const q = wave(b * h * s * d, 0);
const k = wave(b * g * t * d, 1); // [b g t d]: two KV heads
const v = wave(b * g * t * d, 2);

console.log(printGraph(gqa({ causal: true })));

const oGqa = interpret(gqa({ causal: true }), { q, k, v }, { b, h, g, s, t, d, dv: d }).o!;
// the same with K/V repeated to every query head (head i gets KV head floor(i / 2))
const repeat = (x: Float32Array) =>
  Float32Array.from({ length: b * h * t * d }, (_, i) => {
    const head = Math.floor(i / (t * d));
    return x[Math.floor(head / (h / g)) * t * d + (i % (t * d))]!;
  });
const oMha = interpret(mha({ causal: true }), { q, k: repeat(k), v: repeat(v) }, { b, h, s, t, d, dv: d }).o!;
const diff = Math.max(...oGqa.data.map((x, i) => Math.abs(x - oMha.data[i]!)));
console.log(`\nGQA(g=${g}) vs MHA with repeated K/V: max |difference| = ${diff.toExponential(2)}`);

// MQA: one K/V head for all query heads
const k1 = k.slice(0, t * d);
const v1 = v.slice(0, t * d);
const oMqa = interpret(mqa(), { q, k: k1, v: v1 }, { b, h, s, t, d, dv: d }).o!;
const oG1 = interpret(gqa(), { q, k: k1, v: v1 }, { b, h, g: 1, s, t, d, dv: d }).o!;
console.log(`MQA vs GQA(g=1): max |difference| = ${Math.max(...oMqa.data.map((x, i) => Math.abs(x - oG1.data[i]!))).toExponential(2)}`);
for (let i = 0; i < h; i++) console.log(`MQA head ${i}, query 0: ${Array.from(oMqa.data.slice(i * s * d, i * s * d + d), (x) => x.toFixed(4)).join(' ')}`);
console.log('\nKV cache per token (f16): MHA', 2 * h * 2 * d, 'B, GQA', 2 * g * 2 * d, 'B, MQA', 2 * 2 * d, 'B');
