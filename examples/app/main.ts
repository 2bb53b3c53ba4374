// An application that uses kernels generated at build time: it imports only the
// generated modules and the runtime — no DSL, no lowering, no shader generation.
//   npx einattn generate examples/app/kernels.ts --out examples/app/generated
//   npx tsx examples/app/main.ts
import { closeRuntime, getRuntime } from 'einattn/runtime';
import { mha_causal_64, scores } from './generated/index.ts';

const sizes = { b: 1, h: 4, s: 32, t: 48 };
const n = (...xs: number[]) => xs.reduce((p, x) => p * x, 1);
const ramp = (count: number, salt: number) => Float32Array.from({ length: count }, (_, i) => Math.sin(i * 0.37 + salt));

const runtime = await getRuntime();
try {
  const q = ramp(n(sizes.b, sizes.h, sizes.s, 64), 1);
  const k = ramp(n(sizes.b, sizes.h, sizes.t, 64), 2);
  const v = ramp(n(sizes.b, sizes.h, sizes.t, 64), 3);
  const attn = await mha_causal_64.run(runtime, { q, k, v }, sizes, { timing: true });
  console.log(`mha_causal_64: o ${attn.outputs.o.shape.join('×')}, ${attn.kernelMs?.map((ms) => ms.toFixed(2)).join(' + ')} ms`);
  const s = await scores.run(runtime, { q, k }, sizes);
  console.log(`scores: s ${s.outputs.s.shape.join('×')}, s[0] = ${s.outputs.s.data[0]!.toFixed(4)}`);
} finally {
  await closeRuntime();
}
