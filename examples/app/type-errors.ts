// Type test (checked by `tsc --noEmit` in `npm test`): the generated launchers name
// every input and every dynamic size, so mistakes are compile errors.
import type { Runtime } from 'einattn/runtime';
import { mha_causal_64 } from './generated/index.ts';

declare const runtime: Runtime;
declare const x: Float32Array;
const sizes = { b: 1, h: 8, s: 16, t: 16 };

export async function mistakes(): Promise<void> {
  await mha_causal_64.run(runtime, { q: x, k: x, v: x }, sizes); // correct
  // @ts-expect-error a misspelt input name
  await mha_causal_64.run(runtime, { q: x, key: x, v: x }, sizes);
  // @ts-expect-error a missing input
  await mha_causal_64.run(runtime, { q: x, k: x }, sizes);
  // @ts-expect-error a missing dynamic size
  await mha_causal_64.run(runtime, { q: x, k: x, v: x }, { b: 1, h: 8, s: 16 });
  // @ts-expect-error an f32 input given as i32
  await mha_causal_64.run(runtime, { q: new Int32Array(1), k: x, v: x }, sizes);
}
