// The masks and score mods of the attention variants, shown as attention patterns:
// with v = the identity (dv = t), the output row of query s is its weight on each key.
// Run: npx tsx examples/masks.ts
import { interpret, mha, type AttentionOptions } from 'einattn';

const [s, t, d] = [8, 8, 4];
const q = new Float32Array(s * d); // equal scores: the pattern alone decides the weights
const k = new Float32Array(t * d);
const v = Float32Array.from({ length: t * t }, (_, i) => (Math.floor(i / t) === i % t ? 1 : 0));
const dims = { b: 1, h: 1, s, t, d, dv: t };

function show(title: string, opts: AttentionOptions, extra: Record<string, ArrayLike<number>> = {}, rows = s) {
  const o = interpret(mha(opts), { q: q.subarray(0, rows * d), k, v, ...extra }, { ...dims, s: rows }).o!;
  console.log(`\n${title}  ${JSON.stringify(opts)}`);
  for (let i = 0; i < rows; i++) {
    const row = Array.from(o.data.slice(i * t, (i + 1) * t));
    console.log(
      `  s=${i}  ${row.map((w) => (w === 0 ? ' .' : w > 0.3 ? ' #' : w > 0.12 ? ' +' : ' -')).join('')}   sum ${row.reduce((a, x) => a + x, 0).toFixed(2)}`,
    );
  }
}

show('causal', { causal: true });
show('sliding window of 3 (causal)', { causal: true, window: 3 });
show('prefix-LM, prefix_len = 3', { prefix: true }, { prefix_len: [3] });
show(
  'document masking: documents [0,3) [3,6) [6,8), causal',
  { causal: true, segments: true },
  { q_seg: [0, 0, 0, 1, 1, 1, 2, 2], kv_seg: [0, 0, 0, 1, 1, 1, 2, 2] },
);
show('Sparse-Transformer strided, stride 3 (causal)', { causal: true, stride: 3 });
show('attention sink logit 1.0 (the row sums drop below 1)', { causal: true, sink: true }, { sinks: [1] });
show('ALiBi slope 0.5: nearer keys weigh more', { causal: true, alibi: true }, { slopes: [0.5] });
show('KV cache of capacity 8 holding 5 tokens; the 2 queries are tokens 3 and 4', { causal: true, cache: true }, { kv_len: [5] }, 2);
// softcap bounds the logits: c * tanh(x / c)
const big = Float32Array.from({ length: s * d }, () => 10);
const ramp = Float32Array.from({ length: t * d }, (_, i) => Math.floor(i / d) / t);
for (const softcap of [0, 2]) {
  const o = interpret(mha({ softcap }), { q: big, k: ramp, v }, dims).o!;
  console.log(`\nsoftcap ${softcap || 'none'}: weights of query 0: ${Array.from(o.data.slice(0, t), (w) => w.toFixed(3)).join(' ')}`);
}
