// An application that uses kernels generated at build time: it imports only the
// generated modules and the runtime — no DSL, no lowering, no shader generation. Its decode
// kernels read KV caches that live on the device (KvCache, PagedKvCache) and run in sessions.
//   npx einattn generate examples/app/kernels.ts --out examples/app/generated
//   npx tsx examples/app/main.ts
import { closeRuntime, getRuntime, KvCache, PagedKvCache, Session, upload } from 'einattn/runtime';
import { gqa_64, mha_causal_64, mla_decode, paged_decode, scores } from './generated/index.ts';

const count = (...xs: number[]) => xs.reduce((p, x) => p * x, 1);
const ramp = (n: number, salt: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + salt) * 0.5);
const ms = (k?: number[]) => (k ? `${k.reduce((a, b) => a + b, 0).toFixed(2)} ms` : '');

const runtime = await getRuntime();
try {
  // prefill: causal MHA and GQA over 48 keys
  const p = { b: 1, h: 8, s: 32, t: 48 };
  const qp = ramp(count(p.b, p.h, p.s, 64), 1);
  const k = ramp(count(p.b, p.h, p.t, 64), 2);
  const v = ramp(count(p.b, p.h, p.t, 64), 3);
  const a = await mha_causal_64.run(runtime, { q: qp, k, v }, p, { timing: true });
  console.log(`mha_causal_64: o ${a.outputs.o.shape.join('×')}  ${ms(a.kernelMs)}`);
  const g = 2;
  const kg = ramp(count(p.b, g, p.t, 64), 4);
  const vg = ramp(count(p.b, g, p.t, 64), 5);
  const b = await gqa_64.run(runtime, { q: qp, k: kg, v: vg }, { ...p, g }, { timing: true });
  console.log(`gqa_64:        o ${b.outputs.o.shape.join('×')}  ${ms(b.kernelMs)}`);

  // decode on device KV caches: the caches live on the GPU, each step appends one token per
  // sequence in place and attends, in one submission; nothing but the final output comes back
  const d = { b: 2, h: 16, s: 1, t: 64 };
  const latent = new KvCache(runtime, { layout: 'mla', dims: { b: 2, t: 64, dc: 512, dr: 64 } });
  await latent.append({ c_kv: ramp(count(2, 39, 512), 8), k_rope: ramp(count(2, 39, 64), 9) }, { counts: [39, 16] });
  const weights = {
    w_uk: upload(runtime, ramp(count(512, d.h, 128), 10), 'dc h dn', { dc: 512, h: d.h, dn: 128 }, 'w_uk'),
    w_uv: upload(runtime, ramp(count(512, d.h, 128), 11), 'dc h dv', { dc: 512, h: d.h, dv: 128 }, 'w_uv'),
  };
  const q_nope = upload(runtime, ramp(count(d.b, d.h, 128), 6), 'b h s dn', { ...d, dn: 128 }, 'q_nope');
  const q_rope = upload(runtime, ramp(count(d.b, d.h, 64), 7), 'b h s dr', { ...d, dr: 64 }, 'q_rope');
  const step = new Session(runtime, { timing: true });
  await latent.append({ c_kv: ramp(count(2, 1, 512), 12), k_rope: ramp(count(2, 1, 64), 13) }, { session: step });
  const m = await mla_decode.dispatch(
    runtime,
    { q_nope, q_rope, ...weights, c_kv: latent.tensors.c_kv!, k_rope: latent.tensors.k_rope!, kv_len: latent.kvLen },
    d,
    { session: step },
  );
  const mt = await step.submit();
  console.log(`mla_decode:    o ${m.tensors.o.shape.join('×')} on the device, kv_len ${Array.from(latent.lengths).join(', ')}, step ${ms(mt.kernelMs)}`);

  // paged decode: 8 blocks of 16 tokens in the pool, each sequence gets up to 3 of them from the allocator
  const pg = { b: 2, h: 8, s: 1, g: 2, n: 8, m: 3 };
  const pool = new PagedKvCache(runtime, { dims: { b: 2, g: 2, n: 8, blk: 16, m: 3, d: 64, dv: 64 } });
  await pool.append({ k: ramp(count(2, 2, 39, 64), 14), v: ramp(count(2, 2, 39, 64), 15) }, { counts: [39, 19] });
  const pstep = new Session(runtime, { timing: true });
  await pool.append({ k: ramp(count(2, 2, 1, 64), 16), v: ramp(count(2, 2, 1, 64), 17) }, { session: pstep });
  const q = upload(runtime, ramp(count(pg.b, pg.h, 64), 12), 'b h s d', { ...pg, d: 64 }, 'q');
  const r = await paged_decode.dispatch(runtime, { q, ...pool.inputs }, pg, { session: pstep });
  const pt = await pstep.submit();
  const o = await r.tensors.o.read();
  console.log(
    `paged_decode:  o ${r.tensors.o.shape.join('×')}, o[0] = ${o[0]!.toFixed(4)}, tables ${Array.from(pool.table).join(' ')}, step ${ms(pt.kernelMs)}`,
  );

  const s = await scores.run(runtime, { q: qp, k }, p);
  console.log(`scores:        s ${s.outputs.s.shape.join('×')}, s[0] = ${s.outputs.s.data[0]!.toFixed(4)}`);
} finally {
  await closeRuntime();
}
