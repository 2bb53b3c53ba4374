// Decoding with a KV cache on the GPU: the cache has a fixed capacity (the size t) and a
// length kv_len[b] that changes every step without regenerating kernels. One decode step
// equals the last row of the full causal prefill.
// Run: npx tsx examples/kv-cache.ts
import { compile, gqa } from 'einattn';
import { closeRuntime, getRuntime } from 'einattn/runtime';

const [h, g, d, cap] = [4, 2, 8, 16];
const rt = await getRuntime();
console.log(`adapter: ${rt.kind} ${rt.info.description}`);
try {
  const wave = (n: number, phase: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.61 + phase));
  // a sequence of 10 tokens: queries [h n d], keys/values [g n d]
  const n = 10;
  const Q = wave(h * n * d, 0);
  const K = wave(g * n * d, 1);
  const V = wave(g * n * d, 2);

  const prefill = compile(gqa({ causal: true }));
  const full = (await prefill.run({ q: Q, k: K, v: V }, { b: 1, h, g, s: n, t: n, d, dv: d })).outputs.o!.data;

  // the cache: capacity 16 slots per KV head, filled step by step; one compiled plan for every step
  const step = compile(gqa({ causal: true, cache: true }));
  // slots past kv_len get weight exactly 0; they may hold anything finite (0 · NaN would be NaN)
  const kc = new Float32Array(g * cap * d);
  const vc = new Float32Array(g * cap * d);
  let worst = 0;
  for (let len = 1; len <= n; len++) {
    for (let gi = 0; gi < g; gi++) {
      kc.set(K.subarray((gi * n + len - 1) * d, (gi * n + len) * d), (gi * cap + len - 1) * d);
      vc.set(V.subarray((gi * n + len - 1) * d, (gi * n + len) * d), (gi * cap + len - 1) * d);
    }
    const q = Float32Array.from({ length: h * d }, (_, i) => Q[(Math.floor(i / d) * n + len - 1) * d + (i % d)]!);
    const o = (await step.run({ q, k: kc, v: vc, kv_len: [len] }, { b: 1, h, g, s: 1, t: cap, d, dv: d })).outputs.o!.data;
    for (let i = 0; i < h * d; i++) worst = Math.max(worst, Math.abs(o[i]! - full[(Math.floor(i / d) * n + len - 1) * d + (i % d)]!));
    if (len === n) console.log(`step ${len}: o[h=0] = ${Array.from(o.slice(0, d), (x) => x.toFixed(4)).join(' ')}`);
  }
  console.log(`prefill row ${n - 1}: o[h=0] = ${Array.from({ length: d }, (_, i) => full[(n - 1) * d + i]!.toFixed(4)).join(' ')}`);
  console.log(`${n} decode steps vs the prefill rows: max |difference| = ${worst.toExponential(2)} (${step.plan.kernels.length} kernels, compiled once)`);
} finally {
  await closeRuntime();
}
