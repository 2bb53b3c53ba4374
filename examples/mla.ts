// Multi-head latent attention (DeepSeek-V2): the naive form, the absorbed decoding form,
// and the absorbed form derived from the naive one by choosing the contraction order.
// Run: npx tsx examples/mla.ts
import { contractionCost, interpret, mla, printGraph, reorderContractions } from 'einattn';

// DeepSeek-V2 head shapes, a few heads, a decode step over a cache of 8 tokens
const dims = { b: 1, h: 2, s: 1, t: 8, dn: 128, dr: 64, dc: 512, dv: 128 };
const naive = mla({ causal: true, cache: true });
const absorbed = mla({ causal: true, cache: true, absorbed: true });
console.log(printGraph(absorbed));

let seed = 1;
const rnd = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
const x: Record<string, ArrayLike<number>> = { kv_len: [6] }; // 6 of the 8 cache slots hold tokens
for (const i of naive.inputs)
  if (!(i.name in x)) x[i.name] = Float32Array.from({ length: i.axes.reduce((p, a) => p * dims[a as keyof typeof dims], 1) }, () => rnd() * 0.2);

const oNaive = interpret(naive, x, dims).o!;
const oAbsorbed = interpret(absorbed, x, dims).o!;
const diff = Math.max(...oNaive.data.map((v, i) => Math.abs(v - oAbsorbed.data[i]!)));
console.log(`\nnaive vs absorbed: max |difference| = ${diff.toExponential(2)}`);
console.log(`o[h=0, first 6 of dv]: ${Array.from(oAbsorbed.data.slice(0, 6), (v) => v.toFixed(5)).join(' ')}`);

// Cost in multiply-adds at a realistic decode shape, and the rewrite that finds the absorbed order
const decode = { b: 1, h: 128, s: 1, t: 4096, dn: 128, dr: 64, dc: 512, dv: 128 };
const derived = reorderContractions(naive, decode);
const fmt = (n: number) => `${(n / 1e9).toFixed(3)} G`;
console.log(`\nat ${JSON.stringify(decode)}:`);
console.log(`  naive     ${fmt(contractionCost(naive, decode))} multiply-adds`);
console.log(`  absorbed  ${fmt(contractionCost(absorbed, decode))}`);
console.log(`  derived by reorderContractions: ${fmt(contractionCost(derived, decode))}`);
console.log(
  `  derived einsums: ${derived.nodes
    .filter((n) => n.op === 'einsum')
    .map((n) => (n.op === 'einsum' ? n.spec : ''))
    .join(' | ')}`,
);
console.log(`  KV cache per token (f16): MLA ${(decode.dc + decode.dr) * 2} B vs MHA ${decode.h * (decode.dn + decode.dr + decode.dv) * 2} B`);
const oDerived = interpret(derived, x, dims).o!;
console.log(
  `  derived vs naive on the small inputs: max |difference| = ${Math.max(...oNaive.data.map((v, i) => Math.abs(v - oDerived.data[i]!))).toExponential(2)}`,
);
