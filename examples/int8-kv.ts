// Decoding over an int8 KV cache: each step quantises the new token's K and V rows on the GPU
// (the append step writes them at kv_len) and attends over the int8 cache, dequantised inside
// the attention kernel. The same steps in f32 give the reference; the int8 cache is 3.9× smaller.
// Run: npx tsx examples/int8-kv.ts
import { checkAppendRoom, compile, gqa, kvAppendInt8 } from 'einattn';
import { closeRuntime, getRuntime } from 'einattn/runtime';

const [h, g, d, cap, steps] = [8, 2, 64, 32, 20];
const rt = await getRuntime();
console.log(`adapter: ${rt.kind} ${rt.info.description}`);
try {
  const wave = (n: number, phase: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + phase) + 0.3 * Math.cos(i * 1.91));
  const append = compile(kvAppendInt8('gqa'));
  const attend8 = compile(gqa({ int8: true, causal: true, cache: true }));
  const attend32 = compile(gqa({ causal: true, cache: true }));
  // the int8 cache (capacity `cap`), and the same tokens kept in f32 for comparison
  type Cache = { k_q: Int8Array; k_scale: Float32Array; v_q: Int8Array; v_scale: Float32Array };
  let cache: Cache = {
    k_q: new Int8Array(g * cap * d),
    k_scale: new Float32Array(g * cap),
    v_q: new Int8Array(g * cap * d),
    v_scale: new Float32Array(g * cap),
  };
  const k32 = new Float32Array(g * cap * d);
  const v32 = new Float32Array(g * cap * d);
  let worst = 0;
  for (let len = 0; len < steps; len++) {
    const kNew = wave(g * d, len); // [b=1, g, s=1, d]
    const vNew = wave(g * d, 2 * len + 1);
    checkAppendRoom([len], { s: 1, t: cap });
    const next = (await append.run({ ...cache, k_new: kNew, v_new: vNew, kv_len: [len] }, { b: 1, g, s: 1, t: cap, d, dv: d })).outputs;
    cache = {
      k_q: next.k_q_next!.data as Int8Array,
      k_scale: next.k_scale_next!.data as Float32Array,
      v_q: next.v_q_next!.data as Int8Array,
      v_scale: next.v_scale_next!.data as Float32Array,
    };
    for (let gi = 0; gi < g; gi++) {
      k32.set(kNew.subarray(gi * d, (gi + 1) * d), (gi * cap + len) * d);
      v32.set(vNew.subarray(gi * d, (gi + 1) * d), (gi * cap + len) * d);
    }
    const q = wave(h * d, 3 * len);
    const dims = { b: 1, h, g, s: 1, t: cap, d, dv: d };
    const o8 = (await attend8.run({ q, ...cache, kv_len: [len + 1] }, dims)).outputs.o!.data;
    const o32 = (await attend32.run({ q, k: k32, v: v32, kv_len: [len + 1] }, dims)).outputs.o!.data;
    for (let i = 0; i < o8.length; i++) worst = Math.max(worst, Math.abs(o8[i]! - o32[i]!));
  }
  const bytes8 = cache.k_q.byteLength + cache.v_q.byteLength + cache.k_scale.byteLength + cache.v_scale.byteLength;
  console.log(
    `${steps} decode steps: max |int8 − f32| = ${worst.toExponential(2)}; cache ${bytes8} bytes in int8 vs ${k32.byteLength + v32.byteLength} in f32`,
  );
  console.log(`kernels: append ${append.plan.kernels.length} (${append.plan.kernels.map((k) => k.name).join(', ')}), attention ${attend8.plan.kernels.length}`);
} finally {
  await closeRuntime();
}
