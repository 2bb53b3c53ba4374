// An application that uses kernels generated at build time: it imports only the
// generated modules and the runtime — no DSL, no lowering, no shader generation.
//   npx einattn generate examples/app/kernels.ts --out examples/app/generated
//   npx tsx examples/app/main.ts
import { closeRuntime, getRuntime } from 'einattn/runtime';
import { gqa_64, mha_causal_64, mla_decode, paged_decode, scores } from './generated/index.ts';

const count = (...xs: number[]) => xs.reduce((p, x) => p * x, 1);
const ramp = (n: number, salt: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + salt) * 0.5);
const ms = (k?: number[]) => (k ? `${k.reduce((a, b) => a + b, 0).toFixed(2)} ms` : '');

const runtime = await getRuntime();
try {
  // prefill: causal MHA and GQA over 48 keys
  const p = { b: 1, h: 8, s: 32, t: 48 };
  const q = ramp(count(p.b, p.h, p.s, 64), 1);
  const k = ramp(count(p.b, p.h, p.t, 64), 2);
  const v = ramp(count(p.b, p.h, p.t, 64), 3);
  const a = await mha_causal_64.run(runtime, { q, k, v }, p, { timing: true });
  console.log(`mha_causal_64: o ${a.outputs.o.shape.join('×')}  ${ms(a.kernelMs)}`);
  const g = 2;
  const kg = ramp(count(p.b, g, p.t, 64), 4);
  const vg = ramp(count(p.b, g, p.t, 64), 5);
  const b = await gqa_64.run(runtime, { q, k: kg, v: vg }, { ...p, g }, { timing: true });
  console.log(`gqa_64:        o ${b.outputs.o.shape.join('×')}  ${ms(b.kernelMs)}`);

  // decode: one new token per sequence, caches of capacity 64 holding 40 and 17 tokens
  const d = { b: 2, h: 16, s: 1, t: 64 };
  const m = await mla_decode.run(runtime, {
    q_nope: ramp(count(d.b, d.h, 128), 6), q_rope: ramp(count(d.b, d.h, 64), 7),
    c_kv: ramp(count(d.b, d.t, 512), 8), k_rope: ramp(count(d.b, d.t, 64), 9),
    w_uk: ramp(count(512, d.h, 128), 10), w_uv: ramp(count(512, d.h, 128), 11),
    kv_len: Int32Array.from([40, 17]),
  }, d, { timing: true });
  console.log(`mla_decode:    o ${m.outputs.o.shape.join('×')}  ${ms(m.kernelMs)}`);

  // paged decode: 8 blocks of 16 tokens in the pool, each sequence owns up to 3 of them
  const pg = { b: 2, h: 8, s: 1, g: 2, n: 8, m: 3 };
  const r = await paged_decode.run(runtime, {
    q: ramp(count(pg.b, pg.h, 64), 12),
    k_cache: ramp(count(pg.n, pg.g, 16, 64), 13),
    v_cache: ramp(count(pg.n, pg.g, 16, 64), 14),
    block_table: Int32Array.from([5, 0, 7, 2, 3, 0]),
    kv_len: Int32Array.from([40, 20]),
  }, pg, { timing: true });
  console.log(`paged_decode:  o ${r.outputs.o.shape.join('×')}  ${ms(r.kernelMs)}`);

  const s = await scores.run(runtime, { q, k }, p);
  console.log(`scores:        s ${s.outputs.s.shape.join('×')}, s[0] = ${s.outputs.s.data[0]!.toFixed(4)}`);
} finally {
  await closeRuntime();
}
